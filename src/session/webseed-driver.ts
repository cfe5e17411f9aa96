/**
 * Drives a torrent's BEP 19 web seeds: each mirror claims runs of untouched pieces from the picker (it is a
 * peer that has everything), fetches them with one ranged HTTP request per run, and hands the blocks to the
 * PieceWriter like any peer's. Peers and mirrors never fetch the same piece outside endgame. A mirror that
 * fails or lies is dropped with a warning; the download goes on from the others and from peers.
 */
import { EventEmitter } from 'node:events';
import type { Logger } from '../log/index.js';
import type { Metainfo } from '../metainfo/index.js';
import type { BlockRequest, PiecePicker } from '../picker/index.js';
import { parseWebSeedList, WebSeedSource } from '../webseed/index.js';
import type { BlockSource, PieceWriter } from './piece-writer.js';
import { RateMeter } from './rate-meter.js';

/** Ranged requests in flight per mirror: enough to keep a fast server busy while we hash. */
const FETCHES_PER_MIRROR = 3;
/** With nothing left to claim, look again after this long (peers may drop pieces they started). */
const IDLE_RETRY_MS = 500;

class Mirror implements BlockSource {
  readonly label: string;
  running = 0;
  constructor(readonly source: WebSeedSource) {
    this.label = `web seed ${source.url}`;
  }
  /** Whole pieces are fetched in one request; a duplicate block is simply not written. */
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

  constructor(
    meta: Metainfo,
    private readonly picker: PiecePicker<BlockSource>,
    private readonly writer: PieceWriter,
    private readonly logger: Logger,
    now: () => number,
  ) {
    super();
    this.rate = new RateMeter(5, now);
    const { urls, warnings } = parseWebSeedList(meta.webSeeds);
    for (const w of warnings) queueMicrotask(() => this.emit('warning', w));
    for (const url of urls) {
      const source = new WebSeedSource(url, meta);
      source.on('warning', (message: string) => this.emit('warning', message));
      this.mirrors.push(new Mirror(source));
    }
  }

  get count(): number {
    return this.mirrors.length;
  }

  /** Payload bytes received from web seeds. */
  get receivedBytes(): number {
    return this.received;
  }

  start(): void {
    for (const m of this.mirrors) {
      this.picker.peerHasAll(m);
      for (let i = 0; i < FETCHES_PER_MIRROR; i++) void this.run(m);
    }
  }

  /** A piece with data from this source failed its hash check. */
  reportHashFailure(source: BlockSource, piece: number): void {
    if (source instanceof Mirror) source.source.reportHashFailure(piece);
  }

  owns(source: BlockSource): boolean {
    return source instanceof Mirror;
  }

  private async run(m: Mirror): Promise<void> {
    const { signal } = this.abort;
    const dead = () => m.source.state === 'dead';
    while (!signal.aborted && !this.picker.isComplete && !dead()) {
      const wanted = this.claim(m);
      if (wanted.length === 0) {
        await sleep(IDLE_RETRY_MS, signal);
        continue;
      }
      const first = wanted[0].piece;
      const last = wanted[wanted.length - 1].piece;
      try {
        const data = await m.source.fetchPieces(first, last - first + 1, signal);
        this.received += data.length;
        this.rate.add(data.length);
        const base = first * this.picker.pieceLength;
        for (const b of wanted) {
          const offset = b.piece * this.picker.pieceLength + b.begin - base;
          this.writer.acceptBlock(m, b.piece, b.begin, data.subarray(offset, offset + b.length));
        }
      } catch (err) {
        for (const b of wanted) this.picker.cancelRequest(m, b.piece, b.begin);
        if (signal.aborted) return;
        this.logger.debug({ url: m.source.url, err: (err as Error).message }, 'web seed fetch failed');
        if (dead()) {
          this.emit('warning', `giving up on web seed ${m.source.url}: ${(err as Error).message}`);
        }
      }
    }
    if (dead()) this.picker.removePeer(m);
  }

  /**
   * Blocks for one request: a run of untouched pieces when there is one, else the free blocks of a started
   * piece (one a peer dropped), so a download with no peers left still finishes.
   */
  private claim(m: Mirror): BlockRequest[] {
    const perRequest = m.source.piecesPerRequest;
    const runs = this.picker.pickPieces(m, perRequest, perRequest);
    let blocks: BlockRequest[];
    if (runs.length > 0) {
      const run = runs[0];
      // pickPieces may return more than one run; keep the first, give the rest back.
      for (const extra of runs.slice(1)) for (let p = extra.first; p < extra.first + extra.count; p++) this.release(m, p);
      blocks = [];
      for (let p = run.first; p < run.first + run.count; p++) blocks.push(...this.picker.blocksOf(p));
    } else {
      const picked = this.picker.pickBlocks(m, 'all', 64);
      if (picked.length === 0) return [];
      const piece = picked[0].piece;
      blocks = picked.filter((b) => b.piece === piece);
      for (const b of picked) if (b.piece !== piece) this.picker.cancelRequest(m, b.piece, b.begin);
    }
    const servable = blocks.filter((b) => m.source.canServe(b.piece));
    if (servable.length !== blocks.length) {
      for (const b of blocks) this.picker.cancelRequest(m, b.piece, b.begin);
      return [];
    }
    return blocks;
  }

  private release(m: Mirror, piece: number): void {
    for (const b of this.picker.blocksOf(piece)) this.picker.cancelRequest(m, b.piece, b.begin);
  }

  stop(): void {
    this.abort.abort();
    for (const m of this.mirrors) m.source.close();
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => {
      clearTimeout(t);
      resolve();
    }, { once: true });
  });
}
