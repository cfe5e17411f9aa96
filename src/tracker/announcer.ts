/**
 * Keeps a torrent announced to its trackers (BEP 12 tiers).
 *
 * Each tier is shuffled once, then tried in order; the first tracker that answers moves to the front of its
 * tier and is used until it fails. BEP 12 stops at the first tier that works; like libtorrent's default
 * (announce_to_all_tiers) and most clients we announce to every tier, each on its own schedule, so one dead
 * tier never hides the peers another one knows. A failing tier is a warning and retries with exponential
 * backoff; nothing here is ever fatal to the torrent.
 */
import { randomInt } from 'node:crypto';
import { createTracker as createTrackerClient } from './create.js';
import { TrackerRequestError } from './errors.js';
import type { AnnounceEvent, AnnounceParams, AnnounceResult, PeerAddress, Tracker } from './types.js';

export interface AnnounceStats {
  uploaded: number;
  downloaded: number;
  left: number;
}

/** The timer functions the announcer uses; tests pass a manual clock. */
export interface AnnouncerTimers {
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export interface TrackerAnnouncerOptions {
  /** BEP 12 `announce-list`; a plain `announce` is one tier of one URL. */
  tiers: string[][];
  infoHash: Uint8Array;
  peerId: Uint8Array;
  /** Port we accept peer connections on. */
  port: number;
  /** Transfer totals at the moment of each announce. */
  stats: () => AnnounceStats;
  onPeers?: (peers: PeerAddress[], source: string) => void;
  /** A tracker failed, sent a `warning message`, or its URL is unusable. */
  onWarning?: (url: string, problem: string | Error) => void;
  onAnnounce?: (url: string, result: AnnounceResult) => void;
  /** Peers asked for per announce (default 50). */
  numwant?: number;
  /** Builds the client for a URL (default: createTracker). */
  createTracker?: (url: string) => Tracker;
  /** Deadline of one announce (default 60 s). */
  announceTimeoutMs?: number;
  /** Deadline of the best-effort `stopped` announce (default 5 s). */
  stopTimeoutMs?: number;
  /** First retry delay after a whole tier failed, doubled per further failure (default 15 s). */
  retryInitialMs?: number;
  /** Longest retry delay (default 30 min). */
  retryMaxMs?: number;
  /** Floor for any interval a tracker asks for, and the min interval when it names none (default 60 s). */
  minimumIntervalMs?: number;
  timers?: AnnouncerTimers;
  /** Milliseconds clock (default Date.now). */
  now?: () => number;
  /** [0, 1) source for the BEP 12 shuffle (default Math.random). */
  random?: () => number;
}

interface TierTracker {
  url: string;
  tracker: Tracker;
  /** This tracker accepted our `started`: it gets `completed` and `stopped`. */
  started: boolean;
}

interface Tier {
  trackers: TierTracker[];
  timer: unknown;
  /** When the scheduled timer fires. */
  nextAt: number | undefined;
  inFlight: AbortController | undefined;
  /** Consecutive rounds in which every tracker of the tier failed. */
  failures: number;
  lastAnnounceAt: number | undefined;
  minIntervalMs: number;
  /** The download finished and no tracker of this tier has been told yet. */
  completedPending: boolean;
}

/** Longest wait we honour: setTimeout cannot wait past 2^31-1 ms, and a tracker asking for more is broken. */
const MAX_WAIT_MS = 24 * 60 * 60_000;

const realTimers: AnnouncerTimers = {
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

export class TrackerAnnouncer {
  private readonly tiers: Tier[] = [];
  private readonly unusable: { url: string; error: Error }[] = [];
  private readonly key = randomInt(0x1_0000_0000);
  private readonly timers: AnnouncerTimers;
  private readonly now: () => number;
  private readonly numwant: number;
  private readonly announceTimeoutMs: number;
  private readonly stopTimeoutMs: number;
  private readonly retryInitialMs: number;
  private readonly retryMaxMs: number;
  private readonly minimumIntervalMs: number;
  private started = false;
  private stopped = false;

  constructor(private readonly options: TrackerAnnouncerOptions) {
    this.timers = options.timers ?? realTimers;
    this.now = options.now ?? Date.now;
    this.numwant = options.numwant ?? 50;
    this.announceTimeoutMs = options.announceTimeoutMs ?? 60_000;
    this.stopTimeoutMs = options.stopTimeoutMs ?? 5_000;
    this.retryInitialMs = options.retryInitialMs ?? 15_000;
    this.retryMaxMs = options.retryMaxMs ?? 30 * 60_000;
    this.minimumIntervalMs = options.minimumIntervalMs ?? 60_000;
    const create = options.createTracker ?? ((url: string) => createTrackerClient(url));
    const random = options.random ?? Math.random;
    const seen = new Set<string>();
    for (const urls of options.tiers) {
      const trackers: TierTracker[] = [];
      for (const url of urls) {
        if (seen.has(url)) continue; // the same URL in two tiers would be announced twice
        seen.add(url);
        try {
          trackers.push({ url, tracker: create(url), started: false });
        } catch (err) {
          this.unusable.push({ url, error: err as Error });
        }
      }
      if (trackers.length === 0) continue;
      // BEP 12: shuffle each tier once, when the torrent is loaded.
      for (let i = trackers.length - 1; i > 0; i--) {
        const j = Math.floor(random() * (i + 1));
        [trackers[i], trackers[j]] = [trackers[j], trackers[i]];
      }
      this.tiers.push({
        trackers,
        timer: undefined,
        nextAt: undefined,
        inFlight: undefined,
        failures: 0,
        lastAnnounceAt: undefined,
        minIntervalMs: this.minimumIntervalMs,
        completedPending: false,
      });
    }
  }

  /** Tracker URLs per tier in their current order (working trackers first). */
  get tierUrls(): string[][] {
    return this.tiers.map((t) => t.trackers.map((e) => e.url));
  }

  /** Sends `started` to every tier and keeps re-announcing at the trackers' intervals. */
  start(): void {
    if (this.started || this.stopped) return;
    this.started = true;
    for (const { url, error } of this.unusable) this.options.onWarning?.(url, error);
    for (const tier of this.tiers) this.run(tier);
  }

  /**
   * Asks every tier for peers now (e.g. when we run low), except tiers that are retrying after failures or
   * whose tracker's `min interval` has not passed yet: those are moved up to the earliest allowed moment.
   */
  announceNow(): void {
    if (!this.started || this.stopped) return;
    const now = this.now();
    for (const tier of this.tiers) {
      if (tier.inFlight || tier.failures > 0) continue;
      const earliest = (tier.lastAnnounceAt ?? -Infinity) + tier.minIntervalMs;
      if (now >= earliest) this.run(tier);
      else if (tier.nextAt === undefined || earliest < tier.nextAt) this.schedule(tier, earliest - now);
    }
  }

  /** The download finished: tells every tier `completed` right away (events are not held back by min interval). */
  completed(): void {
    for (const tier of this.tiers) {
      tier.completedPending = true;
      if (this.started && !this.stopped && !tier.inFlight && tier.failures === 0) this.run(tier);
    }
  }

  /** Stops all timers and announces, then sends a best-effort `stopped` to every tracker that knows us. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    const goodbyes: Promise<void>[] = [];
    for (const tier of this.tiers) {
      this.clearTimer(tier);
      tier.inFlight?.abort();
      for (const entry of tier.trackers) {
        if (!entry.started) continue;
        entry.started = false;
        goodbyes.push(
          entry.tracker.announce(this.params('stopped'), AbortSignal.timeout(this.stopTimeoutMs)).then(
            () => undefined,
            (err: Error) => this.options.onWarning?.(entry.url, err),
          ),
        );
      }
    }
    await Promise.all(goodbyes);
  }

  private params(event: AnnounceEvent | undefined): AnnounceParams {
    const { uploaded, downloaded, left } = this.options.stats();
    const params: AnnounceParams = {
      infoHash: this.options.infoHash,
      peerId: this.options.peerId,
      port: this.options.port,
      uploaded,
      downloaded,
      left,
      numwant: event === 'stopped' ? 0 : this.numwant,
      key: this.key,
    };
    if (event !== undefined) params.event = event;
    return params;
  }

  private clearTimer(tier: Tier): void {
    if (tier.timer !== undefined) this.timers.clearTimeout(tier.timer);
    tier.timer = undefined;
    tier.nextAt = undefined;
  }

  private schedule(tier: Tier, delayMs: number): void {
    this.clearTimer(tier);
    tier.nextAt = this.now() + delayMs;
    tier.timer = this.timers.setTimeout(() => {
      tier.timer = undefined;
      tier.nextAt = undefined;
      this.run(tier);
    }, delayMs);
  }

  private run(tier: Tier): void {
    if (this.stopped || tier.inFlight) return;
    this.clearTimer(tier);
    void this.announceTier(tier);
  }

  /** One round: the tier's trackers in order until one answers, then the next round is scheduled. */
  private async announceTier(tier: Tier): Promise<void> {
    const controller = new AbortController();
    tier.inFlight = controller;
    try {
      for (const entry of [...tier.trackers]) {
        const event = !entry.started ? 'started' : tier.completedPending ? 'completed' : undefined;
        const params = this.params(event);
        const deadline = AbortSignal.timeout(this.announceTimeoutMs);
        let result: AnnounceResult;
        try {
          result = await entry.tracker.announce(params, AbortSignal.any([controller.signal, deadline]));
        } catch (err) {
          if (controller.signal.aborted) return;
          this.options.onWarning?.(
            entry.url,
            deadline.aborted
              ? new TrackerRequestError(`${entry.url}: no answer within ${this.announceTimeoutMs} ms`, { cause: err })
              : (err as Error),
          );
          continue;
        }
        if (controller.signal.aborted) return;
        this.succeeded(tier, entry, params, result);
        return;
      }
      tier.failures++;
      this.schedule(tier, Math.min(this.retryInitialMs * 2 ** (tier.failures - 1), this.retryMaxMs));
    } finally {
      if (tier.inFlight === controller) tier.inFlight = undefined;
    }
  }

  private succeeded(tier: Tier, entry: TierTracker, params: AnnounceParams, result: AnnounceResult): void {
    entry.started = true;
    // `started` with nothing left tells the tracker as much as `completed` would (BEP 3 sends no completed then).
    if (params.event === 'completed' || (params.event === 'started' && params.left === 0)) {
      tier.completedPending = false;
    }
    // BEP 12: a tracker that answers moves to the front of its tier.
    tier.trackers.splice(tier.trackers.indexOf(entry), 1);
    tier.trackers.unshift(entry);
    tier.failures = 0;
    tier.lastAnnounceAt = this.now();
    tier.minIntervalMs = Math.min(Math.max((result.minInterval ?? 0) * 1000, this.minimumIntervalMs), MAX_WAIT_MS);
    const intervalMs = Math.min(Math.max(result.interval * 1000, tier.minIntervalMs), MAX_WAIT_MS);
    this.options.onAnnounce?.(entry.url, result);
    if (result.warning !== undefined) this.options.onWarning?.(entry.url, result.warning);
    if (result.peers.length > 0) this.options.onPeers?.(result.peers, entry.url);
    // completed() during this round: tell the tracker now rather than an interval later.
    this.schedule(tier, tier.completedPending ? 0 : intervalMs);
  }
}
