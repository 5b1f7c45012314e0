// Group commit: writes that arrive while earlier statements are in flight go together in the next
// statement, so one commit (one fsync) serves many deliveries. At low load nothing waits: a write
// starts at once while fewer than `maxInFlight` statements run; batches form only under load, as
// large as what queued meanwhile (up to `maxBatch`).
export class WriteBatcher<T, R> {
  private readonly queue: Array<{ item: T; resolve: (r: R) => void; reject: (e: unknown) => void }> = [];
  private inFlight = 0;

  /** `write` answers one result per item, in order; throwing fails every item of the batch. */
  constructor(private readonly write: (items: T[]) => Promise<R[]>, private readonly opts: { maxInFlight: number; maxBatch: number }) {}

  submit(item: T): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      this.pump();
    });
  }

  private pump(): void {
    while (this.inFlight < this.opts.maxInFlight && this.queue.length > 0) {
      const batch = this.queue.splice(0, this.opts.maxBatch);
      this.inFlight++;
      this.write(batch.map((b) => b.item))
        .then(
          (results) => batch.forEach((b, i) => b.resolve(results[i]!)),
          (e: unknown) => batch.forEach((b) => b.reject(e)),
        )
        .finally(() => {
          this.inFlight--;
          this.pump();
        });
    }
  }
}
