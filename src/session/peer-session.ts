/**
 * One connected peer as the swarm sees it: the connection, what the peer has, the requests it has queued with
 * us, and its transfer rates. Flags live on the connection (amChoking/amInterested controlled by us,
 * peerChoking/peerInterested by the remote); the requests we have out to it are the picker's.
 */
import { Bitfield } from '../bitfield/index.js';
import type { PeerConnection } from '../peer/index.js';
import type { BlockRequest } from '../picker/index.js';
import type { BlockSource } from './piece-writer.js';
import type { PeerAddress } from './peer-pool.js';
import { RateMeter } from './rate-meter.js';

/** Requests kept in flight start here and adapt to the peer's rate. */
const INITIAL_QUEUE_DEPTH = 16;
const MIN_QUEUE_DEPTH = 4;
const MAX_QUEUE_DEPTH = 500;
/** Enough requests in flight to cover this much time at the peer's current rate (bandwidth × delay). */
const QUEUE_SECONDS = 2;

export class PeerSession implements BlockSource {
  readonly label: string;
  /** Pieces the peer has; replaced by its bitfield, grown by HAVE. */
  has: Bitfield;
  /** The peer sent a bitfield or HAVEs (until then it has nothing as far as we know). */
  announcedPieces = false;
  /** Its requests waiting to be served, in arrival order. */
  serveQueue: BlockRequest[] = [];
  readsInFlight = 0;
  readonly download: RateMeter;
  readonly upload: RateMeter;
  queueDepth = INITIAL_QUEUE_DEPTH;
  /** Requests the peer says it queues without dropping (BEP 10 `reqq`); our pipeline stays within it. */
  requestQueueLimit: number | undefined;
  /** Last time a block arrived or, failing that, when the current requests were sent. */
  lastProgressAt: number;
  /** Blocks it sent that we never asked for (late answers after a cancel are normal; floods are not). */
  unsolicited = 0;
  /** Pieces it contributed to that failed their hash. */
  strikes = 0;
  /** It gave us something useful; a connection that ends before that counts as a failed address. */
  useful = false;
  snubbed = false;
  /** A refill is scheduled for the end of this event-loop turn. */
  fillQueued = false;

  constructor(
    readonly conn: PeerConnection,
    /** Where to reconnect (for incoming peers: the address it connected from). */
    readonly address: PeerAddress,
    readonly incoming: boolean,
    pieceCount: number,
    private readonly blockSize: number,
    now: () => number,
  ) {
    this.label = `${address.host}:${address.port}`;
    this.has = new Bitfield(pieceCount);
    this.download = new RateMeter(5, now);
    this.upload = new RateMeter(5, now);
    this.lastProgressAt = now();
  }

  get isSeed(): boolean {
    return this.has.complete;
  }

  cancelRequest(request: BlockRequest): void {
    this.conn.cancel(request.piece, request.begin, request.length);
  }

  /** Keep enough requests in flight for the peer's measured rate (a fixed depth cannot fill a fast link). */
  adaptQueueDepth(): void {
    const floor = this.snubbed ? 1 : this.download.total === 0 ? INITIAL_QUEUE_DEPTH : MIN_QUEUE_DEPTH;
    this.queueDepth = this.withinPeerLimit(Math.max(floor, this.depthForRate()));
  }

  /**
   * Between adaptations, only deepen the pipeline: a fast peer reaches its depth within a fraction of a
   * second, while the rate's ups and downs inside a second do not make requests go out in bursts.
   */
  deepenQueue(): void {
    if (!this.snubbed) this.queueDepth = this.withinPeerLimit(Math.max(this.queueDepth, this.depthForRate()));
  }

  private depthForRate(): number {
    return Math.min(MAX_QUEUE_DEPTH, Math.ceil((this.download.rate * QUEUE_SECONDS) / this.blockSize));
  }

  private withinPeerLimit(depth: number): number {
    return this.requestQueueLimit === undefined ? depth : Math.min(depth, this.requestQueueLimit);
  }
}
