/**
 * The library's entry point: a Client holds torrents, one peer id, one listening socket that accepts peers
 * for any of its torrents, and the global rate limits. The CLI and (later) the daemon are front ends over it.
 */
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import net from 'node:net';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { Sha1Pool } from '../hashing/index.js';
import { silentLogger, type Logger } from '../log/index.js';
import { acceptHandshake } from '../peer/index.js';
import { TokenBucket } from '../ratelimit/index.js';
import { loadMetainfo, type TorrentSource } from './source.js';
import { Torrent, type TorrentContext, type TorrentOptions } from './torrent.js';

export interface ClientOptions {
  /** Port to accept peers on (default 6881; the next free one is used if taken). 0 picks any free port. */
  port?: number;
  /** Address to listen on (default all interfaces). */
  listenHost?: string;
  /** Accept incoming peer connections at all (default true). */
  listen?: boolean;
  /** Most connections per torrent (default 50). */
  maxPeers?: number;
  /** Where resume data is kept (default $XDG_STATE_HOME/torrent.ts or ~/.local/state/torrent.ts). */
  stateDir?: string;
  /** Bytes per second over all torrents; 0 or absent is unlimited. */
  downloadLimit?: number;
  uploadLimit?: number;
  /** Upload slots per torrent (BEP 3 choking; default 4, plus one optimistic). */
  uploadSlots?: number;
  /** A peer with requests out and nothing received for this long is snubbed (default 30 s). */
  requestTimeoutMs?: number;
  /** TCP connect timeout per peer (default 10 s). */
  connectTimeoutMs?: number;
  /** Deadline for one tracker announce (default 30 s). */
  trackerTimeoutMs?: number;
  /** Where the client logs (a pino logger will do); silent by default. */
  logger?: Logger;
}

/** Azureus-style peer id (BEP 20): client "TS", version 0.1.0, then random bytes. */
const PEER_ID_PREFIX = '-TS0100-';
/** How we name ourselves to peers (BEP 10 `v`). */
const CLIENT_NAME = 'torrent.ts 0.1.0';
const DEFAULT_PORT = 6881;
/** Ports tried after the chosen one when it is taken. */
const PORT_ATTEMPTS = 10;

export class ClientError extends Error {
  override name = 'ClientError';
}

export function defaultStateDir(): string {
  const base = process.env.XDG_STATE_HOME || join(homedir(), '.local', 'state');
  return join(base, 'torrent.ts');
}

export interface ClientEvents {
  torrent: [torrent: Torrent];
  warning: [message: string];
}

export class Client extends EventEmitter<ClientEvents> {
  readonly peerId: Uint8Array;
  private readonly torrents = new Map<string, Torrent>();
  private readonly logger: Logger;
  private readonly downloadLimit: TokenBucket;
  private readonly uploadLimit: TokenBucket;
  private server: net.Server | undefined;
  private listening: Promise<number> | undefined;
  private destroyed = false;

  constructor(private readonly options: ClientOptions = {}) {
    super();
    this.peerId = Buffer.concat([Buffer.from(PEER_ID_PREFIX), Buffer.from(randomBytes(12).toString('base64url').slice(0, 12))]);
    this.logger = options.logger ?? silentLogger;
    this.downloadLimit = new TokenBucket({ rate: options.downloadLimit ?? 0 });
    this.uploadLimit = new TokenBucket({ rate: options.uploadLimit ?? 0 });
  }

  /** The port peers can reach us on (0 until listening, or when not listening). */
  get port(): number {
    const address = this.server?.address();
    return address && typeof address === 'object' ? address.port : 0;
  }

  /** Starts accepting peers (done by the first add()); resolves with the port. */
  listen(): Promise<number> {
    if (this.options.listen === false) return Promise.resolve(0);
    this.listening ??= this.bind();
    return this.listening;
  }

  private async bind(): Promise<number> {
    const first = this.options.port ?? DEFAULT_PORT;
    const attempts = first === 0 ? 1 : PORT_ATTEMPTS;
    let lastError: Error | undefined;
    for (let i = 0; i < attempts; i++) {
      const port = first === 0 ? 0 : first + i;
      const server = net.createServer((socket) => this.onIncoming(socket));
      try {
        await new Promise<void>((resolveListen, reject) => {
          server.once('error', reject);
          server.listen(port, this.options.listenHost, () => {
            server.off('error', reject);
            resolveListen();
          });
        });
        server.on('error', (err) => this.logger.warn({ err: err.message }, 'listening socket error'));
        this.server = server;
        this.logger.info({ port: this.port }, 'listening for peers');
        return this.port;
      } catch (err) {
        lastError = err as Error;
        if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') break;
      }
    }
    throw new ClientError(`cannot listen for peers on port ${first}: ${lastError?.message}`, { cause: lastError });
  }

  private onIncoming(socket: net.Socket): void {
    socket.on('error', () => undefined);
    acceptHandshake(socket, (infoHash) => {
      const torrent = this.torrents.get(Buffer.from(infoHash).toString('hex'));
      return torrent?.swarmForIncoming ? { peerId: this.peerId, torrent } : undefined;
    }).then(
      ({ connection, torrent: { torrent } }) => {
        const swarm = torrent.swarmForIncoming;
        if (swarm) swarm.addIncoming(connection);
        else connection.destroy('torrent stopped');
      },
      (err: Error) => {
        this.logger.debug({ err: err.message, from: socket.remoteAddress }, 'incoming handshake failed');
        socket.destroy();
      },
    );
  }

  /**
   * Adds a torrent (a .torrent path, its bytes, or a parsed Metainfo) and starts it: existing data in
   * `opts.path` is checked, then the download or seeding begins. Resolves once the torrent is registered.
   */
  async add(source: TorrentSource, opts: TorrentOptions): Promise<Torrent> {
    if (this.destroyed) throw new ClientError('the client has been destroyed');
    // Checking the files needs the hashing threads: they boot while the torrent loads. (The writing thread,
    // which a complete torrent never needs, starts at the first write; `torrent download` starts it early.)
    Sha1Pool.shared().prestart();
    const meta = await loadMetainfo(source);
    if (this.torrents.has(meta.infoHashHex)) throw new ClientError(`torrent ${meta.name} (${meta.infoHashHex}) is already added`);
    const port = await this.listen();
    const ctx: TorrentContext = {
      peerId: this.peerId,
      port,
      stateDir: this.options.stateDir ?? defaultStateDir(),
      logger: this.logger.child({ torrent: meta.name }),
      globalDownloadLimit: this.downloadLimit,
      globalUploadLimit: this.uploadLimit,
      trackerTimeoutMs: this.options.trackerTimeoutMs ?? 30_000,
      now: Date.now,
      swarm: {
        maxPeers: this.options.maxPeers ?? 50,
        maxHalfOpen: 16,
        connectTimeoutMs: this.options.connectTimeoutMs ?? 10_000,
        handshakeTimeoutMs: 20_000,
        requestTimeoutMs: this.options.requestTimeoutMs ?? 30_000,
        maxServedRequest: 128 * 1024,
        // As libtorrent allows: a fast downloader keeps this many requests out to us (we tell it so).
        maxQueuedRequests: 2000,
        maxStrikes: 3,
        uploadSlots: this.options.uploadSlots ?? 4,
        clientName: CLIENT_NAME,
      },
    };
    const torrent = new Torrent(meta, { ...opts, path: resolve(opts.path) }, ctx);
    this.torrents.set(meta.infoHashHex, torrent);
    this.emit('torrent', torrent);
    void torrent.start();
    return torrent;
  }

  get(infoHashHex: string): Torrent | undefined {
    return this.torrents.get(infoHashHex.toLowerCase());
  }

  list(): Torrent[] {
    return [...this.torrents.values()];
  }

  /** Stops and forgets one torrent; its data stays on disk. */
  async remove(infoHashHex: string): Promise<void> {
    const torrent = this.torrents.get(infoHashHex.toLowerCase());
    if (!torrent) return;
    this.torrents.delete(torrent.infoHash);
    await torrent.destroy();
  }

  setDownloadLimit(bytesPerSecond: number): void {
    this.downloadLimit.setRate(bytesPerSecond);
  }

  setUploadLimit(bytesPerSecond: number): void {
    this.uploadLimit.setRate(bytesPerSecond);
  }

  /** Stops every torrent (resume data saved, trackers told) and closes the listening socket. */
  async destroy(): Promise<void> {
    if (this.destroyed) return;
    this.destroyed = true;
    await Promise.all([...this.torrents.values()].map((t) => t.destroy()));
    this.torrents.clear();
    await new Promise<void>((done) => (this.server ? this.server.close(() => done()) : done()));
  }
}
