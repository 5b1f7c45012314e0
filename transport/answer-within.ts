// A probe with a deadline: readiness asks each dependency at once and must answer promptly
// whichever is down (a paused server never answers; a timeout is the answer).

/** `answer`, or false when it takes longer than `ms` or fails. */
export async function answerWithin(answer: Promise<boolean>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<false>((resolve) => (timer = setTimeout(resolve, ms, false)));
  try {
    return await Promise.race([answer.catch(() => false), late]);
  } finally {
    clearTimeout(timer);
  }
}
