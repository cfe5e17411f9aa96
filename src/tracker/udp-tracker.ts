/** UDP tracker client (BEP 15): connect, then announce, with retransmission and connection id reuse. */
import { randomInt } from 'node:crypto';
import { createSocket } from 'node:dgram';
import type { Socket } from 'node:dgram';
import { lookup } from 'node:dns/promises';
import { decodeResponse, encodeAnnounceRequest, encodeConnectRequest, transactionIdOf } from './udp-codec.js';
import type { UdpResponse } from './udp-codec.js';
import type { AddressFamily } from './compact-peers.js';
import { TrackerFailure, TrackerProtocolError, TrackerRequestError, UnsupportedTrackerError } from './errors.js';
import type { AnnounceParams, AnnounceResult, Tracker } from './types.js';

/** BEP 15: a client may use a connection id until one minute after receiving it. */
export const CONNECTION_ID_LIFETIME_MS = 60_000;

/** Connection ids per tracker endpoint ("host:port"), each forgotten when its lifetime runs out. */
export class ConnectionIdCache {
  private readonly entries = new Map<string, { id: Uint8Array; expiresAt: number }>();

  constructor(
    private readonly now: () => number = Date.now,
    private readonly lifetimeMs = CONNECTION_ID_LIFETIME_MS,
  ) {}

  get(endpoint: string): Uint8Array | undefined {
    const entry = this.entries.get(endpoint);
    if (entry === undefined) return undefined;
    if (this.now() >= entry.expiresAt) {
      this.entries.delete(endpoint);
      return undefined;
    }
    return entry.id;
  }

  set(endpoint: string, id: Uint8Array): void {
    this.entries.set(endpoint, { id, expiresAt: this.now() + this.lifetimeMs });
  }

  delete(endpoint: string): void {
    this.entries.delete(endpoint);
  }
}

/** Shared by every UdpTracker that is not given its own cache, so torrents on one tracker share a connection. */
const processConnectionIds = new ConnectionIdCache();

export interface UdpTrackerOptions {
  /** First response timeout; BEP 15 waits 15 * 2^n seconds before retransmission n+1 (default 15 000 ms). */
  retransmitBaseMs?: number;
  /** Retransmissions before giving up; BEP 15 stops growing the timeout at n = 8 (default 8). */
  maxRetransmissions?: number;
  connectionIds?: ConnectionIdCache;
}

/** One socket exchange: sends a packet and waits for the answer carrying its transaction id. */
class UdpExchange {
  private waiter: { tid: number; resolve: (r: UdpResponse) => void; reject: (e: Error) => void } | undefined;
  private failure: Error | undefined;

  constructor(
    private readonly socket: Socket,
    private readonly family: AddressFamily,
    private readonly url: string,
  ) {
    socket.on('message', (packet: Buffer) => this.onPacket(packet));
    // A connected UDP socket reports ICMP "port unreachable" as ECONNREFUSED: the tracker is not there.
    socket.on('error', (err) => this.fail(new TrackerRequestError(`${this.url}: ${err.message}`, { cause: err })));
  }

  private onPacket(packet: Buffer): void {
    const waiter = this.waiter;
    // Packets for an earlier, retransmitted request or from anything else are ignored.
    if (waiter === undefined || transactionIdOf(packet) !== waiter.tid) return;
    this.waiter = undefined;
    try {
      waiter.resolve(decodeResponse(packet, this.family));
    } catch (err) {
      waiter.reject(err as Error);
    }
  }

  private fail(err: Error): void {
    this.failure = err;
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.reject(err);
  }

  /** Resolves with the answer, or undefined when none came within timeoutMs. */
  send(packet: Uint8Array, tid: number, timeoutMs: number, signal?: AbortSignal): Promise<UdpResponse | undefined> {
    if (this.failure) return Promise.reject(this.failure);
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise<UdpResponse | undefined>((resolve, reject) => {
      const finish = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        this.waiter = undefined;
      };
      const onAbort = () => {
        finish();
        reject(signal?.reason);
      };
      const timer = setTimeout(() => {
        finish();
        resolve(undefined);
      }, timeoutMs);
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiter = {
        tid,
        resolve: (r) => {
          finish();
          resolve(r);
        },
        reject: (e) => {
          finish();
          reject(e);
        },
      };
      this.socket.send(packet, (err) => {
        if (err) this.fail(new TrackerRequestError(`${this.url}: ${err.message}`, { cause: err }));
      });
    });
  }
}

function newTransactionId(): number {
  return randomInt(0x1_0000_0000);
}

export class UdpTracker implements Tracker {
  private readonly host: string;
  private readonly port: number;
  private readonly endpoint: string;
  private readonly retransmitBaseMs: number;
  private readonly maxRetransmissions: number;
  private readonly connectionIds: ConnectionIdCache;

  constructor(
    readonly url: string,
    options: UdpTrackerOptions = {},
  ) {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new UnsupportedTrackerError(url, 'not a valid URL');
    }
    if (parsed.protocol !== 'udp:') throw new UnsupportedTrackerError(url, 'not a udp:// URL');
    if (parsed.port === '') throw new UnsupportedTrackerError(url, 'a UDP tracker URL needs a port');
    this.host = parsed.hostname.replace(/^\[(.*)\]$/, '$1');
    this.port = Number(parsed.port);
    this.endpoint = `${this.host}:${this.port}`;
    this.retransmitBaseMs = options.retransmitBaseMs ?? 15_000;
    this.maxRetransmissions = options.maxRetransmissions ?? 8;
    this.connectionIds = options.connectionIds ?? processConnectionIds;
  }

  async announce(params: AnnounceParams, signal?: AbortSignal): Promise<AnnounceResult> {
    signal?.throwIfAborted();
    let address: { address: string; family: number };
    try {
      address = await lookup(this.host);
    } catch (err) {
      const detail = `cannot resolve "${this.host}": ${(err as Error).message}`;
      throw new TrackerRequestError(`${this.url}: ${detail}`, { cause: err });
    }
    signal?.throwIfAborted();
    const family: AddressFamily = address.family === 6 ? 6 : 4;
    const socket = createSocket(family === 6 ? 'udp6' : 'udp4');
    try {
      const exchange = new UdpExchange(socket, family, this.url);
      await new Promise<void>((resolve, reject) => {
        socket.once('error', reject);
        socket.connect(this.port, address.address, () => {
          socket.off('error', reject);
          resolve();
        });
      }).catch((err: Error) => {
        throw new TrackerRequestError(`${this.url}: ${err.message}`, { cause: err });
      });
      return await this.exchangeAnnounce(exchange, params, signal);
    } finally {
      socket.close();
    }
  }

  private async exchangeAnnounce(
    exchange: UdpExchange,
    params: AnnounceParams,
    signal?: AbortSignal,
  ): Promise<AnnounceResult> {
    let n = 0;
    // The announce packet is rebuilt only when its connection id changes, so a retransmission keeps its
    // transaction id and a late answer to an earlier copy still counts.
    let announce: { connectionId: Uint8Array; tid: number; packet: Uint8Array } | undefined;
    const waited = () => {
      if (n >= this.maxRetransmissions) {
        throw new TrackerRequestError(`${this.url}: no answer after ${n + 1} attempts`);
      }
      n++;
    };
    for (;;) {
      const timeoutMs = this.retransmitBaseMs * 2 ** n;
      const connectionId = this.connectionIds.get(this.endpoint);
      if (connectionId === undefined) {
        const tid = newTransactionId();
        const reply = await exchange.send(encodeConnectRequest(tid), tid, timeoutMs, signal);
        if (reply === undefined) {
          waited();
          continue;
        }
        if (reply.action === 'error') throw new TrackerFailure(reply.message);
        if (reply.action !== 'connect') {
          throw new TrackerProtocolError(`${this.url}: "${reply.action}" answer to a connect request`);
        }
        this.connectionIds.set(this.endpoint, reply.connectionId);
        continue;
      }
      if (announce?.connectionId !== connectionId) {
        const tid = newTransactionId();
        announce = { connectionId, tid, packet: encodeAnnounceRequest(connectionId, tid, params) };
      }
      const reply = await exchange.send(announce.packet, announce.tid, timeoutMs, signal);
      if (reply === undefined) {
        waited();
        continue;
      }
      if (reply.action === 'error') {
        // The usual cause is a connection id the tracker no longer accepts: get a fresh one next time.
        this.connectionIds.delete(this.endpoint);
        throw new TrackerFailure(reply.message);
      }
      if (reply.action !== 'announce') {
        throw new TrackerProtocolError(`${this.url}: "${reply.action}" answer to an announce`);
      }
      return { interval: reply.interval, peers: reply.peers, complete: reply.seeders, incomplete: reply.leechers };
    }
  }
}
