/**
 * Group commit: callers submit items one at a time and each waits until its own
 * item is durably written, but the writes are made in batches: while one batch's
 * transaction runs, new items queue up, and they are written together, in order,
 * as soon as it ends. One caller alone waits for one transaction, as before; a
 * hundred concurrent callers share a few transactions instead of queueing for a
 * hundred (for gate decisions, each also locks the audit chain's head).
 *
 * A batch that fails is retried item by item, so one item that cannot be written
 * fails only its own caller.
 */
export class GroupCommitter<T> {
  private queue: { item: T; resolve: () => void; reject: (e: unknown) => void }[] = [];
  private running = false;

  constructor(
    private readonly write: (items: T[]) => Promise<void>,
    private readonly maxBatch = 200,
  ) {}

  /** Resolves once `item` is written (or rejects with the error that prevented it). */
  submit(item: T): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      if (!this.running) void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.running = true;
    try {
      while (this.queue.length) {
        const batch = this.queue.splice(0, this.maxBatch);
        try {
          await this.write(batch.map(b => b.item));
          batch.forEach(b => b.resolve());
        } catch (e) {
          if (batch.length === 1) {
            batch[0].reject(e);
            continue;
          }
          for (const b of batch) {
            try {
              await this.write([b.item]);
              b.resolve();
            } catch (single) {
              b.reject(single);
            }
          }
        }
      }
    } finally {
      this.running = false;
    }
  }
}
