/**
 * Bytes per second over a sliding window of one-second buckets. Cheap to update per block; the clock is
 * injectable so the choker's and the progress line's inputs can be tested without sleeping.
 */
export class RateMeter {
  private readonly buckets: Float64Array;
  private head = 0;
  private headSecond: number;
  total = 0;

  constructor(
    private readonly windowSeconds = 5,
    private readonly now: () => number = Date.now,
  ) {
    this.buckets = new Float64Array(windowSeconds);
    this.headSecond = Math.floor(now() / 1000);
  }

  add(bytes: number): void {
    this.advance();
    this.buckets[this.head] += bytes;
    this.total += bytes;
  }

  /** Average rate over the window, in bytes per second. */
  get rate(): number {
    this.advance();
    let sum = 0;
    for (const b of this.buckets) sum += b;
    // The current second is partial: count the elapsed fraction of it.
    const partial = (this.now() % 1000) / 1000;
    return sum / (this.windowSeconds - 1 + Math.max(partial, 0.001));
  }

  private advance(): void {
    const second = Math.floor(this.now() / 1000);
    const steps = Math.min(second - this.headSecond, this.windowSeconds);
    for (let i = 0; i < steps; i++) {
      this.head = (this.head + 1) % this.windowSeconds;
      this.buckets[this.head] = 0;
    }
    if (second > this.headSecond) this.headSecond = second;
  }
}
