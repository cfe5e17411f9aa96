/**
 * Upload choking (BEP 3 "Choking and Optimistic Unchoking"), as libtorrent and Transmission do it: a fixed
 * number of regular upload slots go to the interested peers with the best rate, re-evaluated every rechoke
 * interval, plus one optimistic unchoke rotated every optimistic interval so new peers get a chance to prove
 * themselves. Pure state machine: peers are opaque ids, time comes from the injected clock, and the caller
 * sends the CHOKE/UNCHOKE messages the decisions ask for.
 */

export interface ChokerOptions {
  /** Regular unchoke slots; the optimistic unchoke comes on top (BEP 3 uses 4). */
  uploadSlots?: number;
  rechokeIntervalMs?: number;
  optimisticIntervalMs?: number;
  /** A peer we are interested in that sent no piece for this long is snubbed while we leech. */
  snubTimeoutMs?: number;
  now: () => number;
  random?: () => number;
}

export interface PeerRates {
  /** Bytes/s the peer sends us. */
  downloadRate: number;
  /** Bytes/s we send the peer. */
  uploadRate: number;
}

/** Peers whose choke state must change; everyone else keeps theirs. */
export interface ChokeDecision<P> {
  unchoke: P[];
  choke: P[];
}

/** A peer connected this recently is three times as likely to get the optimistic slot, in rechoke rounds. */
const NEW_PEER_ROUNDS = 3;
const NEW_PEER_WEIGHT = 3;

/** A programming error in the caller: every peer must be added before it is talked about. */
export class UnknownPeerError extends Error {
  override name = 'UnknownPeerError';
}

interface ChokerPeer {
  connectedAt: number;
  peerInterested: boolean;
  amInterested: boolean;
  /** When we last became interested, the start of the snub clock if no piece came since. */
  amInterestedSince: number;
  lastPieceReceivedAt: number | undefined;
  downloadRate: number;
  uploadRate: number;
  amChoking: boolean;
}

export class Choker<P = unknown> {
  readonly uploadSlots: number;
  readonly rechokeIntervalMs: number;
  readonly optimisticIntervalMs: number;
  readonly snubTimeoutMs: number;
  private readonly now: () => number;
  private readonly random: () => number;
  private readonly peers = new Map<P, ChokerPeer>();
  private optimistic: P | undefined;
  private optimisticSince = -Infinity;
  private rechokeDueAt: number;

  constructor(options: ChokerOptions) {
    this.uploadSlots = options.uploadSlots ?? 4;
    this.rechokeIntervalMs = options.rechokeIntervalMs ?? 10_000;
    this.optimisticIntervalMs = options.optimisticIntervalMs ?? 30_000;
    this.snubTimeoutMs = options.snubTimeoutMs ?? 60_000;
    if (!Number.isInteger(this.uploadSlots) || this.uploadSlots < 0) throw new RangeError(`upload slots ${this.uploadSlots} must be a non-negative integer`);
    for (const [name, value] of [
      ['rechoke interval', this.rechokeIntervalMs],
      ['optimistic interval', this.optimisticIntervalMs],
      ['snub timeout', this.snubTimeoutMs],
    ] as const) {
      if (!(value > 0)) throw new RangeError(`${name} ${value} ms must be positive`);
    }
    this.now = options.now;
    this.random = options.random ?? Math.random;
    this.rechokeDueAt = this.now();
  }

  /** A new connection; it starts choked, as BEP 3 requires. */
  addPeer(peer: P): void {
    if (this.peers.has(peer)) return;
    const now = this.now();
    this.peers.set(peer, {
      connectedAt: now,
      peerInterested: false,
      amInterested: false,
      amInterestedSince: now,
      lastPieceReceivedAt: undefined,
      downloadRate: 0,
      uploadRate: 0,
      amChoking: true,
    });
  }

  /** Returns whether the peer held an unchoke slot, in which case a rechoke now hands it to someone else. */
  removePeer(peer: P): boolean {
    const state = this.peers.get(peer);
    this.peers.delete(peer);
    if (this.optimistic === peer) this.optimistic = undefined;
    return state !== undefined && !state.amChoking;
  }

  /** INTERESTED / NOT_INTERESTED from the peer. */
  setPeerInterested(peer: P, interested: boolean): void {
    this.state(peer).peerInterested = interested;
  }

  /** Whether we are interested in the peer; snubbing only applies while we are. */
  setAmInterested(peer: P, interested: boolean): void {
    const state = this.state(peer);
    if (interested && !state.amInterested) state.amInterestedSince = this.now();
    state.amInterested = interested;
  }

  setRates(peer: P, rates: PeerRates): void {
    const state = this.state(peer);
    state.downloadRate = rates.downloadRate;
    state.uploadRate = rates.uploadRate;
  }

  /** A PIECE message arrived from the peer (it is not snubbing us). */
  pieceReceived(peer: P): void {
    this.state(peer).lastPieceReceivedAt = this.now();
  }

  isSnubbed(peer: P): boolean {
    const state = this.state(peer);
    if (!state.amInterested) return false;
    const since = Math.max(state.amInterestedSince, state.lastPieceReceivedAt ?? -Infinity);
    return this.now() - since >= this.snubTimeoutMs;
  }

  amChoking(peer: P): boolean {
    return this.state(peer).amChoking;
  }

  get optimisticPeer(): P | undefined {
    return this.optimistic;
  }

  /** When `tick` will next rechoke, on the injected clock (for the caller's timer). */
  get nextRechokeAt(): number {
    return this.rechokeDueAt;
  }

  /** Rechokes if the rechoke interval has passed; otherwise changes nothing. */
  tick(seeding: boolean): ChokeDecision<P> {
    if (this.now() < this.rechokeDueAt) return { unchoke: [], choke: [] };
    return this.rechoke(seeding);
  }

  /**
   * Recomputes who is unchoked now (also call it when an unchoked peer leaves or loses interest). Regular
   * slots: interested peers by download rate when leeching (reciprocation, BEP 3), by upload rate when
   * seeding (libtorrent's "fastest upload" seed choker); snubbed peers get none while leeching. The
   * optimistic slot rotates every optimistic interval among the other interested peers.
   */
  rechoke(seeding: boolean): ChokeDecision<P> {
    const now = this.now();
    this.rechokeDueAt = now + this.rechokeIntervalMs;
    const interested = this.shuffled([...this.peers].filter(([, state]) => state.peerInterested));
    const rateOf = (state: ChokerPeer) => (seeding ? state.uploadRate : state.downloadRate);
    const regular = new Set(
      interested
        .filter(([peer]) => seeding || !this.isSnubbed(peer))
        .sort(([, a], [, b]) => rateOf(b) - rateOf(a))
        .slice(0, this.uploadSlots)
        .map(([peer]) => peer),
    );

    const others = interested.filter(([peer]) => !regular.has(peer));
    const current = this.optimistic;
    const keepCurrent =
      current !== undefined &&
      others.some(([peer]) => peer === current) &&
      now - this.optimisticSince < this.optimisticIntervalMs;
    if (!keepCurrent) {
      // Rotate away from the current holder whenever someone else is waiting.
      const candidates = others.length > 1 ? others.filter(([peer]) => peer !== current) : others;
      this.optimistic = this.weightedPick(candidates, now);
      this.optimisticSince = now;
    }

    const decision: ChokeDecision<P> = { unchoke: [], choke: [] };
    for (const [peer, state] of this.peers) {
      const unchoked = regular.has(peer) || peer === this.optimistic;
      if (unchoked === !state.amChoking) continue;
      state.amChoking = !unchoked;
      (unchoked ? decision.unchoke : decision.choke).push(peer);
    }
    return decision;
  }

  private state(peer: P): ChokerPeer {
    const state = this.peers.get(peer);
    if (!state) throw new UnknownPeerError('peer is not known to the choker; call addPeer when it connects');
    return state;
  }

  /** Random order first, so the stable rate sort breaks ties at random rather than by connection order. */
  private shuffled<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = Math.min(i, Math.floor(this.random() * (i + 1)));
      [items[i], items[j]] = [items[j], items[i]];
    }
    return items;
  }

  /** New peers weigh three times as much, so they quickly get something to reciprocate with (BEP 3). */
  private weightedPick(candidates: [P, ChokerPeer][], now: number): P | undefined {
    const newPeerAge = NEW_PEER_ROUNDS * this.rechokeIntervalMs;
    const weights = candidates.map(([, state]) => (now - state.connectedAt < newPeerAge ? NEW_PEER_WEIGHT : 1));
    let ticket = this.random() * weights.reduce((sum, weight) => sum + weight, 0);
    for (let i = 0; i < candidates.length; i++) {
      ticket -= weights[i];
      if (ticket < 0) return candidates[i][0];
    }
    return candidates.at(-1)?.[0];
  }
}
