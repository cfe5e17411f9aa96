/**
 * What the HTTP client makes of answers written byte by byte: framing (length, chunked, until close),
 * interim answers, malformed ones, and servers that send what nobody asked for.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { type AddressInfo, type Socket, createServer } from 'node:net';
import { HttpConnectionError, HttpConnectionPool, HttpGet } from '../../src/http/index.js';
import { seededRandom } from '../support/seeded-random.js';

type TestHooks = { after(fn: () => Promise<void> | void): void };

/**
 * A TCP server that answers each request (read up to its blank line) with the next of `answers`, written as
 * given, in pieces of `pieceBytes` when set. Counts connections and requests.
 */
async function rawServer(t: TestHooks, answers: (string | Buffer)[], pieceBytes?: number) {
  const sockets = new Set<Socket>();
  const stats = { connections: 0, requests: [] as string[] };
  const server = createServer((socket) => {
    stats.connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    let pending = '';
    socket.on('data', (data) => {
      pending += data.toString('latin1');
      for (let end = pending.indexOf('\r\n\r\n'); end >= 0; end = pending.indexOf('\r\n\r\n')) {
        stats.requests.push(pending.slice(0, end));
        pending = pending.slice(end + 4);
        const answer = answers.shift();
        if (answer === undefined) return socket.destroy();
        const bytes = Buffer.from(answer);
        if (pieceBytes === undefined) socket.write(bytes);
        else for (let at = 0; at < bytes.length; at += pieceBytes) socket.write(bytes.subarray(at, at + pieceBytes));
      }
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const pool = new HttpConnectionPool({ idleTimeoutMs: 10_000 });
  t.after(() => {
    pool.destroy();
    for (const socket of sockets) socket.destroy();
    server.close();
  });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/file?x=1`;
  const get = async () => {
    const answer = await HttpGet.send(url, { pool, signal: new AbortController().signal, timeoutsMs: { headers: 5000, body: 5000 } });
    const parts: Buffer[] = [];
    try {
      await answer.readBody((chunk) => {
        // Chunks are views of a reused buffer: keep copies.
        parts.push(Buffer.from(chunk));
        return true;
      });
    } finally {
      answer.close();
    }
    return { status: answer.status, headers: answer.headers, body: Buffer.concat(parts).toString('latin1') };
  };
  return { stats, get, pool, sockets };
}

const ok = (body: string, extra = '') => `HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n${extra}\r\n${body}`;

test('a request carries host, path with query, user agent, identity encoding and the given headers', async (t) => {
  const { stats, get } = await rawServer(t, [ok('x')]);
  await get();
  const [request] = stats.requests;
  assert.match(request, /^GET \/file\?x=1 HTTP\/1\.1\r\n/);
  assert.match(request, /\r\nhost: 127\.0\.0\.1:\d+\r\n/);
  assert.match(request, /\r\nuser-agent: torrent\.ts\r\n/);
  assert.match(request, /\r\naccept-encoding: identity(\r\n|$)/);
});

test('bodies framed by length and by chunks arrive whole, over one kept-alive connection', async (t) => {
  const chunked = 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n';
  for (const pieceBytes of [undefined, 1, 7]) {
    const { stats, get } = await rawServer(t, [ok('first'), chunked, ok('third')], pieceBytes);
    assert.equal((await get()).body, 'first');
    assert.equal((await get()).body, 'hello world');
    assert.equal((await get()).body, 'third');
    assert.equal(stats.connections, 1, `written in pieces of ${pieceBytes ?? 'any number of'} bytes`);
  }
});

test('an answer read until the server closes ends with the close', async (t) => {
  const { sockets, get } = await rawServer(t, ['HTTP/1.0 200 OK\r\n\r\nuntil the end']);
  const answer = get();
  await new Promise((resolve) => setTimeout(resolve, 100));
  for (const socket of sockets) socket.end();
  assert.equal((await answer).body, 'until the end');
});

test('interim 1xx answers are skipped; repeated headers are joined; names are lower case', async (t) => {
  const { get } = await rawServer(t, [
    'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 206 Partial Content\r\nX-Part: a\r\nx-part: b\r\nContent-Length: 2\r\n\r\nok',
  ]);
  const answer = await get();
  assert.equal(answer.status, 206);
  assert.equal(answer.headers['x-part'], 'a, b');
  assert.equal(answer.body, 'ok');
});

test('malformed answers fail with an HttpConnectionError and their connection is not reused', async (t) => {
  const malformed = [
    'HTTP/1.1 200 OK\r\nContent-Length: 12x\r\n\r\nhello',
    'HTTP/1.1 200 OK\r\nContent-Length: -5\r\n\r\nhello',
    'HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nhello',
    'SMTP ready\r\n\r\n',
    // Headers are held to 80 KiB, checked after each read.
    `HTTP/1.1 200 OK\r\nX-Big: ${'a'.repeat(300 * 1024)}\r\n\r\n`,
    // Two answers to one request.
    `${ok('one')}${ok('two')}`,
  ];
  for (const answer of malformed) {
    const { stats, get } = await rawServer(t, [answer, ok('fine')]);
    await assert.rejects(get(), (error: unknown) => {
      assert.ok(error instanceof HttpConnectionError, `${JSON.stringify(answer.slice(0, 40))}: ${String(error)}`);
      assert.match(error.message, /malformed HTTP response/);
      return true;
    });
    assert.equal((await get()).body, 'fine');
    assert.equal(stats.connections, 2);
  }
});

test('a body cut short by the server closing is an HttpConnectionError, not a short success', async (t) => {
  const { get, sockets } = await rawServer(t, ['HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this']);
  const answer = get();
  await new Promise((resolve) => setTimeout(resolve, 100));
  for (const socket of sockets) socket.end();
  await assert.rejects(answer, /connection to 127\.0\.0\.1:\d+ failed: the server closed the connection before the response was complete/);
});

test('data from the server while no request waits drops that connection; the next request opens another', async (t) => {
  const { stats, get, sockets } = await rawServer(t, [ok('one'), ok('two')]);
  assert.equal((await get()).body, 'one');
  for (const socket of sockets) socket.write('HTTP/1.1 200 OK\r\n\r\n');
  await new Promise((resolve) => setTimeout(resolve, 100));
  assert.equal((await get()).body, 'two');
  assert.equal(stats.connections, 2);
});

test('with its connections busy, a request waits for one; aborting the wait rejects with the reason', async (t) => {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.once('data', () => socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n'));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const pool = new HttpConnectionPool({ connectionsPerHost: 1, idleTimeoutMs: 10_000 });
  t.after(() => {
    pool.destroy();
    for (const socket of sockets) socket.destroy();
    server.close();
  });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  const first = await HttpGet.send(url, { pool, signal: new AbortController().signal });
  const controller = new AbortController();
  const second = HttpGet.send(url, { pool, signal: controller.signal });
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.equal(sockets.size, 1, 'the second request waits instead of opening a connection');
  controller.abort(new Error('no longer needed'));
  await assert.rejects(second, /no longer needed/);
  first.close();
});

test('header values with line breaks are refused before anything is sent', async (t) => {
  const { stats } = await rawServer(t, [ok('x')]);
  const pool = new HttpConnectionPool({ idleTimeoutMs: 1000 });
  t.after(() => pool.destroy());
  await assert.rejects(
    HttpGet.send('http://127.0.0.1:9/', { pool, signal: new AbortController().signal, userAgent: 'a\r\nx-evil: 1' }),
    TypeError,
  );
  assert.equal(stats.connections, 0);
});

test('random bytes as an answer fail or succeed, never crash or hang', async (t) => {
  const random = seededRandom(7);
  const prefixes = ['', 'HTTP/1.1 200 OK\r\n', 'HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n'];
  for (let round = 0; round < 40; round++) {
    const noise = Buffer.from(Array.from({ length: Math.floor(random() * 200) }, () => Math.floor(random() * 256)));
    const answer = Buffer.concat([Buffer.from(prefixes[round % prefixes.length]), noise]);
    const { get, sockets } = await rawServer(t, [answer]);
    const result = get().then(
      () => 'answered',
      (error: unknown) => {
        assert.ok(error instanceof HttpConnectionError, String(error));
        return 'failed';
      },
    );
    // Whatever was sent, the exchange ends once the server closes.
    setTimeout(() => {
      for (const socket of sockets) socket.end();
    }, 20);
    assert.match(await result, /answered|failed/);
  }
});
