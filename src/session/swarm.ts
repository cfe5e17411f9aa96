/**
 * The peers of one torrent: dialling and accepting connections, keeping requests in flight (pipelined to
 * each peer's rate, rarest first via the picker), choking (BEP 3), serving blocks we have, and banning
 * peers that send bad data. Block data goes to the PieceWriter; the swarm never touches files except to
 * read blocks it serves.
 */
import { EventEmitter } from 'node:events';
import { Bitfield } from '../bitfield/index.js';
import { sharedBuffers } from '../hashing/index.js';
import { Choker } from '../choker/index.js';
import type { Logger } from '../log/index.js';
import type { Metainfo } from '../metainfo/index.js';
import { PeerConnection, type PeerConnectionError } from '../peer/index.js';
import type { PiecePicker } from '../picker/index.js';
import type { TokenBucket } from '../ratelimit/index.js';
import { PieceReadCache, type TorrentStorage } from '../storage/index.js';
import {
  EXTENSION_HANDSHAKE_ID,
  decodeExtensionHandshake,
  encodeExtensionHandshake,
  type WireMessage,
} from '../wire/index.js';
import { PeerPool, type PeerAddress } from './peer-pool.js';
import { PeerSession } from './peer-session.js';
import { RateMeter } from './rate-meter.js';
import type { BlockSource, PieceWriter } from './piece-writer.js';

export interface SwarmOptions {
  /** Most connections for this torrent. */
  maxPeers: number;
  /** Dials in progress at once. */
  maxHalfOpen: number;
  connectTimeoutMs: number;
  handshakeTimeoutMs: number;
  /** A peer with requests out and no block for this long is snubbed; its requests go back to the pool. */
  requestTimeoutMs: number;
  /** Largest request we serve; larger ones close the connection (16 KiB is standard, some send 128 KiB). */
  maxServedRequest: number;
  /** Requests a peer may have queued with us; more are dropped. Told to peers as BEP 10 `reqq`. */
  maxQueuedRequests: number;
  /** Strikes (pieces that failed with its data) before a peer is banned. */
  maxStrikes: number;
  uploadSlots: number;
  /** Our name and version, told to peers (BEP 10 `v`). */
  clientName: string;
  now: () => number;
}

export interface SwarmDeps {
  meta: Metainfo;
  peerId: Uint8Array;
  picker: PiecePicker<BlockSource>;
  writer: PieceWriter;
  storage: TorrentStorage;
  logger: Logger;
  /** Bytes we send must pass this (per-torrent bucket, with the global one as parent). */
  uploadLimit: TokenBucket;
  downloadLimit: TokenBucket;
}

export interface SwarmEvents {
  /** Fewer peers than useful and nobody left to dial: ask the trackers again. */
  'peers-low': [];
  warning: [message: string];
}

const UNSOLICITED_LIMIT = 256;
/** Pieces kept in memory for serving (see PieceReadCache). */
const READ_CACHE_BYTES = 16 * 1024 * 1024;
/** Block reads under way per peer: behind a piece read from disk, enough blocks queue to keep the socket busy. */
const READS_IN_FLIGHT_PER_PEER = 64;
/**
 * Blocks queued in a peer's socket before serving waits for 'drain'. Well above the socket's 16 KiB
 * high-water mark, so blocks leave in batches (one writev) rather than one per event-loop turn.
 */
const SEND_QUEUE_BYTES = 512 * 1024;

export class Swarm extends EventEmitter<SwarmEvents> {
  readonly peers = new Set<PeerSession>();
  readonly pool: PeerPool;
  private readonly choker: Choker<PeerSession>;
  private readonly readCache: PieceReadCache;
  private readonly bannedPeerIds = new Set<string>();
  private dialing = 0;
  private timer: NodeJS.Timeout | undefined;
  private rechokeQueued = false;
  private stopped = false;
  private uploaded = 0;
  private downloaded = 0;
  /** Rates of the whole swarm, including peers that have since left. */
  private readonly downloadMeter: RateMeter;
  private readonly uploadMeter: RateMeter;

  constructor(
    private readonly deps: SwarmDeps,
    private readonly options: SwarmOptions,
  ) {
    super();
    this.pool = new PeerPool(options.now);
    this.downloadMeter = new RateMeter(5, options.now);
    this.uploadMeter = new RateMeter(5, options.now);
    this.choker = new Choker<PeerSession>({ uploadSlots: options.uploadSlots, now: options.now });
    this.readCache = new PieceReadCache(deps.storage, (piece) => deps.picker.pieceSize(piece), READ_CACHE_BYTES);
  }

  get uploadedBytes(): number {
    return this.uploaded;
  }

  /** Payload bytes received from peers, including late and duplicate blocks. */
  get downloadedBytes(): number {
    return this.downloaded;
  }

  private get complete(): boolean {
    return this.deps.picker.isComplete;
  }

  start(): void {
    this.timer = setInterval(() => this.tick(), 1000);
    this.timer.unref();
    this.dial();
  }

  addAddresses(addresses: PeerAddress[], source: string): void {
    if (this.pool.add(addresses, source) > 0) this.dial();
  }

  /** An incoming connection that handshook for this torrent. */
  addIncoming(conn: PeerConnection): void {
    if (this.stopped || this.peers.size >= this.options.maxPeers || this.bannedPeerIds.has(hex(conn.remotePeerId))) {
      conn.destroy('peer limit reached or peer banned');
      return;
    }
    this.attach(conn, { host: conn.remoteAddress, port: conn.remotePort }, true);
  }

  private dial(): void {
    if (this.stopped) return;
    const room = Math.min(this.options.maxPeers - this.peers.size - this.dialing, this.options.maxHalfOpen - this.dialing);
    if (room <= 0) return;
    for (const address of this.pool.take(room)) {
      this.dialing++;
      PeerConnection.connect({
        host: address.host,
        port: address.port,
        infoHash: this.deps.meta.infoHash,
        peerId: this.deps.peerId,
        connectTimeoutMs: this.options.connectTimeoutMs,
        handshakeTimeoutMs: this.options.handshakeTimeoutMs,
        pieceCount: this.deps.meta.pieceCount,
      }).then(
        (conn) => {
          this.dialing--;
          if (this.stopped || this.bannedPeerIds.has(hex(conn.remotePeerId)) || this.isConnectedTo(conn.remotePeerId)) {
            conn.destroy('not needed');
            this.pool.release(address, false);
          } else {
            this.attach(conn, address, false);
          }
          this.dial();
        },
        (err: PeerConnectionError) => {
          this.dialing--;
          this.deps.logger.debug({ peer: `${address.host}:${address.port}`, err: err.message }, 'connect failed');
          this.pool.release(address, true);
          this.dial();
        },
      );
    }
  }

  private isConnectedTo(peerId: Uint8Array): boolean {
    for (const p of this.peers) if (Buffer.from(p.conn.remotePeerId).equals(peerId)) return true;
    return false;
  }

  private attach(conn: PeerConnection, address: PeerAddress, incoming: boolean): void {
    const { meta, picker } = this.deps;
    const peer = new PeerSession(conn, address, incoming, meta.pieceCount, picker.blockSize, this.options.now);
    if (incoming) this.pool.markConnected(address);
    this.peers.add(peer);
    this.choker.addPeer(peer);
    conn.setPieceCount(meta.pieceCount);
    conn.on('message', (m) => this.onMessage(peer, m));
    conn.on('drain', () => this.serve(peer));
    conn.on('close', (err) => this.onClose(peer, err));
    conn.start();
    const have = picker.haveBitfield();
    // BEP 3: the bitfield is optional; a peer with nothing sends none.
    if (have.count > 0) conn.bitfield(have.bytes);
    // BEP 10: we set the extension bit, so when the peer did too, our extension handshake follows.
    if (conn.supportsExtensions) {
      const handshake = { extensions: new Map(), requestQueueLimit: this.options.maxQueuedRequests, client: this.options.clientName };
      conn.extended(EXTENSION_HANDSHAKE_ID, encodeExtensionHandshake(handshake));
    }
    this.deps.logger.debug({ peer: peer.label, incoming }, 'peer connected');
  }

  private onClose(peer: PeerSession, err: PeerConnectionError | undefined): void {
    if (!this.peers.delete(peer)) return;
    this.deps.picker.removePeer(peer);
    peer.serveQueue = [];
    if (this.choker.removePeer(peer)) this.rechokeSoon();
    if (!this.pool.isBannedAddress(peer.address)) this.pool.release(peer.address, !peer.useful);
    this.deps.logger.debug({ peer: peer.label, reason: err?.message }, 'peer disconnected');
    this.refillAll();
    this.dial();
  }

  private onMessage(peer: PeerSession, m: WireMessage): void {
    const { picker } = this.deps;
    switch (m.type) {
      case 'bitfield': {
        // A later BITFIELD (aria2 sends one in place of several HAVEs) adds to what the peer announced.
        const has = new Bitfield(this.deps.meta.pieceCount, m.bytes);
        if (peer.announcedPieces) for (const piece of peer.has.indices()) has.set(piece);
        peer.has = has;
        peer.announcedPieces = true;
        picker.addPeerBitfield(peer, peer.has);
        this.updateInterest(peer);
        this.fill(peer);
        break;
      }
      case 'have':
        if (!peer.has.has(m.index)) {
          peer.has.set(m.index);
          if (peer.announcedPieces) picker.peerHave(peer, m.index);
          else {
            peer.announcedPieces = true;
            picker.addPeerBitfield(peer, peer.has);
          }
        }
        if (!peer.conn.amInterested) {
          this.updateInterest(peer);
          this.fill(peer);
        }
        break;
      case 'choke':
        // BEP 3: a choke discards every request we had out to this peer.
        picker.cancelAllRequests(peer);
        this.refillAll();
        break;
      case 'unchoke':
        peer.lastProgressAt = this.options.now();
        this.fill(peer);
        break;
      case 'interested':
      case 'notInterested':
        this.choker.setPeerInterested(peer, m.type === 'interested');
        this.rechokeSoon();
        break;
      case 'piece':
        this.onBlock(peer, m.index, m.begin, m.block);
        break;
      case 'request':
        this.onRequest(peer, m.index, m.begin, m.length);
        break;
      case 'cancel':
        peer.serveQueue = peer.serveQueue.filter((r) => !(r.piece === m.index && r.begin === m.begin && r.length === m.length));
        break;
      case 'extended':
        // A malformed handshake throws a WireProtocolError, which closes the connection as a protocol error.
        if (m.id === EXTENSION_HANDSHAKE_ID) peer.requestQueueLimit = decodeExtensionHandshake(m.payload).requestQueueLimit;
        break;
      default:
        // keep-alive, port (DHT): nothing to do yet.
        break;
    }
  }

  private updateInterest(peer: PeerSession): void {
    const interesting = !this.complete && this.deps.picker.interestingTo(peer.has);
    if (interesting && !peer.conn.amInterested) {
      peer.conn.interested();
      this.choker.setAmInterested(peer, true);
    } else if (!interesting && peer.conn.amInterested) {
      peer.conn.notInterested();
      this.choker.setAmInterested(peer, false);
    }
  }

  private onBlock(peer: PeerSession, piece: number, begin: number, block: Uint8Array): void {
    const { picker, writer } = this.deps;
    const expected = piece < picker.pieceCount && begin % picker.blockSize === 0 ? Math.min(picker.blockSize, picker.pieceSize(piece) - begin) : -1;
    // A request stays outstanding until the writer hands its block to the picker.
    if (picker.isRequestedFrom(peer, piece, begin)) {
      if (block.length !== expected) {
        peer.conn.destroy(`sent a block of ${block.length} bytes for a request of ${expected}`);
        return;
      }
    } else if (block.length !== expected || ++peer.unsolicited > UNSOLICITED_LIMIT) {
      // Late answers to cancelled requests are normal; a stream of blocks nobody asked for is not.
      peer.conn.destroy('sent data that was not requested');
      return;
    }
    peer.download.add(block.length);
    this.downloaded += block.length;
    this.downloadMeter.add(block.length);
    peer.lastProgressAt = this.options.now();
    peer.snubbed = false;
    this.choker.pieceReceived(peer);
    if (writer.acceptBlock(peer, piece, begin, block)) peer.useful = true;
    // Checked here, not in fillSoon: V8 allocates the context of fillSoon's closure whenever fillSoon runs.
    if (!peer.fillQueued) this.fillSoon(peer);
  }

  /**
   * Refills once the messages that arrived together have been handled: one socket write carries the
   * requests for many received blocks.
   */
  private fillSoon(peer: PeerSession): void {
    peer.fillQueued = true;
    setImmediate(() => {
      peer.fillQueued = false;
      this.fill(peer);
    });
  }

  /** Keeps the peer's request pipeline full. */
  fill(peer: PeerSession): void {
    const { conn } = peer;
    const { picker } = this.deps;
    if (this.stopped || conn.closed || conn.peerChoking || !conn.amInterested || this.complete) return;
    if (this.deps.writer.backlogged) return;
    // Under a limit the pipeline follows the limited rate, adapted each second; deepening it in between
    // would let requests, and so the data, come in bursts.
    if (!this.deps.downloadLimit.limited) peer.deepenQueue();
    const outstanding = picker.outstandingCount(peer);
    const want = peer.queueDepth - outstanding;
    // Top up in batches (an eighth of the pipeline): picking and sending a few blocks at a time costs more
    // than it saves.
    if (want < Math.ceil(peer.queueDepth / 8)) return;
    const blocks = picker.pickBlocks(peer, peer.has, want);
    if (blocks.length === 0) {
      if (outstanding === 0) this.updateInterest(peer);
      return;
    }
    if (outstanding === 0) peer.lastProgressAt = this.options.now();
    // The download limit is enforced on what we ask for: peers send only what was requested. The torrent's
    // bucket may be unlimited while the client-wide parent is not, so always ask the whole chain.
    const waitMs = this.deps.downloadLimit.reserve(blocks.reduce((n, b) => n + b.length, 0));
    if (waitMs === 0) {
      conn.requestMany(blocks);
      return;
    }
    // Meanwhile a choke or a timeout may withdraw requests, or another peer deliver their blocks.
    const sendStillWanted = () => {
      if (!conn.closed) conn.requestMany(blocks.filter((b) => picker.isRequestedFrom(peer, b.piece, b.begin)));
    };
    setTimeout(sendStillWanted, waitMs).unref();
  }

  /** Tops up every peer's requests (after anything that may have made room for more). */
  refillAll(): void {
    for (const p of this.peers) this.fill(p);
  }

  // ── serving ──────────────────────────────────────────────────────────────────────────────────────────────

  private onRequest(peer: PeerSession, piece: number, begin: number, length: number): void {
    const { picker } = this.deps;
    // BEP 3: requests from a peer we choke are dropped.
    if (peer.conn.amChoking) return;
    if (length <= 0 || length > this.options.maxServedRequest) {
      peer.conn.destroy(`requested ${length} bytes, more than the ${this.options.maxServedRequest} we serve`);
      return;
    }
    if (piece >= picker.pieceCount || begin + length > picker.pieceSize(piece)) {
      peer.conn.destroy(`requested bytes outside piece ${piece}`);
      return;
    }
    if (!picker.have(piece)) {
      peer.conn.destroy(`requested piece ${piece}, which we do not have`);
      return;
    }
    if (peer.serveQueue.length >= this.options.maxQueuedRequests) return;
    peer.serveQueue.push({ piece, begin, length });
    this.serve(peer);
  }

  /** Reads queued requests from disk and sends them, a few at a time, while the socket keeps up. */
  private serve(peer: PeerSession): void {
    while (
      peer.serveQueue.length > 0 &&
      peer.readsInFlight < READS_IN_FLIGHT_PER_PEER &&
      peer.conn.bufferedAmount < SEND_QUEUE_BYTES &&
      !peer.conn.closed
    ) {
      const r = peer.serveQueue.shift()!;
      peer.readsInFlight++;
      // An unlimited (or not yet exhausted) bucket answers at once, without a timer.
      const allowed = this.deps.uploadLimit.take(r.length) ? Promise.resolve() : this.deps.uploadLimit.consume(r.length);
      allowed
        .then(() => this.readCache.readBlock(r.piece, r.begin, r.length))
        .then(
          (block) => {
            peer.readsInFlight--;
            const sent = () => sharedBuffers.release(block);
            if (peer.conn.closed || peer.conn.amChoking) return sent();
            peer.conn.sendPiece(r.piece, r.begin, block, sent);
            peer.upload.add(block.length);
            this.uploaded += block.length;
            this.uploadMeter.add(block.length);
            this.serve(peer);
          },
          (err: Error) => {
            peer.readsInFlight--;
            this.deps.logger.warn({ err: err.message, piece: r.piece }, 'cannot read a block to serve');
            peer.conn.destroy(`cannot serve piece ${r.piece}: ${err.message}`);
          },
        );
    }
  }

  private rechokeSoon(): void {
    if (this.rechokeQueued) return;
    this.rechokeQueued = true;
    setImmediate(() => {
      this.rechokeQueued = false;
      if (!this.stopped) this.applyChokes(this.choker.rechoke(this.complete));
    });
  }

  private applyChokes(decision: { unchoke: PeerSession[]; choke: PeerSession[] }): void {
    for (const p of decision.choke) {
      p.conn.choke();
      // BEP 3: choking discards the peer's queued requests.
      p.serveQueue = [];
    }
    for (const p of decision.unchoke) p.conn.unchoke();
  }

  // ── piece outcomes ───────────────────────────────────────────────────────────────────────────────────────

  /** A piece verified: tell every peer that lacks it (BEP 3 HAVE). */
  pieceVerified(piece: number): void {
    for (const p of this.peers) if (!p.has.has(piece)) p.conn.have(piece);
    if (this.complete) this.onComplete();
  }

  /**
   * A piece failed its hash. When one peer sent all of it, the bad data is certainly its own: a strike, and
   * repeat offenders are banned. When several sources mixed their blocks, striking them all would ban honest
   * peers that happened to share pieces with a liar; the smart ban (PieceWriter) names the liar instead once
   * the piece verifies.
   */
  pieceFailed(piece: number, contributors: BlockSource[]): void {
    if (contributors.length !== 1) {
      this.deps.logger.warn({ piece, sources: contributors.map((c) => c.label) }, 'piece from several sources failed its hash check');
      return;
    }
    for (const source of contributors) {
      if (!(source instanceof PeerSession)) continue;
      source.strikes++;
      this.deps.logger.warn({ peer: source.label, piece, strikes: source.strikes }, 'piece failed its hash check');
      if (source.strikes >= this.options.maxStrikes) this.ban(source, `sent data for ${source.strikes} pieces that failed the hash check`);
    }
  }

  /** Sources proven to have sent bad blocks (see PieceWriter's smart ban). */
  banLiars(sources: BlockSource[]): void {
    for (const s of sources) if (s instanceof PeerSession) this.ban(s, 'sent blocks that did not match the verified piece');
  }

  private ban(peer: PeerSession, why: string): void {
    const peerId = hex(peer.conn.remotePeerId);
    // Pieces it contributed to keep failing (and liars keep being convicted) after the ban: say it once.
    if (this.bannedPeerIds.has(peerId)) return;
    this.bannedPeerIds.add(peerId);
    this.pool.ban(peer.address);
    this.emit('warning', `banned peer ${peer.label}: ${why}`);
    peer.conn.destroy(`banned: ${why}`);
  }

  private onComplete(): void {
    for (const p of [...this.peers]) {
      // Two seeds have nothing to say to each other.
      if (p.isSeed) p.conn.destroy('both sides have everything');
      else this.updateInterest(p);
    }
    this.rechokeSoon();
  }

  // ── housekeeping ─────────────────────────────────────────────────────────────────────────────────────────

  private tick(): void {
    const now = this.options.now();
    for (const p of this.peers) {
      if (this.deps.picker.outstandingCount(p) > 0 && now - p.lastProgressAt > this.options.requestTimeoutMs) {
        // Stalled: its requests go back to the pool for other peers; it may still catch up later.
        p.snubbed = true;
        for (const r of this.deps.picker.cancelAllRequests(p)) p.conn.cancel(r.piece, r.begin, r.length);
        this.deps.logger.debug({ peer: p.label }, 'peer stalled; its requests were returned');
      }
      p.adaptQueueDepth();
      this.choker.setRates(p, { downloadRate: p.download.rate, uploadRate: p.upload.rate });
    }
    this.applyChokes(this.choker.tick(this.complete));
    this.refillAll();
    this.dial();
    if (!this.complete && this.peers.size + this.dialing < Math.min(5, this.options.maxPeers) && this.pool.available === 0) {
      this.emit('peers-low');
    }
  }

  get seedCount(): number {
    let n = 0;
    for (const p of this.peers) if (p.isSeed) n++;
    return n;
  }

  get downloadRate(): number {
    return this.downloadMeter.rate;
  }

  get uploadRate(): number {
    return this.uploadMeter.rate;
  }

  stop(): void {
    this.stopped = true;
    this.readCache.clear();
    clearInterval(this.timer);
    for (const p of [...this.peers]) p.conn.destroy();
  }
}

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
