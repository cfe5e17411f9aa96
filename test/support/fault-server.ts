/**
 * A node:http file server on 127.0.0.1 that serves a folder with single-range support (like nginx) and
 * misbehaves on demand: per request path, queued faults are used one request each, then it serves normally.
 */
import { readFile } from 'node:fs/promises';
import { type IncomingMessage, type ServerResponse, createServer } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { Socket } from 'node:net';
import { resolve, sep } from 'node:path';

export type Fault =
  /** Answer with this status (and headers, e.g. Retry-After) and a small text body. */
  | { kind: 'status'; status: number; headers?: Record<string, string> }
  /** 200 with the whole file, as a server without Range support does. */
  | { kind: 'ignore-range' }
  /** 206 for the range asked, but the (chunked, cleanly ended) body stops after `bytes` bytes. */
  | { kind: 'short-body'; bytes: number }
  /** Promise the full range, send `afterBytes` bytes, then reset the connection. */
  | { kind: 'reset'; afterBytes: number }
  /** Send nothing at all (no headers), or headers and `afterBytes` body bytes, then hang. */
  | { kind: 'stall'; afterBytes?: number }
  /** The right range with every byte inverted. */
  | { kind: 'wrong-bytes' }
  /** 206 whose Content-Range names the range one byte later than asked. */
  | { kind: 'wrong-range' }
  /** Redirect; `location` is sent as-is (absolute or relative). */
  | { kind: 'redirect'; status: 301 | 302 | 303 | 307 | 308; location: string };

export interface ServedRequest {
  /** Decoded URL path, e.g. "/multi/a b.txt". */
  path: string;
  range: string | undefined;
  /** The fault used for this request, if any. */
  fault: Fault['kind'] | undefined;
}

export interface FaultServer {
  /** http://127.0.0.1:<port>/ (https with `tls`) — the folder's root. */
  url: string;
  /** Every request received, in order. */
  readonly requests: ServedRequest[];
  /** Connections accepted so far, and how many of them are still open. */
  connections(): { accepted: number; open: number };
  /** Queue faults for `path` (decoded, starting with '/'): each next request for it uses the next fault. */
  inject(path: string, ...faults: Fault[]): void;
  close(): Promise<void>;
}

interface ByteRange {
  start: number;
  end: number;
}

/** A single "bytes=a-b" or "bytes=a-" range; anything else is ignored like a server without support would. */
function parseRange(header: string | undefined, size: number): ByteRange | 'unsatisfiable' | undefined {
  const match = header === undefined ? null : /^bytes=(\d+)-(\d*)$/.exec(header);
  if (!match) return undefined;
  const start = Number(match[1]);
  if (start >= size) return 'unsatisfiable';
  const end = match[2] === '' ? size - 1 : Math.min(Number(match[2]), size - 1);
  return end < start ? undefined : { start, end };
}

export interface FaultServerOptions {
  /** Serve https with this certificate. */
  tls?: { key: string; cert: string };
}

export async function startFaultServer(root: string, options: FaultServerOptions = {}): Promise<FaultServer> {
  const rootDir = resolve(root);
  const faults = new Map<string, Fault[]>();
  const requests: ServedRequest[] = [];

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://127.0.0.1').pathname);
    const fault = faults.get(path)?.shift();
    requests.push({ path, range: req.headers.range, fault: fault?.kind });

    if (fault?.kind === 'status') {
      res.writeHead(fault.status, { 'content-type': 'text/plain', ...fault.headers });
      res.end(`fault ${fault.status}\n`);
      return;
    }
    if (fault?.kind === 'redirect') {
      res.writeHead(fault.status, { location: fault.location, 'content-length': '0' });
      res.end();
      return;
    }
    if (fault?.kind === 'stall' && fault.afterBytes === undefined) return; // never answer

    const file = resolve(rootDir, `.${path}`);
    const data = file.startsWith(rootDir + sep) ? await readFile(file).catch(() => undefined) : undefined;
    if (data === undefined) {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('not found\n');
      return;
    }
    const range = parseRange(req.headers.range, data.length);
    if (range === 'unsatisfiable') {
      res.writeHead(416, { 'content-range': `bytes */${data.length}` });
      res.end();
      return;
    }
    if (range === undefined || fault?.kind === 'ignore-range') {
      res.writeHead(200, { 'content-length': String(data.length), 'accept-ranges': 'none' });
      res.end(data);
      return;
    }
    const body = data.subarray(range.start, range.end + 1);
    const contentRange = `bytes ${range.start}-${range.end}/${data.length}`;
    switch (fault?.kind) {
      case 'short-body':
        // No Content-Length: chunked encoding lets the body end early without a framing error.
        res.writeHead(206, { 'content-range': contentRange });
        res.end(body.subarray(0, fault.bytes));
        return;
      case 'reset':
        res.writeHead(206, { 'content-range': contentRange, 'content-length': String(body.length) });
        res.write(body.subarray(0, fault.afterBytes), () => res.socket?.resetAndDestroy());
        return;
      case 'stall':
        res.writeHead(206, { 'content-range': contentRange, 'content-length': String(body.length) });
        res.write(body.subarray(0, fault.afterBytes));
        return; // and never end
      case 'wrong-bytes':
        res.writeHead(206, { 'content-range': contentRange, 'content-length': String(body.length) });
        res.end(body.map((byte) => byte ^ 0xff));
        return;
      case 'wrong-range':
        res.writeHead(206, {
          'content-range': `bytes ${range.start + 1}-${range.end + 1}/${data.length}`,
          'content-length': String(body.length),
        });
        res.end(body);
        return;
      default:
        res.writeHead(206, { 'content-range': contentRange, 'content-length': String(body.length) });
        res.end(body);
    }
  }

  const listener = (req: IncomingMessage, res: ServerResponse) => {
    handle(req, res).catch((error: unknown) => {
      res.destroy(error instanceof Error ? error : new Error(String(error)));
    });
  };
  const server = options.tls ? createTlsServer(options.tls, listener) : createServer(listener);
  // Like nginx's 75 s: an idle keep-alive connection stays open for as long as the client keeps it.
  server.keepAliveTimeout = 75_000;
  const connections = { accepted: 0, open: 0 };
  server.on('connection', (socket: Socket) => {
    connections.accepted++;
    connections.open++;
    socket.once('close', () => connections.open--);
  });
  await new Promise<void>((resolveListen, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolveListen);
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('fault server has no port');

  return {
    url: `${options.tls ? 'https' : 'http'}://127.0.0.1:${address.port}/`,
    requests,
    connections: () => ({ ...connections }),
    inject(path, ...queued) {
      faults.set(path, [...(faults.get(path) ?? []), ...queued]);
    },
    async close() {
      const closed = new Promise<void>((resolveClose) => server.close(() => resolveClose()));
      // Stalled responses would keep close() waiting forever.
      server.closeAllConnections();
      await closed;
    },
  };
}
