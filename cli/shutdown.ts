// How the `assent start` process stops. The first SIGTERM or SIGINT starts a graceful stop within
// ASSENT_SHUTDOWN_GRACE (actors/shutdown.ts has the stages): the HTTP server takes no new
// connections, a request arriving on one already open answers 503 (HUB_UNAVAILABLE, `Connection:
// close`: the client retries, and reaches another process), and the requests under way may finish
// until the time for finishing runs out, when each still waiting answers 503 instead. A second
// signal exits at once, non-zero, saying which stages had not finished.
import { whenAborted, type StageReport, type StagedStop } from '../actors/shutdown.ts';
import type { Log } from '../actors/log.ts';
import { Problem, problemResponse } from '../api/problems.ts';

/** The HTTP entry, counting the requests under way and turning new ones away once closed. */
export class RequestGate<Rest extends unknown[]> {
  /** Each request under way, with what answers it 503 instead. */
  private readonly inFlight = new Map<Promise<Response>, () => void>();
  private closed = false;
  private finished = 0;

  constructor(private readonly inner: (request: Request, ...rest: Rest) => Response | Promise<Response>) {}

  readonly fetch = (request: Request, ...rest: Rest): Response | Promise<Response> => {
    if (this.closed) return stopping(request);
    let cut = () => {};
    const answer = Promise.race([
      Promise.resolve().then(() => this.inner(request, ...rest)),
      new Promise<Response>((resolve) => (cut = () => resolve(stopping(request)))),
    ]);
    this.inFlight.set(answer, cut);
    // The response, not its body: an event stream's body runs until the connection closes.
    void answer.then(() => {
      if (this.inFlight.delete(answer) && this.closed) this.finished++;
    }, () => this.inFlight.delete(answer));
    return answer;
  };

  /** From now on every request answers 503. */
  close(): void {
    this.closed = true;
  }

  /** Waits for the requests under way; once `deadline` aborts, those still waiting answer 503. */
  async drain(deadline: AbortSignal): Promise<StageReport> {
    await Promise.race([Promise.allSettled([...this.inFlight.keys()]), whenAborted(deadline)]);
    const released = [...this.inFlight.values()].map((cut) => {
      cut();
      return 'an HTTP request (answered 503)';
    });
    return { said: `in-flight requests done (${this.finished})${released.length ? `, answered 503 (${released.length})` : ''}`, released };
  }
}

function stopping(request: Request): Response {
  const res = problemResponse(new URL(request.url).pathname, new Problem('HUB_UNAVAILABLE', 'this hub process is stopping; try again (another process answers)'));
  res.headers.set('connection', 'close');
  res.headers.set('retry-after', '1');
  return res;
}

/** Answers the first SIGTERM or SIGINT; from then on, the next one exits the process at once. */
export function firstStopSignal(log: Log, stages: () => StagedStop | undefined): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const first = (signal: NodeJS.Signals) => {
      process.off('SIGINT', first);
      process.off('SIGTERM', first);
      process.once('SIGINT', second);
      process.once('SIGTERM', second);
      resolve(signal);
    };
    const second = (signal: NodeJS.Signals) => {
      const stop = stages();
      const code = signal === 'SIGINT' ? 130 : 143;
      log('error', `stopping: ${signal} again: exiting now, without finishing the graceful stop`, {
        code, ms: stop ? Math.round(stop.elapsedMs()) : 0, released: stop?.released.length ?? 0,
      });
      process.exit(code);
    };
    process.on('SIGINT', first);
    process.on('SIGTERM', first);
  });
}
