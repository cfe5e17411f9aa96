/**
 * Piece picker: pure bookkeeping of which blocks to request from which peer (no sockets, no disk). Peers and
 * web seeds are opaque ids. In the spirit of libtorrent's piece_picker.
 *
 * Piece states
 *   have        verified; never picked again (pieceVerified). pieceFailed on a have piece (a failed
 *               re-check) turns it back into untouched.
 *   untouched   missing and no block requested; lives in the rarity buckets, ordered by availability.
 *   downloading has a PieceDownload with one state per block; it leaves the buckets when its first block
 *               is requested and stays downloading even if every request is later cancelled (it is then
 *               picked first, "finish started pieces").
 *   complete    downloading with every block received: blockReceived reported pieceComplete, the caller
 *               hashes it and calls pieceVerified (→ have) or pieceFailed (→ untouched, contributors
 *               returned so the caller can count strikes).
 *
 * Block states (inside a downloading piece)
 *   free ──pick──▶ requested ──blockReceived──▶ received
 *     ▲                │
 *     └─cancel/timeout/removePeer/peer choke (last requester gone)
 *   A requested block has one requester, except in endgame (every missing block is requested or received):
 *   then other peers may request it too, never the same peer twice, and blockReceived lists the other
 *   requesters so the caller can send CANCEL (BEP 3). Data for a free or requested block of a downloading
 *   piece is accepted even if that peer's request was cancelled (late answers to timed-out requests are
 *   still good data); data for a received block, an untouched or have piece, or an unaligned offset is not.
 *
 * Web seeds (BEP 19) are peers that have everything (peerHasAll). pickPieces claims runs of contiguous
 * untouched pieces for one HTTP range request; every block of a claimed piece is requested by the web seed,
 * so peers never duplicate that work outside endgame. A web seed may also use pickBlocks (block-sized ranges)
 * to help finish started pieces once no untouched pieces are left.
 */
import { Bitfield } from '../bitfield/index.js';
import { RarityBuckets } from './rarity.js';

export interface BlockRequest {
  piece: number;
  begin: number;
  length: number;
}

export interface PeerBlockRequest<P> extends BlockRequest {
  peer: P;
}

export interface BlockReceipt<P> {
  /** False when the data is not needed (block already received, piece not being downloaded, bad offset). */
  accepted: boolean;
  /** Every block of the piece is now received: hash it, then call pieceVerified or pieceFailed. */
  pieceComplete: boolean;
  /** Other peers that were asked for this block (endgame); send them CANCEL. */
  duplicateRequestsToCancel: PeerBlockRequest<P>[];
}

/** Pieces first, first+1, … first+count-1, claimed as a whole for one source. */
export interface PieceRun {
  first: number;
  count: number;
}

export interface PiecePickerOptions {
  pieceCount: number;
  pieceLength: number;
  totalLength: number;
  /** 16 KiB is the de-facto request size; larger requests are refused by most clients. */
  blockSize?: number;
  /** Pieces already on disk and verified. */
  have?: Bitfield;
  random?: () => number;
}

export class PickerInvariantError extends Error {
  override name = 'PickerInvariantError';
}

const FREE = 0;
const REQUESTED = 1;
const RECEIVED = 2;

/**
 * Who was asked for each block of a downloading piece. Outside endgame a block has at most one requester, kept
 * in a plain array slot; only endgame duplicates get a list of their own. (A Set per block cost allocations
 * for every block downloaded.)
 */
class BlockRequesters<P> {
  /** The first peer asked for each block; undefined while nobody is. */
  private readonly firsts: (P | undefined)[];
  /** Endgame: the peers asked after the first, by block index. */
  private readonly later = new Map<number, P[]>();

  constructor(blockCount: number) {
    this.firsts = new Array<P | undefined>(blockCount).fill(undefined);
  }

  count(block: number): number {
    if (this.firsts[block] === undefined) return 0;
    return 1 + (this.later.get(block)?.length ?? 0);
  }

  /** The i-th of the block's count(block) requesters, in the order they were asked. */
  get(block: number, i: number): P {
    return i === 0 ? this.firsts[block]! : this.later.get(block)![i - 1];
  }

  has(block: number, peer: P): boolean {
    return this.firsts[block] === peer || (this.later.get(block)?.includes(peer) ?? false);
  }

  add(block: number, peer: P): void {
    if (this.firsts[block] === undefined) {
      this.firsts[block] = peer;
      return;
    }
    const later = this.later.get(block);
    if (later) later.push(peer);
    else this.later.set(block, [peer]);
  }

  delete(block: number, peer: P): void {
    const later = this.later.get(block);
    if (this.firsts[block] === peer) this.firsts[block] = later?.shift();
    else if (later?.includes(peer)) later.splice(later.indexOf(peer), 1);
    if (later?.length === 0) this.later.delete(block);
  }

  clear(block: number): void {
    this.firsts[block] = undefined;
    this.later.delete(block);
  }
}

class PieceDownload<P> {
  readonly state: Uint8Array;
  /** Peers that were asked for each block; there are some exactly when the block is requested. */
  readonly requesters: BlockRequesters<P>;
  freeCount: number;
  receivedCount = 0;
  /** Peers whose data went into this piece, so a hash failure can be blamed on them. */
  readonly contributors = new Set<P>();

  constructor(blockCount: number) {
    this.state = new Uint8Array(blockCount);
    this.requesters = new BlockRequesters<P>(blockCount);
    this.freeCount = blockCount;
  }
}

interface PeerRecord {
  /** What this peer contributes to availability: nothing yet, a bitfield, or everything (seed, web seed). */
  has: Bitfield | 'all' | undefined;
  /** Outstanding requests: piece → how many of its blocks (the piece's requesters say which). */
  outstanding: Map<number, number>;
  /** Outstanding requests over all pieces. */
  requestCount: number;
}

export class PiecePicker<P = unknown> {
  readonly pieceCount: number;
  readonly pieceLength: number;
  readonly totalLength: number;
  readonly blockSize: number;
  private readonly haveField: Bitfield;
  private readonly rarity: RarityBuckets;
  private readonly downloads = new Map<number, PieceDownload<P>>();
  /** Downloading pieces that still have free blocks. */
  private readonly partial = new Set<number>();
  private readonly peers = new Map<P, PeerRecord>();
  private seedCount = 0;
  /** Free blocks over all missing pieces; zero means endgame. */
  private unrequestedBlocks = 0;

  constructor(options: PiecePickerOptions) {
    const { pieceCount, pieceLength, totalLength, blockSize = 16384 } = options;
    if (!Number.isSafeInteger(pieceCount) || pieceCount < 1) throw new RangeError(`piece count ${pieceCount} must be a positive integer`);
    if (!Number.isSafeInteger(pieceLength) || pieceLength < 1) throw new RangeError(`piece length ${pieceLength} must be a positive integer`);
    if (!Number.isSafeInteger(blockSize) || blockSize < 1) throw new RangeError(`block size ${blockSize} must be a positive integer`);
    if (!Number.isSafeInteger(totalLength) || totalLength <= (pieceCount - 1) * pieceLength || totalLength > pieceCount * pieceLength) {
      throw new RangeError(`total length ${totalLength} does not fit ${pieceCount} pieces of ${pieceLength} bytes`);
    }
    this.pieceCount = pieceCount;
    this.pieceLength = pieceLength;
    this.totalLength = totalLength;
    this.blockSize = blockSize;
    if (options.have && options.have.length !== pieceCount) {
      throw new RangeError(`have bitfield covers ${options.have.length} pieces, torrent has ${pieceCount}`);
    }
    this.haveField = options.have ? options.have.clone() : new Bitfield(pieceCount);
    this.rarity = new RarityBuckets(pieceCount, options.random ?? Math.random);
    for (let piece = 0; piece < pieceCount; piece++) {
      if (this.haveField.has(piece)) continue;
      this.rarity.insert(piece);
      this.unrequestedBlocks += this.blockCount(piece);
    }
  }

  // ── queries ────────────────────────────────────────────────────────────────────────────────────────────

  pieceSize(piece: number): number {
    return piece === this.pieceCount - 1 ? this.totalLength - piece * this.pieceLength : this.pieceLength;
  }

  blockCount(piece: number): number {
    return Math.ceil(this.pieceSize(piece) / this.blockSize);
  }

  /** Every block of a piece, in order (e.g. to feed blockReceived with a piece a web seed delivered). */
  blocksOf(piece: number): BlockRequest[] {
    this.checkPiece(piece);
    const blocks: BlockRequest[] = [];
    for (let block = 0; block < this.blockCount(piece); block++) blocks.push(this.blockRequest(piece, block));
    return blocks;
  }

  have(piece: number): boolean {
    return this.haveField.has(piece);
  }

  /** A copy of the verified-pieces bitfield (e.g. for our BITFIELD message). */
  haveBitfield(): Bitfield {
    return this.haveField.clone();
  }

  get missingCount(): number {
    return this.pieceCount - this.haveField.count;
  }

  get isComplete(): boolean {
    return this.haveField.complete;
  }

  /** Every missing block is requested or received, so the remaining free capacity goes to duplicates. */
  get inEndgame(): boolean {
    return this.unrequestedBlocks === 0 && !this.isComplete;
  }

  /** Whether a peer holding `peerHas` has a piece we lack, i.e. whether we should be interested (BEP 3). */
  interestingTo(peerHas: Bitfield | 'all'): boolean {
    if (peerHas === 'all') return !this.isComplete;
    this.checkBitfield(peerHas);
    const theirs = peerHas.bytes;
    const ours = this.haveField.bytes;
    for (let i = 0; i < theirs.length; i++) if ((theirs[i] & ~ours[i]) !== 0) return true;
    return false;
  }

  /** Whether `peer` was asked for the block at `begin` of `piece` and nobody has delivered it since. */
  isRequestedFrom(peer: P, piece: number, begin: number): boolean {
    const block = this.blockIndex(piece, begin);
    return block >= 0 && (this.downloads.get(piece)?.requesters.has(block, peer) ?? false);
  }

  outstandingCount(peer: P): number {
    return this.peers.get(peer)?.requestCount ?? 0;
  }

  outstandingFor(peer: P): BlockRequest[] {
    const requests: BlockRequest[] = [];
    const record = this.peers.get(peer);
    if (!record) return requests;
    for (const piece of record.outstanding.keys()) {
      const { state, requesters } = this.downloads.get(piece)!;
      for (let block = 0; block < state.length; block++) if (requesters.has(block, peer)) requests.push(this.blockRequest(piece, block));
    }
    return requests;
  }

  // ── availability ───────────────────────────────────────────────────────────────────────────────────────

  /** HAVE_ALL (BEP 6), a seed's full bitfield, or a web seed. Counted once, not per piece. */
  peerHasAll(peer: P): void {
    const record = this.record(peer);
    this.forgetAvailability(record);
    record.has = 'all';
    this.seedCount++;
  }

  /** BITFIELD message (BEP 3). Replaces anything this peer announced before. */
  addPeerBitfield(peer: P, bitfield: Bitfield): void {
    this.checkBitfield(bitfield);
    if (bitfield.complete) return this.peerHasAll(peer);
    const record = this.record(peer);
    this.forgetAvailability(record);
    record.has = bitfield.clone();
    for (const piece of record.has.indices()) this.rarity.adjust(piece, 1);
  }

  /** HAVE message (BEP 3). The caller rejects out-of-range indices from the wire; here they throw. */
  peerHave(peer: P, piece: number): void {
    this.checkPiece(piece);
    const record = this.record(peer);
    if (record.has === 'all') return;
    record.has ??= new Bitfield(this.pieceCount);
    if (record.has.has(piece)) return;
    record.has.set(piece);
    this.rarity.adjust(piece, 1);
  }

  /** The peer disconnected: its pieces no longer count and its requests go back to the pool. */
  removePeer(peer: P): void {
    const record = this.peers.get(peer);
    if (!record) return;
    this.cancelAllRequests(peer);
    this.forgetAvailability(record);
    this.peers.delete(peer);
  }

  // ── picking ────────────────────────────────────────────────────────────────────────────────────────────

  /**
   * Up to `count` blocks to request from `peer`: free blocks of pieces this peer already works on, then of
   * other started pieces, then of new pieces rarest first; in endgame, blocks already requested from others.
   */
  pickBlocks(peer: P, peerHas: Bitfield | 'all', count: number): BlockRequest[] {
    const picked: BlockRequest[] = [];
    if (count <= 0 || this.isComplete) return picked;
    if (peerHas !== 'all') this.checkBitfield(peerHas);
    const hasPiece = peerHas === 'all' ? () => true : (piece: number) => peerHas.has(piece);
    const record = this.record(peer);
    for (const piece of record.outstanding.keys()) {
      if (picked.length >= count) break;
      // A later bitfield may have taken the piece away from what this peer says it has.
      if (this.partial.has(piece) && hasPiece(piece)) this.takeFreeBlocks(peer, record, piece, count - picked.length, picked);
    }
    for (const piece of this.partial) {
      if (picked.length >= count) break;
      if (hasPiece(piece)) this.takeFreeBlocks(peer, record, piece, count - picked.length, picked);
    }
    const nextRarest = this.rarity.rarestScan(hasPiece);
    while (picked.length < count) {
      const piece = nextRarest();
      if (piece < 0) break;
      this.startDownload(piece);
      this.takeFreeBlocks(peer, record, piece, count - picked.length, picked);
    }
    if (picked.length < count && this.inEndgame) this.takeDuplicateBlocks(peer, record, hasPiece, count - picked.length, picked);
    return picked;
  }

  /**
   * Claims up to `count` untouched pieces for a source that has everything (a web seed), as runs of at most
   * `maxRun` contiguous pieces so each run is one HTTP range request (BEP 19). Each run grows from a rarest
   * piece, first back to the start of its untouched stretch, then forward.
   */
  pickPieces(source: P, count: number, maxRun = count): PieceRun[] {
    const runs: PieceRun[] = [];
    if (!Number.isInteger(maxRun) || maxRun < 1) throw new RangeError(`maxRun ${maxRun} must be a positive integer`);
    const record = this.record(source);
    let remaining = count;
    while (remaining > 0) {
      const seed = this.rarity.rarest();
      if (seed < 0) break;
      const limit = Math.min(remaining, maxRun);
      let first = seed;
      while (first > 0 && seed - first + 1 < limit && this.rarity.contains(first - 1)) first--;
      let end = first;
      while (end < this.pieceCount && end - first < limit && this.rarity.contains(end)) {
        this.startDownload(end);
        this.takeFreeBlocks(source, record, end, Infinity, []);
        end++;
      }
      runs.push({ first, count: end - first });
      remaining -= end - first;
    }
    return runs;
  }

  // ── request outcomes ───────────────────────────────────────────────────────────────────────────────────

  blockReceived(peer: P, piece: number, begin: number): BlockReceipt<P> {
    const receipt: BlockReceipt<P> = { accepted: false, pieceComplete: false, duplicateRequestsToCancel: [] };
    const block = this.blockIndex(piece, begin);
    const download = block < 0 ? undefined : this.downloads.get(piece);
    if (!download) return receipt;
    if (download.state[block] === RECEIVED) return receipt;
    if (download.state[block] === FREE) {
      download.freeCount--;
      this.unrequestedBlocks--;
      if (download.freeCount === 0) this.partial.delete(piece);
    }
    const requesters = download.requesters;
    for (let i = 0; i < requesters.count(block); i++) {
      const requester = requesters.get(block, i);
      this.forgetOutstanding(requester, piece);
      if (requester !== peer) receipt.duplicateRequestsToCancel.push({ peer: requester, ...this.blockRequest(piece, block) });
    }
    requesters.clear(block);
    download.state[block] = RECEIVED;
    download.receivedCount++;
    download.contributors.add(peer);
    receipt.accepted = true;
    receipt.pieceComplete = download.receivedCount === download.state.length;
    return receipt;
  }

  /**
   * Withdraws one request (we sent CANCEL, or it timed out and the caller gave up on it). The block returns to
   * the pool unless other peers were asked for it too. Returns whether the request was outstanding.
   */
  cancelRequest(peer: P, piece: number, begin: number): boolean {
    if (!this.isRequestedFrom(peer, piece, begin)) return false;
    this.release(peer, piece, this.downloads.get(piece)!, begin / this.blockSize);
    return true;
  }

  /**
   * Withdraws every request of a peer: it choked us (BEP 3: a choke discards pending requests) or a web
   * seed's HTTP request failed. Returns the withdrawn requests.
   */
  cancelAllRequests(peer: P): BlockRequest[] {
    const withdrawn = this.outstandingFor(peer);
    for (const { piece, begin } of withdrawn) this.release(peer, piece, this.downloads.get(piece)!, begin / this.blockSize);
    return withdrawn;
  }

  /** The piece passed its hash check (or was found intact on disk). */
  pieceVerified(piece: number): void {
    this.checkPiece(piece);
    if (this.haveField.has(piece)) return;
    const download = this.downloads.get(piece);
    if (download) {
      this.dropDownload(piece, download);
      this.unrequestedBlocks -= download.freeCount;
    } else {
      this.rarity.remove(piece);
      this.unrequestedBlocks -= this.blockCount(piece);
    }
    this.haveField.set(piece);
  }

  /**
   * The piece failed its hash check: all its blocks go back to the pool. Returns the peers that sent data
   * for it so the caller can count strikes against them. Also used when a piece we had fails a re-check.
   */
  pieceFailed(piece: number): P[] {
    this.checkPiece(piece);
    const download = this.downloads.get(piece);
    if (download) {
      this.dropDownload(piece, download);
      this.unrequestedBlocks += download.state.length - download.freeCount;
      this.rarity.insert(piece);
      return [...download.contributors];
    }
    if (this.haveField.has(piece)) {
      this.haveField.clear(piece);
      this.unrequestedBlocks += this.blockCount(piece);
      this.rarity.insert(piece);
    }
    return [];
  }

  // ── internals ──────────────────────────────────────────────────────────────────────────────────────────

  private record(peer: P): PeerRecord {
    let record = this.peers.get(peer);
    if (!record) {
      record = { has: undefined, outstanding: new Map(), requestCount: 0 };
      this.peers.set(peer, record);
    }
    return record;
  }

  private forgetAvailability(record: PeerRecord): void {
    if (record.has === 'all') this.seedCount--;
    else if (record.has) for (const piece of record.has.indices()) this.rarity.adjust(piece, -1);
    record.has = undefined;
  }

  private startDownload(piece: number): void {
    this.rarity.remove(piece);
    this.downloads.set(piece, new PieceDownload<P>(this.blockCount(piece)));
    this.partial.add(piece);
  }

  /** Removes a downloading piece, withdrawing any request still out for it. */
  private dropDownload(piece: number, download: PieceDownload<P>): void {
    const requesters = download.requesters;
    for (let block = 0; block < download.state.length; block++) {
      for (let i = 0; i < requesters.count(block); i++) this.forgetOutstanding(requesters.get(block, i), piece);
    }
    this.downloads.delete(piece);
    this.partial.delete(piece);
  }

  private takeFreeBlocks(peer: P, record: PeerRecord, piece: number, max: number, out: BlockRequest[]): void {
    const download = this.downloads.get(piece)!;
    for (let block = 0; block < download.state.length && max > 0; block++) {
      if (download.state[block] !== FREE) continue;
      download.state[block] = REQUESTED;
      download.freeCount--;
      this.unrequestedBlocks--;
      this.addRequest(peer, record, piece, download, block);
      out.push(this.blockRequest(piece, block));
      max--;
    }
    if (download.freeCount === 0) this.partial.delete(piece);
  }

  /** Endgame: requested blocks this peer was not asked for yet, least-duplicated first. */
  private takeDuplicateBlocks(peer: P, record: PeerRecord, hasPiece: (piece: number) => boolean, max: number, out: BlockRequest[]): void {
    const byRequesterCount: [number, number][][] = [];
    scan: for (const [piece, download] of this.downloads) {
      if (!hasPiece(piece)) continue;
      const requesters = download.requesters;
      for (let block = 0; block < download.state.length; block++) {
        if (download.state[block] !== REQUESTED || requesters.has(block, peer)) continue;
        (byRequesterCount[requesters.count(block)] ??= []).push([piece, block]);
        if ((byRequesterCount[1]?.length ?? 0) >= max) break scan;
      }
    }
    for (const candidates of byRequesterCount) {
      for (const [piece, block] of candidates ?? []) {
        if (max-- <= 0) return;
        this.addRequest(peer, record, piece, this.downloads.get(piece)!, block);
        out.push(this.blockRequest(piece, block));
      }
    }
  }

  private addRequest(peer: P, record: PeerRecord, piece: number, download: PieceDownload<P>, block: number): void {
    download.requesters.add(block, peer);
    record.outstanding.set(piece, (record.outstanding.get(piece) ?? 0) + 1);
    record.requestCount++;
  }

  private release(peer: P, piece: number, download: PieceDownload<P>, block: number): void {
    download.requesters.delete(block, peer);
    this.forgetOutstanding(peer, piece);
    if (download.requesters.count(block) === 0 && download.state[block] === REQUESTED) {
      download.state[block] = FREE;
      download.freeCount++;
      this.unrequestedBlocks++;
      this.partial.add(piece);
    }
  }

  /** One request of `peer` for a block of `piece` is no longer outstanding. */
  private forgetOutstanding(peer: P, piece: number): void {
    const record = this.peers.get(peer);
    const count = record?.outstanding.get(piece);
    if (record === undefined || count === undefined) return;
    if (count > 1) record.outstanding.set(piece, count - 1);
    else record.outstanding.delete(piece);
    record.requestCount--;
  }

  private blockRequest(piece: number, block: number): BlockRequest {
    const begin = block * this.blockSize;
    return { piece, begin, length: Math.min(this.blockSize, this.pieceSize(piece) - begin) };
  }

  /** Block index for a (piece, begin) pair from the wire, or -1 when it names no block of ours. */
  private blockIndex(piece: number, begin: number): number {
    if (!Number.isInteger(piece) || piece < 0 || piece >= this.pieceCount) return -1;
    if (!Number.isInteger(begin) || begin < 0 || begin % this.blockSize !== 0 || begin >= this.pieceSize(piece)) return -1;
    return begin / this.blockSize;
  }

  private checkPiece(piece: number): void {
    if (!Number.isInteger(piece) || piece < 0 || piece >= this.pieceCount) {
      throw new RangeError(`piece index ${piece} out of range 0..${this.pieceCount - 1}`);
    }
  }

  private checkBitfield(bitfield: Bitfield): void {
    if (bitfield.length !== this.pieceCount) {
      throw new RangeError(`bitfield covers ${bitfield.length} pieces, torrent has ${this.pieceCount}`);
    }
  }

  /** Recomputes every derived count from scratch and throws PickerInvariantError on a mismatch (for tests). */
  checkInvariants(): void {
    const fail = (message: string): never => {
      throw new PickerInvariantError(`piece picker invariant broken: ${message}`);
    };
    const bucketProblem = this.rarity.findInconsistency();
    if (bucketProblem) fail(bucketProblem);
    const availability = new Int32Array(this.pieceCount);
    let seeds = 0;
    for (const record of this.peers.values()) {
      if (record.has === 'all') seeds++;
      else if (record.has) for (const piece of record.has.indices()) availability[piece]++;
    }
    if (seeds !== this.seedCount) fail(`seed count ${this.seedCount}, counted ${seeds}`);
    let unrequested = 0;
    for (let piece = 0; piece < this.pieceCount; piece++) {
      if (availability[piece] !== this.rarity.availability[piece]) fail(`availability of piece ${piece}`);
      const download = this.downloads.get(piece);
      const untouched = this.rarity.contains(piece);
      if (this.haveField.has(piece)) {
        if (download || untouched) fail(`piece ${piece} is had but still downloading or untouched`);
        continue;
      }
      if (Boolean(download) === untouched) fail(`piece ${piece} must be exactly one of untouched or downloading`);
      if (untouched) unrequested += this.blockCount(piece);
      if (download) unrequested += this.checkDownload(piece, download, fail);
    }
    for (const piece of this.partial) if (!this.downloads.has(piece)) fail(`partial piece ${piece} is not downloading`);
    if (unrequested !== this.unrequestedBlocks) fail(`unrequested blocks ${this.unrequestedBlocks}, counted ${unrequested}`);
    for (const [peer, record] of this.peers) {
      let requests = 0;
      for (const [piece, count] of record.outstanding) {
        requests += count;
        const download = this.downloads.get(piece);
        let listed = 0;
        if (download) for (let block = 0; block < download.state.length; block++) if (download.requesters.has(block, peer)) listed++;
        if (count < 1 || count !== listed) fail(`${count} outstanding requests for piece ${piece}, but ${listed} of its blocks list the peer`);
      }
      if (requests !== record.requestCount) fail(`request count ${record.requestCount}, counted ${requests}`);
    }
  }

  /** Checks one downloading piece; returns its free block count. */
  private checkDownload(piece: number, download: PieceDownload<P>, fail: (message: string) => never): number {
    let free = 0;
    let received = 0;
    const requesters = download.requesters;
    download.state.forEach((state, block) => {
      if (state === FREE) free++;
      if (state === RECEIVED) received++;
      const count = requesters.count(block);
      if ((state === REQUESTED) !== count > 0) fail(`block ${piece}/${block} in state ${state} has ${count} requesters`);
      const distinct = new Set<P>();
      for (let i = 0; i < count; i++) distinct.add(requesters.get(block, i));
      if (distinct.size !== count) fail(`a peer is listed twice as a requester of ${piece}/${block}`);
      for (const requester of distinct) {
        if (!this.peers.get(requester)?.outstanding.has(piece)) fail(`requester of ${piece}/${block} does not list its piece`);
      }
    });
    if (free !== download.freeCount || received !== download.receivedCount) fail(`block counts of piece ${piece}`);
    if ((free > 0) !== this.partial.has(piece)) fail(`partial set membership of piece ${piece}`);
    return free;
  }
}
