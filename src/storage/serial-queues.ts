/** Operations queued by key: those with the same key run one after another, those of different keys at once. */
export class SerialQueues<K> {
  /** Per key, the tail of its queue: settles (never rejects) when the last operation queued has settled. */
  private readonly tails = new Map<K, Promise<void>>();

  /** Runs `op` once every operation queued before it under `key` has settled; its result is `op`'s. */
  run<T>(key: K, op: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    const result = previous.then(op);
    const tail = result.then(
      () => undefined,
      () => undefined,
    );
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return result;
  }
}
