// The progress bar of `npm run bench`, on stderr: one line per phase, redrawn four times a second
// on a terminal (a plain line at the start and end of each phase otherwise, for logs).
//   [assent 1/4] open 500/s        [##########..........]  5.1/10 s  2511 done, 12 in flight
export interface PhaseBar {
  /** The scheduled part is over; what is left in flight is being waited for. */
  drain(status: () => string): void;
  done(summary: string): void;
}

export class Progress {
  private readonly tty = Boolean(process.stderr.isTTY);
  private timer: NodeJS.Timeout | undefined;
  private line = '';
  /** Where the run is, e.g. `assent 1/4`. */
  context = '';

  /** A timed phase: the bar fills over `seconds`; `status` says how it goes. */
  phase(label: string, seconds: number, status: () => string): PhaseBar {
    const started = Date.now();
    let draining = false;
    const name = `${this.context ? `[${this.context}] ` : ''}${label}`;
    const draw = () => {
      const elapsed = (Date.now() - started) / 1000;
      const frac = draining ? 1 : Math.min(1, elapsed / Math.max(seconds, 0.001));
      const bar = '#'.repeat(Math.round(frac * 20)).padEnd(20, '.');
      this.draw(`${name.padEnd(48)} [${bar}] ${elapsed.toFixed(1).padStart(5)}/${seconds} s  ${status()}`);
    };
    this.start(draw, name);
    return {
      drain: (s) => {
        draining = true;
        status = s;
      },
      done: (summary) => this.finish(`${name.padEnd(48)} done in ${((Date.now() - started) / 1000).toFixed(1)} s: ${summary}`),
    };
  }

  /** An untimed step (starting a system, installing a peer): a counter of seconds. */
  step(label: string): { done(summary: string): void } {
    const started = Date.now();
    const name = `${this.context ? `[${this.context}] ` : ''}${label}`;
    this.start(() => this.draw(`${name.padEnd(48)} ${((Date.now() - started) / 1000).toFixed(0)} s`), name);
    return { done: (summary) => this.finish(`${name.padEnd(48)} ${summary} (${((Date.now() - started) / 1000).toFixed(1)} s)`) };
  }

  /** A line of its own (a system's log), above the bar. */
  log(text: string): void {
    this.erase();
    process.stderr.write(`${text}\n`);
    if (this.tty && this.line) process.stderr.write(this.line);
  }

  private start(draw: () => void, name: string): void {
    this.stopTimer();
    if (this.tty) {
      draw();
      this.timer = setInterval(draw, 250);
    } else process.stderr.write(`${name} ...\n`);
  }

  private finish(text: string): void {
    this.stopTimer();
    this.erase();
    this.line = '';
    process.stderr.write(`${text}\n`);
  }

  private draw(text: string): void {
    const width = process.stderr.columns ?? 120;
    this.line = `\r${text.slice(0, width - 1)}`;
    process.stderr.write(`\r\x1b[2K${this.line.slice(1)}`);
  }

  private erase(): void {
    if (this.tty && this.line) process.stderr.write('\r\x1b[2K');
  }

  private stopTimer(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
