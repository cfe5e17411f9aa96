/**
 * A small tracker for loopback swarms (offline demo, tests): HTTP announce (BEP 3, compact BEP 23 and
 * non-compact answers, BEP 7 `peers6`) and UDP announce/scrape (BEP 15), one in-memory swarm per info-hash.
 * A peer that stops announcing is forgotten after two intervals.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import type { RemoteInfo, Socket } from 'node:dgram';
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { isIPv6 } from 'node:net';
import { encode } from '../bencode/index.js';
import type { EncodableValue } from '../bencode/index.js';
import { encodeCompactPeers } from './compact-peers.js';
import type { AddressFamily } from './compact-peers.js';
import { TrackerProtocolError } from './errors.js';
import { parseAnnounceQuery } from './http-codec.js';
import {
  decodeRequest,
  encodeAnnounceResponse,
  encodeConnectResponse,
  encodeErrorResponse,
  encodeScrapeResponse,
  transactionIdOf,
} from './udp-codec.js';
import type { UdpAnnounceRequest } from './udp-codec.js';
import type { AnnounceEvent, PeerAddress } from './types.js';

export interface TrackerServerOptions {
  /** Address both sockets bind to (default 127.0.0.1). */
  host?: string;
  /** 0 picks a free port (default). */
  httpPort?: number;
  udpPort?: number;
  /** `interval` told to clients, in seconds (default 1800). */
  intervalSeconds?: number;
  /** `min interval` told to HTTP clients, in seconds (default: none). */
  minIntervalSeconds?: number;
  /** Peers in one answer when the client does not say (default 50); numwant is capped at 200. */
  defaultNumwant?: number;
  /** Milliseconds clock, injectable so tests can expire peers. */
  now?: () => number;
}

interface SwarmPeer extends PeerAddress {
  peerId: Uint8Array;
  left: number;
  expiresAt: number;
}

interface Swarm {
  /** By "host:port". */
  peers: Map<string, SwarmPeer>;
  /** `completed` events seen (BEP 15 scrape "completed"). */
  completed: number;
}

interface Announcement {
  infoHash: Uint8Array;
  peerId: Uint8Array;
  host: string;
  port: number;
  left: number;
  event?: AnnounceEvent;
  numwant?: number;
}

interface SwarmView {
  peers: SwarmPeer[];
  complete: number;
  incomplete: number;
}

const MAX_NUMWANT = 200;

/** BEP 15: a connection id is valid for two minutes; ids come from an HMAC of the client's IP and the minute. */
const CONNECTION_ID_WINDOW_MS = 60_000;

function hex(b: Uint8Array): string {
  return Buffer.from(b).toString('hex');
}

/** "::ffff:1.2.3.4" (an IPv4 client on a dual-stack socket) is really 1.2.3.4. */
function plainAddress(address: string): string {
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}

function familyOf(host: string): AddressFamily {
  return isIPv6(host) ? 6 : 4;
}

export class TrackerServer {
  /** By hex info-hash. */
  private readonly swarms = new Map<string, Swarm>();
  private readonly secret = randomBytes(32);
  private readonly intervalSeconds: number;
  private readonly minIntervalSeconds: number | undefined;
  private readonly defaultNumwant: number;
  private readonly now: () => number;
  private readonly udpFamily: AddressFamily;

  private constructor(
    private readonly http: Server,
    private readonly udp: Socket,
    /** The HTTP announce URL, e.g. http://127.0.0.1:40123/announce. */
    readonly httpUrl: string,
    /** The UDP tracker URL, e.g. udp://127.0.0.1:40124. */
    readonly udpUrl: string,
    options: TrackerServerOptions,
  ) {
    this.intervalSeconds = options.intervalSeconds ?? 1800;
    this.minIntervalSeconds = options.minIntervalSeconds;
    this.defaultNumwant = options.defaultNumwant ?? 50;
    this.now = options.now ?? Date.now;
    this.udpFamily = udp.address().family === 'IPv6' ? 6 : 4;
    http.on('request', (req: IncomingMessage, res: ServerResponse) => this.onHttpRequest(req, res));
    udp.on('message', (packet: Buffer, from: RemoteInfo) => this.onUdpPacket(packet, from));
  }

  /** Binds the HTTP and UDP sockets and starts answering. */
  static async start(options: TrackerServerOptions = {}): Promise<TrackerServer> {
    const host = options.host ?? '127.0.0.1';
    const urlHost = isIPv6(host) ? `[${host}]` : host;
    const http = createServer();
    await new Promise<void>((resolve, reject) => {
      http.once('error', reject);
      http.listen(options.httpPort ?? 0, host, () => resolve());
    });
    const udp = createSocket(isIPv6(host) ? 'udp6' : 'udp4');
    try {
      await new Promise<void>((resolve, reject) => {
        udp.once('error', reject);
        udp.bind(options.udpPort ?? 0, host, () => resolve());
      });
    } catch (err) {
      http.close();
      throw err;
    }
    const httpPort = (http.address() as AddressInfo).port;
    const udpPort = udp.address().port;
    const httpUrl = `http://${urlHost}:${httpPort}/announce`;
    return new TrackerServer(http, udp, httpUrl, `udp://${urlHost}:${udpPort}`, options);
  }

  /** Peers currently in the swarm of an info-hash (expired ones not counted). */
  swarmSize(infoHash: Uint8Array): number {
    const swarm = this.swarms.get(hex(infoHash));
    if (swarm === undefined) return 0;
    this.expire(swarm);
    return swarm.peers.size;
  }

  async close(): Promise<void> {
    this.http.closeAllConnections();
    await Promise.all([
      new Promise<void>((resolve) => this.http.close(() => resolve())),
      new Promise<void>((resolve) => this.udp.close(() => resolve())),
    ]);
  }

  private expire(swarm: Swarm): void {
    const now = this.now();
    for (const [key, peer] of swarm.peers) if (peer.expiresAt <= now) swarm.peers.delete(key);
  }

  /** Records an announce and returns the other peers (a random selection when there are more than wanted). */
  private announce(a: Announcement): SwarmView {
    const swarmKey = hex(a.infoHash);
    let swarm = this.swarms.get(swarmKey);
    if (swarm === undefined) {
      swarm = { peers: new Map(), completed: 0 };
      this.swarms.set(swarmKey, swarm);
    }
    this.expire(swarm);
    const peerKey = `${a.host}:${a.port}`;
    if (a.event === 'completed') swarm.completed++;
    if (a.event === 'stopped') swarm.peers.delete(peerKey);
    else {
      swarm.peers.set(peerKey, {
        host: a.host,
        port: a.port,
        peerId: a.peerId,
        left: a.left,
        expiresAt: this.now() + 2 * this.intervalSeconds * 1000,
      });
    }
    let complete = 0;
    const others: SwarmPeer[] = [];
    for (const [key, peer] of swarm.peers) {
      if (peer.left === 0) complete++;
      if (key !== peerKey) others.push(peer);
    }
    const wanted = Math.min(a.numwant ?? this.defaultNumwant, MAX_NUMWANT);
    // Partial Fisher-Yates: the first `wanted` entries become a uniform random pick.
    for (let i = 0; i < Math.min(wanted, others.length); i++) {
      const j = i + Math.floor(Math.random() * (others.length - i));
      [others[i], others[j]] = [others[j], others[i]];
    }
    return { peers: others.slice(0, wanted), complete, incomplete: swarm.peers.size - complete };
  }

  private onHttpRequest(req: IncomingMessage, res: ServerResponse): void {
    const target = req.url ?? '/';
    const q = target.indexOf('?');
    const path = q < 0 ? target : target.slice(0, q);
    if (req.method !== 'GET' || path !== '/announce') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: this tracker only answers GET /announce\n');
      return;
    }
    const reply = (dict: EncodableValue) => {
      const body = encode(dict);
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': body.length }).end(body);
    };
    let query;
    try {
      query = parseAnnounceQuery(q < 0 ? '' : target.slice(q + 1));
    } catch (err) {
      if (!(err instanceof TrackerProtocolError)) throw err;
      reply({ 'failure reason': `invalid announce: ${err.message}` });
      return;
    }
    const host = plainAddress(req.socket.remoteAddress ?? '');
    const view = this.announce({ ...query, host });
    const answer: Record<string, EncodableValue | undefined> = {
      interval: this.intervalSeconds,
      'min interval': this.minIntervalSeconds,
      complete: view.complete,
      incomplete: view.incomplete,
    };
    if (query.compact) {
      answer.peers = encodeCompactPeers(view.peers.filter((p) => familyOf(p.host) === 4), 4);
      const v6 = view.peers.filter((p) => familyOf(p.host) === 6);
      if (v6.length > 0) answer.peers6 = encodeCompactPeers(v6, 6);
    } else {
      answer.peers = view.peers.map((p) => ({
        ip: p.host,
        port: p.port,
        'peer id': query.noPeerId ? undefined : p.peerId,
      }));
    }
    reply(answer);
  }

  private connectionIdFor(address: string, window: number): Uint8Array {
    return createHmac('sha256', this.secret).update(`${address}/${window}`).digest().subarray(0, 8);
  }

  private isValidConnectionId(address: string, id: Uint8Array): boolean {
    const window = Math.floor(this.now() / CONNECTION_ID_WINDOW_MS);
    return [window, window - 1].some((w) => Buffer.from(id).equals(this.connectionIdFor(address, w)));
  }

  private onUdpPacket(packet: Buffer, from: RemoteInfo): void {
    // Replies are best effort, as everything over UDP: a client that misses one retransmits.
    const send = (b: Uint8Array) => this.udp.send(b, from.port, from.address, () => {});
    const address = plainAddress(from.address);
    let request;
    try {
      request = decodeRequest(packet);
    } catch (err) {
      if (!(err instanceof TrackerProtocolError)) throw err;
      // A request carries its transaction id 8 bytes further in than a response does.
      const tid = transactionIdOf(packet.subarray(8));
      if (tid !== undefined) send(encodeErrorResponse(tid, err.message));
      return;
    }
    if (request.action === 'connect') {
      const window = Math.floor(this.now() / CONNECTION_ID_WINDOW_MS);
      send(encodeConnectResponse(request.transactionId, this.connectionIdFor(address, window)));
      return;
    }
    if (!this.isValidConnectionId(address, request.connectionId)) {
      send(encodeErrorResponse(request.transactionId, 'connection id expired or unknown; connect again'));
      return;
    }
    if (request.action === 'announce') {
      send(this.udpAnnounce(request, address));
      return;
    }
    const files = request.infoHashes.map((hash) => {
      const swarm = this.swarms.get(hex(hash));
      if (swarm === undefined) return { seeders: 0, completed: 0, leechers: 0 };
      this.expire(swarm);
      const seeders = [...swarm.peers.values()].filter((p) => p.left === 0).length;
      return { seeders, completed: swarm.completed, leechers: swarm.peers.size - seeders };
    });
    send(encodeScrapeResponse(request.transactionId, files));
  }

  private udpAnnounce(request: UdpAnnounceRequest, address: string): Uint8Array {
    if (request.port === 0) return encodeErrorResponse(request.transactionId, 'port 0 is not reachable');
    // The request's ip field is not trusted: peers are listed under the address the packet came from.
    const view = this.announce({ ...request, host: address });
    return encodeAnnounceResponse(
      {
        transactionId: request.transactionId,
        interval: this.intervalSeconds,
        leechers: view.incomplete,
        seeders: view.complete,
        peers: view.peers.filter((p) => familyOf(p.host) === this.udpFamily),
      },
      this.udpFamily,
    );
  }
}
