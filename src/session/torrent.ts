/**
 * One torrent's lifecycle: check what is already on disk (trusting resume data where it still matches), then
 * download from peers and web seeds until every piece is verified, then seed until stopped. Owns the
 * storage, picker, piece writer, swarm, trackers and web seeds, and is the library's `Torrent` handle.
 */
import { EventEmitter } from 'node:events';
import type { Logger } from '../log/index.js';
import { pieceLengthAt, type Metainfo } from '../metainfo/index.js';
import { PiecePicker } from '../picker/index.js';
import { TokenBucket } from '../ratelimit/index.js';
import { restoreState, saveResume, TorrentStorage } from '../storage/index.js';
import { TrackerAnnouncer } from '../tracker/announcer.js';
import type { PeerAddress } from './peer-pool.js';
import { PieceWriter, type BlockSource } from './piece-writer.js';
import { Swarm, type SwarmOptions } from './swarm.js';
import { WebSeedDriver } from './webseed-driver.js';

export interface TorrentOptions {
  /** The folder that holds (or will hold) the torrent's files. */
  path: string;
  /** Peers to connect to besides those the trackers return (`--peer`). */
  peers?: PeerAddress[];
  /** Announce to the torrent's trackers (default true). */
  trackers?: boolean;
  /** Download from the torrent's BEP 19 web seeds (default true). */
  webSeeds?: boolean;
  /** Bytes per second for this torrent; 0 or absent is unlimited. */
  downloadLimit?: number;
  uploadLimit?: number;
  /** Most peer connections for this torrent (default from the client). */
  maxPeers?: number;
}

/** Where a torrent is in its life; exactly one at a time. */
export type TorrentState =
  | { status: 'checking'; checkedPieces: number; totalPieces: number }
  | { status: 'downloading' }
  | { status: 'seeding' }
  | { status: 'stopped' }
  | { status: 'error'; error: Error };

export interface TorrentStats {
  state: TorrentState['status'];
  /** Verified fraction, 0..1. */
  progress: number;
  verifiedBytes: number;
  totalBytes: number;
  piecesVerified: number;
  pieceCount: number;
  /** Payload bytes received this run, from peers and from web seeds. */
  downloadedFromPeers: number;
  downloadedFromWebSeeds: number;
  uploaded: number;
  /** Bytes per second over the last few seconds. */
  downloadRate: number;
  webSeedRate: number;
  uploadRate: number;
  peers: number;
  seeds: number;
  webSeeds: number;
  /** Seconds to completion at the current rate; undefined when unknown. */
  etaSeconds: number | undefined;
}

export interface TorrentEvents {
  state: [state: TorrentState];
  /** A piece was verified and is on disk. */
  piece: [index: number];
  /** Every piece is verified and the files are complete. */
  done: [];
  /** Something recoverable went wrong (a tracker, a peer, a web seed). */
  warning: [message: string];
  error: [error: Error];
}

/** What the Client lends each torrent. */
export interface TorrentContext {
  peerId: Uint8Array;
  /** Port peers can reach us on, for announces. */
  port: number;
  stateDir: string;
  logger: Logger;
  globalDownloadLimit: TokenBucket;
  globalUploadLimit: TokenBucket;
  swarm: Omit<SwarmOptions, 'now'>;
  trackerTimeoutMs?: number;
  now: () => number;
}

export class TorrentStoppedError extends Error {
  override name = 'TorrentStoppedError';
}

const RESUME_SAVE_INTERVAL_MS = 5_000;

export class Torrent extends EventEmitter<TorrentEvents> {
  readonly infoHash: string;
  readonly name: string;
  readonly path: string;
  /** Resolves when every piece is verified; rejects if the torrent fails or is stopped first. */
  readonly done: Promise<void>;
  private resolveDone!: () => void;
  private rejectDone!: (err: Error) => void;
  private current: TorrentState = { status: 'checking', checkedPieces: 0, totalPieces: 0 };
  private readonly storage: TorrentStorage;
  private picker: PiecePicker<BlockSource> | undefined;
  private swarm: Swarm | undefined;
  private webSeeds: WebSeedDriver | undefined;
  private announcer: TrackerAnnouncer | undefined;
  private writer: PieceWriter | undefined;
  private readonly checkAbort = new AbortController();
  private readonly downloadLimit: TokenBucket;
  private readonly uploadLimit: TokenBucket;
  private resumeTimer: NodeJS.Timeout | undefined;
  private resumeDirty = false;
  private verifiedBytes = 0;
  private started: Promise<void> | undefined;

  constructor(
    readonly meta: Metainfo,
    private readonly options: TorrentOptions,
    private readonly ctx: TorrentContext,
  ) {
    super();
    this.infoHash = meta.infoHashHex;
    this.name = meta.name;
    this.path = options.path;
    this.done = new Promise<void>((resolve, reject) => {
      this.resolveDone = resolve;
      this.rejectDone = reject;
    });
    // Callers that only listen to events must not crash on an unobserved rejection.
    this.done.catch(() => undefined);
    this.storage = new TorrentStorage(meta, options.path);
    this.downloadLimit = new TokenBucket({ rate: options.downloadLimit ?? 0, parent: ctx.globalDownloadLimit });
    this.uploadLimit = new TokenBucket({ rate: options.uploadLimit ?? 0, parent: ctx.globalUploadLimit });
  }

  get state(): TorrentState {
    return this.current;
  }

  private setState(state: TorrentState): void {
    this.current = state;
    this.emit('state', state);
  }

  /** Checks existing data, then joins the swarm. Called once by the Client. */
  start(): Promise<void> {
    this.started ??= this.run().catch((err: Error) => this.fail(err));
    return this.started;
  }

  private async run(): Promise<void> {
    const { meta, ctx } = this;
    this.setState({ status: 'checking', checkedPieces: 0, totalPieces: meta.pieceCount });
    const have = await restoreState(
      this.storage,
      ctx.stateDir,
      (checked, total) => {
        this.current = { status: 'checking', checkedPieces: checked, totalPieces: total };
      },
      this.checkAbort.signal,
    );
    if (this.isStopped) return;
    for (const piece of have.indices()) this.verifiedBytes += pieceLengthAt(this.meta, piece);
    const picker = new PiecePicker<BlockSource>({
      pieceCount: meta.pieceCount,
      pieceLength: meta.pieceLength,
      totalLength: meta.totalLength,
      have,
    });
    this.picker = picker;
    const writer = new PieceWriter(picker, this.storage, {
      verified: (piece) => this.onVerified(piece),
      failed: (piece, contributors) => this.onFailed(piece, contributors),
      liars: (sources) => this.swarm?.banLiars(sources),
      fatal: (err) => this.fail(err),
      backlogCleared: () => {
        this.swarm?.refillAll();
        this.webSeeds?.backlogCleared();
      },
    });
    this.writer = writer;
    const swarm = new Swarm(
      {
        meta,
        peerId: ctx.peerId,
        picker,
        writer,
        storage: this.storage,
        logger: ctx.logger,
        uploadLimit: this.uploadLimit,
        downloadLimit: this.downloadLimit,
      },
      { ...ctx.swarm, maxPeers: this.options.maxPeers ?? ctx.swarm.maxPeers, now: ctx.now },
    );
    this.swarm = swarm;
    swarm.on('warning', (m) => this.warn(m));
    swarm.on('peers-low', () => this.announcer?.announceNow());

    if (picker.isComplete) await this.finish();
    else this.setState({ status: 'downloading' });
    if (this.isStopped) return;

    swarm.start();
    if (this.options.peers?.length) swarm.addAddresses(this.options.peers, 'user');
    if (this.options.trackers !== false && meta.announceTiers.length > 0) this.startTrackers(swarm);
    if (this.options.webSeeds !== false && !picker.isComplete && meta.webSeeds.length > 0) {
      this.webSeeds = new WebSeedDriver(meta, picker, writer, ctx.logger, ctx.now, { downloadLimit: this.downloadLimit });
      this.webSeeds.on('warning', (m) => this.warn(m));
      this.webSeeds.start();
    }
    this.resumeTimer = setInterval(() => void this.saveResumeIfDirty(), RESUME_SAVE_INTERVAL_MS);
    this.resumeTimer.unref();
  }

  private startTrackers(swarm: Swarm): void {
    const { meta, ctx } = this;
    this.announcer = new TrackerAnnouncer({
      tiers: meta.announceTiers,
      infoHash: meta.infoHash,
      peerId: ctx.peerId,
      port: ctx.port,
      stats: () => ({
        uploaded: swarm.uploadedBytes,
        downloaded: this.downloadedTotal(),
        left: this.meta.totalLength - this.verifiedBytes,
      }),
      onPeers: (peers, url) => {
        ctx.logger.debug({ url, count: peers.length }, 'tracker returned peers');
        swarm.addAddresses(peers, url);
      },
      onWarning: (url, problem) => {
        const text = problem instanceof Error ? problem.message : problem;
        // Request errors already start with the URL; say it once.
        this.warn(text.startsWith(url) ? `tracker ${text}` : `tracker ${url}: ${text}`);
      },
      ...(ctx.trackerTimeoutMs ? { announceTimeoutMs: ctx.trackerTimeoutMs, stopTimeoutMs: Math.min(ctx.trackerTimeoutMs, 3000) } : {}),
    });
    this.announcer.start();
  }

  private downloadedTotal(): number {
    return (this.webSeeds?.receivedBytes ?? 0) + (this.swarm?.downloadedBytes ?? 0);
  }

  private onVerified(piece: number): void {
    this.verifiedBytes += pieceLengthAt(this.meta, piece);
    this.resumeDirty = true;
    this.swarm?.pieceVerified(piece);
    this.emit('piece', piece);
    if (this.picker?.isComplete) void this.finish().catch((err: Error) => this.fail(err));
  }

  private onFailed(piece: number, contributors: BlockSource[]): void {
    this.ctx.logger.warn({ piece, sources: contributors.map((c) => c.label) }, 'piece failed its hash check; fetching it again');
    for (const c of contributors) this.webSeeds?.reportHashFailure(c, piece);
    this.swarm?.pieceFailed(piece, contributors);
  }

  private async finish(): Promise<void> {
    if (this.current.status === 'seeding') return;
    await this.writer?.drain();
    await this.storage.finalize();
    await this.saveResume();
    if (this.isStopped) return;
    this.webSeeds?.stop();
    this.announcer?.completed();
    this.setState({ status: 'seeding' });
    this.emit('done');
    this.resolveDone();
  }

  private get isStopped(): boolean {
    return this.current.status === 'stopped' || this.current.status === 'error';
  }

  private warn(message: string): void {
    this.ctx.logger.warn(message);
    this.emit('warning', message);
  }

  private fail(err: Error): void {
    if (this.isStopped) return;
    this.ctx.logger.error({ err: err.message }, 'torrent failed');
    void this.shutdown({ status: 'error', error: err });
    // `done` carries the error; the event is for listeners that want it (an unheard 'error' would throw).
    if (this.listenerCount('error') > 0) this.emit('error', err);
    this.rejectDone(err);
  }

  private async saveResumeIfDirty(): Promise<void> {
    if (this.resumeDirty) await this.saveResume();
  }

  private async saveResume(): Promise<void> {
    if (!this.picker) return;
    this.resumeDirty = false;
    try {
      await saveResume(this.ctx.stateDir, this.meta, this.options.path, this.picker.haveBitfield());
    } catch (err) {
      this.warn(`cannot save resume data: ${(err as Error).message}`);
    }
  }

  stats(): TorrentStats {
    const swarm = this.swarm;
    const downloadRate = (swarm?.downloadRate ?? 0) + (this.webSeeds?.rate.rate ?? 0);
    const remaining = this.meta.totalLength - this.verifiedBytes;
    const state = this.current;
    const progress =
      state.status === 'checking'
        ? 0
        : this.meta.totalLength === 0
          ? 1
          : this.verifiedBytes / this.meta.totalLength;
    return {
      state: state.status,
      progress,
      verifiedBytes: this.verifiedBytes,
      totalBytes: this.meta.totalLength,
      piecesVerified: this.picker ? this.meta.pieceCount - this.picker.missingCount : 0,
      pieceCount: this.meta.pieceCount,
      downloadedFromPeers: swarm?.downloadedBytes ?? 0,
      downloadedFromWebSeeds: this.webSeeds?.receivedBytes ?? 0,
      uploaded: swarm?.uploadedBytes ?? 0,
      downloadRate,
      webSeedRate: this.webSeeds?.rate.rate ?? 0,
      uploadRate: swarm?.uploadRate ?? 0,
      peers: swarm?.peers.size ?? 0,
      seeds: swarm?.seedCount ?? 0,
      webSeeds: this.webSeeds?.count ?? 0,
      etaSeconds: remaining === 0 ? 0 : downloadRate > 0 ? remaining / downloadRate : undefined,
    };
  }

  /** @internal The Client hands over incoming connections for this torrent. */
  get swarmForIncoming(): Swarm | undefined {
    return this.isStopped ? undefined : this.swarm;
  }

  /** Stops everything, keeps what is verified (resume data saved), and tells the trackers we left. */
  async destroy(): Promise<void> {
    if (this.isStopped) return;
    await this.shutdown({ status: 'stopped' });
    this.rejectDone(new TorrentStoppedError(`${this.name} was stopped before it finished`));
  }

  private async shutdown(final: TorrentState): Promise<void> {
    this.setState(final);
    this.checkAbort.abort();
    clearInterval(this.resumeTimer);
    this.swarm?.stop();
    this.webSeeds?.stop();
    await this.writer?.drain();
    await this.saveResume();
    await this.storage.close();
    await this.announcer?.stop();
  }
}
