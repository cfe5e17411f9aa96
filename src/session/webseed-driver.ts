/**
 * Drives a torrent's BEP 19 web seeds. Each mirror is a source that has every piece it can serve: a few fetch
 * slots per mirror claim runs of untouched pieces from the picker, fetch each run with one ranged HTTP request
 * per file it touches, and hand the blocks to the PieceWriter like any peer's. Peers and mirrors never fetch
 * the same piece outside endgame.
 *
 * When no untouched piece is left, a mirror helps finish started pieces (ones a peer dropped, a failed fetch
 * released, or, in endgame, ones still requested from a slow source), so a download from web seeds alone
 * always finishes. Claims only ever cover pieces the mirror can serve: a file it lacks (404, 410, 416, wrong
 * size) takes that file's pieces out of its claims and out of its availability.
 *
 * Retries are paced here, not inside WebSeedSource: a failed fetch gives its pieces back at once, and the
 * mirror claims nothing while it backs off (Retry-After), so a busy mirror never sits on pieces others could
 * fetch. A mirror that fails or lies too often is given up on by its WebSeedSource; when none is left, a
 * warning says that only peers can finish the download.
 */
import { EventEmitter } from 'node:events';
import { Bitfield } from '../bitfield/index.js';
import { sharedBuffers } from '../hashing/index.js';
import type { Logger } from '../log/index.js';
import type { Metainfo } from '../metainfo/index.js';
import type { BlockRequest, PiecePicker } from '../picker/index.js';
import type { TokenBucket } from '../ratelimit/index.js';
import { parseWebSeedList, systemClock, WebSeedError, WebSeedSource } from '../webseed/index.js';
import type { BlockSource, PieceWriter } from './piece-writer.js';
import { RateMeter } from './rate-meter.js';

/** Ranged requests in flight per mirror: enough to keep a fast server busy while we hash. */
const FETCHES_PER_MIRROR = 3;
/** With nothing to claim, look again after this long (peers may drop pieces, hashes may fail). */
const IDLE_RETRY_MS = 250;
/**
 * Runs shrink as the download nears its end, so the last pieces are spread over every mirror and slot
 * instead of queueing behind one long request: a run is at most missing / (slots × this).
 */
const RUNS_PER_SLOT_LEFT = 2;

export interface WebSeedDriverOptions {
  /** Web seed bytes must pass this bucket too (the torrent's download limit, shared with its peers). */
  downloadLimit?: TokenBucket;
}

/** Pieces first..first+count-1 fetched in one call, and the blocks of them this slot asked the picker for. */
interface Claim {
  first: number;
  count: number;
  blocks: BlockRequest[];
}

class Mirror implements BlockSource {
  readonly label: string;
  /** Aborted when the mirror is given up on: its fetches still in flight are of no use. */
  readonly retirement = new AbortController();
  /** What the picker was last told this mirror has; rebuilt when a file turns out to be missing. */
  private servable: { unusableFiles: number; pieces: Bitfield | 'all' } = { unusableFiles: 0, pieces: 'all' };

  constructor(
    readonly source: WebSeedSource,
    private readonly picker: PiecePicker<BlockSource>,
  ) {
    this.label = `web seed ${source.url}`;
  }

  get dead(): boolean {
    return this.source.state === 'dead';
  }

  /** The pieces this mirror can serve (kept in step with its availability in the picker). */
  servablePieces(): Bitfield | 'all' {
    const unusableFiles = this.source.unusableFileCount;
    if (unusableFiles !== this.servable.unusableFiles) {
      const pieces = new Bitfield(this.picker.pieceCount);
      for (let piece = 0; piece < pieces.length; piece++) if (this.source.canServe(piece)) pieces.set(piece);
      this.servable = { unusableFiles, pieces };
      this.picker.addPeerBitfield(this, pieces);
    }
    return this.servable.pieces;
  }

  /** A whole run is fetched in one request; a block another source delivered first is simply not written. */
  cancelRequest(_request: BlockRequest): void {}
}

export interface WebSeedDriverEvents {
  warning: [message: string];
}

export class WebSeedDriver extends EventEmitter<WebSeedDriverEvents> {
  private readonly mirrors: Mirror[] = [];
  private readonly abort = new AbortController();
  readonly rate: RateMeter;
  private received = 0;
  /** Mirrors given up on and removed from the picker. */
  private readonly retired = new Set<Mirror>();
  /** Fingerprint of the mirrors' health when coverage was last reported, so each change is reported once. */
  private reportedCoverage = '';
  /** Fetch slots paused until the piece writer catches up with the disk. */
  private backlogWaiters: (() => void)[] = [];

  constructor(
    meta: Metainfo,
    private readonly picker: PiecePicker<BlockSource>,
    private readonly writer: PieceWriter,
    private readonly logger: Logger,
    private readonly now: () => number,
    private readonly options: WebSeedDriverOptions = {},
  ) {
    super();
    this.rate = new RateMeter(5, now);
    const { urls, warnings } = parseWebSeedList(meta.webSeeds);
    for (const w of warnings) queueMicrotask(() => this.emit('warning', w));
    const clock = { now, sleep: systemClock.sleep };
    for (const url of urls) {
      // One attempt per fetch: on failure the driver gives the pieces back and waits out the backoff unclaimed.
      const source = new WebSeedSource(url, meta, { maxAttempts: 1, clock });
      source.on('warning', (message: string) => this.emit('warning', message));
      this.mirrors.push(new Mirror(source, picker));
    }
  }

  /** Web seeds still in use (not given up on). */
  get count(): number {
    return this.mirrors.filter((m) => !m.dead).length;
  }

  /** Payload bytes received from web seeds (whole successful fetches, including blocks another source sent first). */
  get receivedBytes(): number {
    return this.received;
  }

  start(): void {
    for (const m of this.mirrors) {
      this.picker.peerHasAll(m);
      for (let i = 0; i < FETCHES_PER_MIRROR; i++) {
        this.runSlot(m).catch((err: Error) => {
          // A bug, not a network failure (those are WebSeedErrors, handled per fetch): say so, keep the torrent.
          this.logger.error({ url: m.source.url, err: err.message }, 'web seed fetch slot failed');
          this.emit('warning', `stopped using web seed ${m.source.url}: ${err.message}`);
        });
      }
    }
  }

  /** The piece writer's backlog cleared: paused fetch slots go on. */
  backlogCleared(): void {
    const waiters = this.backlogWaiters;
    this.backlogWaiters = [];
    for (const resume of waiters) resume();
  }

  /** A piece with data from this source failed its hash check. */
  reportHashFailure(source: BlockSource, piece: number): void {
    if (!(source instanceof Mirror)) return;
    source.source.reportHashFailure(piece);
    this.retireIfDead(source);
  }

  stop(): void {
    if (this.abort.signal.aborted) return;
    this.abort.abort();
    this.backlogCleared();
    for (const m of this.mirrors) void m.source.close().catch(() => undefined);
  }

  /** One fetch slot: claim, fetch, deliver, until the torrent is complete, the driver stops or the mirror is dead. */
  private async runSlot(m: Mirror): Promise<void> {
    const { signal } = this.abort;
    while (!signal.aborted && !this.picker.isComplete && !m.dead) {
      const backoff = m.source.readyAt - this.now();
      if (backoff > 0) {
        // Backoffs run to minutes; a mirror given up on meanwhile ends the wait.
        await sleep(backoff, AbortSignal.any([signal, m.retirement.signal]));
        continue;
      }
      if (this.writer.backlogged) {
        // Resumed by backlogCleared, or by stop().
        await new Promise<void>((resolve) => this.backlogWaiters.push(resolve));
        continue;
      }
      const claims = this.claim(m);
      if (claims.length === 0) {
        this.reportCoverage();
        await sleep(IDLE_RETRY_MS, signal);
        continue;
      }
      for (let i = 0; i < claims.length; i++) {
        if (await this.fetch(m, claims[i])) continue;
        for (const rest of claims.slice(i + 1)) this.release(m, rest.blocks);
        break;
      }
    }
  }

  /** Fetches one claim and delivers its blocks; on failure gives the claim back. Returns whether it succeeded. */
  private async fetch(m: Mirror, claim: Claim): Promise<boolean> {
    const signal = AbortSignal.any([this.abort.signal, m.retirement.signal]);
    const { pieceLength } = this.picker;
    try {
      const bytes = Math.min(this.picker.totalLength, (claim.first + claim.count) * pieceLength) - claim.first * pieceLength;
      await this.options.downloadLimit?.consume(bytes, signal);
      const data = await m.source.fetchPieces(claim.first, claim.count, signal);
      this.received += data.length;
      this.rate.add(data.length);
      const base = claim.first * pieceLength;
      // Every block of the run, not only the claimed ones: data for a block another source still waits on
      // is as good (the picker cancels that source's request), and blocks already received are refused.
      for (let piece = claim.first; piece < claim.first + claim.count; piece++) {
        for (const b of this.picker.blocksOf(piece)) {
          const offset = piece * pieceLength + b.begin - base;
          this.writer.acceptBlock(m, piece, b.begin, data.subarray(offset, offset + b.length));
        }
      }
      // The writer holds references to the blocks it took; the rest of the buffer can be reused.
      sharedBuffers.release(data);
      return true;
    } catch (err) {
      this.release(m, claim.blocks);
      if (signal.aborted) return false;
      if (!(err instanceof WebSeedError)) throw err;
      // WebSeedSource has already warned, counted the failure, and set the backoff or marked the file or mirror.
      this.logger.debug({ url: m.source.url, first: claim.first, count: claim.count, err: (err as Error).message }, 'web seed fetch failed');
      this.retireIfDead(m);
      return false;
    }
  }

  /**
   * Runs of pieces for one slot to fetch, all servable by this mirror: untouched pieces first (whole runs,
   * one request each), else the free blocks of started pieces, or in endgame blocks others are still
   * fetching, grouped into runs of whole pieces.
   */
  private claim(m: Mirror): Claim[] {
    const maxRun = this.runLength(m);
    const servable = m.servablePieces();
    const canServe = (piece: number) => servable === 'all' || servable.has(piece);
    const claims: Claim[] = [];
    for (const run of this.picker.pickPieces(m, maxRun, maxRun)) {
      // The picker knows nothing of missing files: split the run around pieces this mirror cannot serve and
      // give those back (they stay started, so peers and other mirrors take them first).
      let first = -1;
      for (let piece = run.first; piece <= run.first + run.count; piece++) {
        const inRun = piece < run.first + run.count;
        if (inRun && canServe(piece)) {
          if (first < 0) first = piece;
          continue;
        }
        if (first >= 0) claims.push(this.wholePieces(first, piece - first));
        first = -1;
        if (inRun) this.release(m, this.picker.blocksOf(piece));
      }
    }
    if (claims.length > 0) return claims;

    const blocksPerPiece = Math.ceil(this.picker.pieceLength / this.picker.blockSize);
    const picked = this.picker.pickBlocks(m, servable, maxRun * blocksPerPiece);
    return groupIntoRuns(picked, maxRun);
  }

  private wholePieces(first: number, count: number): Claim {
    const blocks: BlockRequest[] = [];
    for (let piece = first; piece < first + count; piece++) blocks.push(...this.picker.blocksOf(piece));
    return { first, count, blocks };
  }

  /** Pieces per request: the mirror's size target, smaller near the end so the remaining work spreads out. */
  private runLength(m: Mirror): number {
    const slots = Math.max(1, this.count) * FETCHES_PER_MIRROR;
    const share = Math.ceil(this.picker.missingCount / (slots * RUNS_PER_SLOT_LEFT));
    return Math.max(1, Math.min(m.source.piecesPerRequest, share));
  }

  private release(m: Mirror, blocks: BlockRequest[]): void {
    for (const b of blocks) this.picker.cancelRequest(m, b.piece, b.begin);
  }

  /** A mirror given up on leaves the picker at once, and its fetches and waits are cut short. */
  private retireIfDead(m: Mirror): void {
    if (!m.dead || this.retired.has(m)) return;
    this.retired.add(m);
    m.retirement.abort();
    this.picker.removePeer(m);
    this.reportCoverage();
  }

  /**
   * Says once per change in the mirrors' health what they can no longer do: nothing at all (every mirror
   * given up on), or some missing pieces (files no live mirror has). Peers may still finish the download.
   */
  private reportCoverage(): void {
    if (this.abort.signal.aborted || this.picker.isComplete) return;
    const live = this.mirrors.filter((m) => !m.dead);
    const fingerprint = this.mirrors.map((m) => (m.dead ? 'x' : m.source.unusableFileCount)).join(',');
    if (fingerprint === this.reportedCoverage) return;
    this.reportedCoverage = fingerprint;
    if (live.length === 0) {
      this.emit('warning', `no usable web seed left (${this.mirrors.length} given up on); only peers can finish the download`);
      return;
    }
    let unservable = 0;
    for (let piece = 0; piece < this.picker.pieceCount; piece++) {
      if (!this.picker.have(piece) && !live.some((m) => m.source.canServe(piece))) unservable++;
    }
    if (unservable > 0) {
      this.emit('warning', `${unservable} missing pieces are on no web seed (files missing there); only peers can supply them`);
    }
  }
}

/** Picked blocks as runs of whole consecutive pieces, at most `maxRun` pieces each, in piece order. */
function groupIntoRuns(blocks: BlockRequest[], maxRun: number): Claim[] {
  const byPiece = new Map<number, BlockRequest[]>();
  for (const b of blocks) {
    const list = byPiece.get(b.piece);
    if (list) list.push(b);
    else byPiece.set(b.piece, [b]);
  }
  const claims: Claim[] = [];
  for (const piece of [...byPiece.keys()].sort((a, b) => a - b)) {
    const last = claims.at(-1);
    if (last && last.first + last.count === piece && last.count < maxRun) {
      last.count++;
      last.blocks.push(...byPiece.get(piece)!);
    } else {
      claims.push({ first: piece, count: 1, blocks: [...byPiece.get(piece)!] });
    }
  }
  return claims;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const onAbort = () => {
      clearTimeout(timer);
      resolve();
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
