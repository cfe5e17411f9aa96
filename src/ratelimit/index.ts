/**
 * Token-bucket rate limiter for upload/download bandwidth. Tokens are bytes; they accrue at `rate` bytes/s up
 * to `burst`. Waiters are served strictly first come, first served: a request is granted once the bucket
 * holds min(amount, burst) tokens, so a request larger than the burst is possible and leaves the bucket in
 * debt, which later requests wait out — the long-run rate stays exact whatever the request sizes.
 *
 * Buckets nest: a per-torrent bucket with a `parent` (the global limit) only grants bytes both have. The clock
 * and the timer are injectable so the behaviour can be tested without real time passing.
 */

/** Runs `callback` after `delayMs` and returns a function that cancels it. */
export type Scheduler = (callback: () => void, delayMs: number) => () => void;

export interface TokenBucketOptions {
  /** Bytes per second; 0 means unlimited. */
  rate: number;
  /** Most bytes that can be sent at once after idling; defaults to one second's worth and follows setRate. */
  burst?: number;
  /** Another bucket every byte must also pass (e.g. the session-wide limit above a torrent's). */
  parent?: TokenBucket;
  /** Milliseconds on a monotonic clock. */
  now?: () => number;
  schedule?: Scheduler;
}

interface Waiter {
  amount: number;
  granted: () => void;
}

const realTimer: Scheduler = (callback, delayMs) => {
  const timer = setTimeout(callback, delayMs);
  return () => clearTimeout(timer);
};

export class TokenBucket {
  readonly parent: TokenBucket | undefined;
  private rateBytes = 0;
  private burstBytes = 0;
  private burstFollowsRate = true;
  private tokens: number;
  private refilledAt: number;
  private readonly waiters: Waiter[] = [];
  private cancelTimer: (() => void) | undefined;
  private readonly now: () => number;
  private readonly schedule: Scheduler;

  constructor(options: TokenBucketOptions) {
    this.parent = options.parent;
    this.now = options.now ?? (() => performance.now());
    this.schedule = options.schedule ?? realTimer;
    this.configure(options.rate, options.burst);
    this.tokens = this.burstBytes;
    this.refilledAt = this.now();
  }

  get rate(): number {
    return this.rateBytes;
  }

  get burst(): number {
    return this.burstBytes;
  }

  /** This bucket or one of its parents has a limit. */
  get limited(): boolean {
    return this.chain().some((bucket) => bucket.rateBytes > 0);
  }

  /** Changes the limit at runtime; queued waiters are rescheduled at the new rate. */
  setRate(rate: number, burst?: number): void {
    this.refill();
    this.configure(rate, burst);
    this.tokens = Math.min(this.tokens, this.burstBytes);
    this.pump();
  }

  /** Takes `amount` bytes from this bucket and its ancestors if all have them now and nobody queues first. */
  take(amount: number): boolean {
    checkAmount(amount);
    const chain = this.chain();
    if (!chain.every((bucket) => bucket.canTakeNow(amount))) return false;
    for (const bucket of chain) if (bucket.rateBytes > 0) bucket.tokens -= amount;
    return true;
  }

  /**
   * Commits to sending `amount` bytes, queued behind earlier waiters, and returns how many milliseconds the
   * caller must wait before sending them (0 when it may send now). Assumes the rate stays as it is.
   */
  reserve(amount: number): number {
    checkAmount(amount);
    return Math.max(...this.chain().map((bucket) => bucket.reserveHere(amount)));
  }

  /** Resolves when `amount` bytes may be sent; rejects with the signal's reason if aborted first. */
  async consume(amount: number, signal?: AbortSignal): Promise<void> {
    checkAmount(amount);
    signal?.throwIfAborted();
    const chain = this.chain();
    const outcomes = await Promise.allSettled(chain.map((bucket) => bucket.acquire(amount, signal)));
    const failure = outcomes.find((outcome): outcome is PromiseRejectedResult => outcome.status === 'rejected');
    if (!failure) return;
    outcomes.forEach((outcome, i) => {
      if (outcome.status === 'fulfilled') chain[i].refund(amount);
    });
    throw failure.reason;
  }

  private chain(): TokenBucket[] {
    const chain: TokenBucket[] = [];
    for (let bucket: TokenBucket | undefined = this; bucket; bucket = bucket.parent) chain.push(bucket);
    return chain;
  }

  private configure(rate: number, burst: number | undefined): void {
    if (!Number.isFinite(rate) || rate < 0) throw new RangeError(`rate ${rate} bytes/s must be 0 (unlimited) or positive`);
    if (burst !== undefined && !(Number.isFinite(burst) && burst > 0)) throw new RangeError(`burst ${burst} bytes must be positive`);
    this.rateBytes = rate;
    if (burst !== undefined) this.burstFollowsRate = false;
    if (burst !== undefined || this.burstFollowsRate) this.burstBytes = burst ?? rate;
  }

  private refill(): void {
    const now = this.now();
    if (now <= this.refilledAt) return;
    this.tokens = this.rateBytes === 0 ? this.burstBytes : Math.min(this.burstBytes, this.tokens + ((now - this.refilledAt) * this.rateBytes) / 1000);
    this.refilledAt = now;
  }

  private canTakeNow(amount: number): boolean {
    this.refill();
    return this.rateBytes === 0 || (this.waiters.length === 0 && this.tokens >= amount);
  }

  private reserveHere(amount: number): number {
    if (this.rateBytes === 0) return 0;
    this.refill();
    this.waiters.push({ amount, granted: () => {} });
    // Replay the queue at the current rate to find when this reservation reaches the front and is covered.
    let tokens = this.tokens;
    let waitMs = 0;
    for (const waiter of this.waiters) {
      const needed = Math.min(waiter.amount, this.burstBytes);
      if (tokens < needed) {
        waitMs += ((needed - tokens) * 1000) / this.rateBytes;
        tokens = needed;
      }
      tokens -= waiter.amount;
    }
    this.pump();
    return Math.ceil(waitMs);
  }

  private acquire(amount: number, signal: AbortSignal | undefined): Promise<void> {
    if (this.rateBytes === 0 && this.waiters.length === 0) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const onAbort = () => {
        const at = this.waiters.indexOf(waiter);
        if (at >= 0) this.waiters.splice(at, 1);
        this.pump();
        reject(signal!.reason);
      };
      const waiter: Waiter = {
        amount,
        granted: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiters.push(waiter);
      this.pump();
    });
  }

  /** Gives back bytes that were granted but not used (the consume was aborted while a parent was pending). */
  private refund(amount: number): void {
    if (this.rateBytes === 0) return;
    this.refill();
    this.tokens = Math.min(this.burstBytes, this.tokens + amount);
    this.pump();
  }

  /** Grants queued waiters in order while tokens last, then sets a timer for when the next one is covered. */
  private pump(): void {
    this.cancelTimer?.();
    this.cancelTimer = undefined;
    this.refill();
    while (this.waiters.length > 0) {
      const head = this.waiters[0];
      if (this.rateBytes > 0) {
        if (this.tokens < Math.min(head.amount, this.burstBytes)) break;
        this.tokens -= head.amount;
      }
      this.waiters.shift();
      head.granted();
    }
    if (this.waiters.length === 0) return;
    const missing = Math.min(this.waiters[0].amount, this.burstBytes) - this.tokens;
    const delayMs = Math.max(1, Math.ceil((missing * 1000) / this.rateBytes));
    this.cancelTimer = this.schedule(() => {
      this.cancelTimer = undefined;
      this.pump();
    }, delayMs);
  }
}

function checkAmount(amount: number): void {
  if (!Number.isFinite(amount) || amount < 0) throw new RangeError(`byte amount ${amount} must be a non-negative number`);
}
