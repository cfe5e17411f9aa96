/**
 * The addresses a torrent may connect to: from trackers, `--peer`, incoming connections. Deduplicated by
 * host:port; a failed address waits with growing backoff before it is tried again, and a banned one
 * (it sent data that failed the hash check) is never tried again.
 */

export interface PeerAddress {
  host: string;
  port: number;
}

interface Candidate extends PeerAddress {
  key: string;
  failures: number;
  notBefore: number;
  connected: boolean;
  source: string;
}

export const addressKey = (a: PeerAddress) => (a.host.includes(':') ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`);

export class PeerPool {
  private readonly candidates = new Map<string, Candidate>();
  private readonly banned = new Set<string>();

  constructor(
    private readonly now: () => number = Date.now,
    private readonly baseBackoffMs = 5_000,
    private readonly maxFailures = 6,
  ) {}

  /** Adds addresses; returns how many were new. */
  add(addresses: Iterable<PeerAddress>, source: string): number {
    let added = 0;
    for (const a of addresses) {
      if (!Number.isInteger(a.port) || a.port <= 0 || a.port > 65535) continue;
      const key = addressKey(a);
      if (this.banned.has(key)) continue;
      const known = this.candidates.get(key);
      if (known) {
        // Heard of again (a tracker re-announce): give a resting address another chance sooner.
        if (!known.connected && known.failures >= this.maxFailures) known.failures = this.maxFailures - 1;
        continue;
      }
      this.candidates.set(key, { host: a.host, port: a.port, key, failures: 0, notBefore: 0, connected: false, source });
      added++;
    }
    return added;
  }

  /** Up to `count` addresses ready to be dialled now, marked as connected. */
  take(count: number): PeerAddress[] {
    const t = this.now();
    const out: PeerAddress[] = [];
    for (const c of this.candidates.values()) {
      if (out.length >= count) break;
      if (c.connected || c.notBefore > t || c.failures >= this.maxFailures) continue;
      c.connected = true;
      out.push({ host: c.host, port: c.port });
    }
    return out;
  }

  /** Marks an address as connected from the other side (incoming), so we do not dial it too. */
  markConnected(a: PeerAddress): void {
    const c = this.candidates.get(addressKey(a));
    if (c) c.connected = true;
  }

  /** The connection ended; `failed` when it never became useful (refused, timed out, bad handshake). */
  release(a: PeerAddress, failed: boolean): void {
    const c = this.candidates.get(addressKey(a));
    if (!c) return;
    c.connected = false;
    c.failures = failed ? c.failures + 1 : 0;
    c.notBefore = this.now() + (failed ? this.baseBackoffMs * 2 ** (c.failures - 1) : this.baseBackoffMs);
  }

  ban(a: PeerAddress): void {
    const key = addressKey(a);
    this.banned.add(key);
    this.candidates.delete(key);
  }

  isBannedAddress(a: PeerAddress): boolean {
    return this.banned.has(addressKey(a));
  }

  /** Addresses that could still be dialled now or later. */
  get available(): number {
    let n = 0;
    for (const c of this.candidates.values()) if (!c.connected && c.failures < this.maxFailures) n++;
    return n;
  }
}
