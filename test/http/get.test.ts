/** HttpGet's own rules, beyond what the tracker and web seed tests show through it. */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server as HttpServer } from 'node:http';
import { type AddressInfo, createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';
import { HttpConnectionError, HttpConnectionPool, HttpGet } from '../../src/http/index.js';

/**
 * Starts `server` on 127.0.0.1 and a connection pool, both closed when the test ends; returns the pool and
 * the server's root URL (without the final slash).
 */
async function serve(
  t: TestContext,
  server: HttpServer | NetServer,
): Promise<{ base: string; pool: HttpConnectionPool }> {
  server.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  t.after(() => {
    if ('closeAllConnections' in server) server.closeAllConnections();
    server.close();
  });
  const pool = new HttpConnectionPool({ idleTimeoutMs: 10_000 });
  t.after(() => pool.destroy());
  return { base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, pool };
}

async function readText(get: HttpGet): Promise<string> {
  let text = '';
  await get.readBody((chunk) => {
    text += chunk.toString();
    return true;
  });
  return text;
}

test('a GET sent on a kept-alive connection the server has just closed is sent again, on a new one', async (t) => {
  // A server that closes idle connections without saying so (opentracker does after every answer) may do it
  // just as the next request goes out: here it drops the connection on a second request instead of answering.
  const answered = new WeakSet<Socket>();
  let requests = 0;
  const server = createServer((req, res) => {
    requests++;
    if (answered.has(req.socket)) return req.socket.destroy();
    answered.add(req.socket);
    res.end('hello');
  });
  const { base, pool } = await serve(t, server);
  for (let i = 0; i < 3; i++) {
    const get = await HttpGet.send(`${base}/`, { pool, signal: new AbortController().signal });
    assert.equal(await readText(get), 'hello');
  }
  assert.equal(requests, 5, 'the second and third GETs were each sent twice');
});

test('a refused connection fails at once, with an HttpConnectionError naming the host', async (t) => {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  await new Promise((resolve) => server.close(resolve));
  const pool = new HttpConnectionPool({ idleTimeoutMs: 10_000 });
  t.after(() => pool.destroy());
  await assert.rejects(HttpGet.send(url, { pool, signal: new AbortController().signal }), (error: unknown) => {
    assert.ok(error instanceof HttpConnectionError);
    assert.match(error.message, /^connection to 127\.0\.0\.1:\d+ failed: connect ECONNREFUSED/);
    return true;
  });
});

test('a body read with a place to land in is read straight into it, never past its end', async (t) => {
  const STRAY = Buffer.from('HTTP/1.1 200 OK\r\n');
  const payload = Buffer.alloc(300_000);
  for (let i = 0; i < payload.length; i++) payload[i] = (i * 7) % 251;
  // Each answer is followed at once by stray bytes: reading past the body would put them in the place given.
  // The answers say the connection closes, so no later request goes out on one with stray bytes pending.
  const server = createNetServer((socket) => {
    socket.on('error', () => {}); // the client may drop the connection when the stray bytes arrive
    socket.on('data', (request) => {
      const body = request.toString('latin1').startsWith('GET /short ') ? payload.subarray(0, 200_000) : payload;
      const head = `HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: ${body.length}\r\n\r\n`;
      socket.end(Buffer.concat([Buffer.from(head), body, STRAY]));
    });
  });
  const { base, pool } = await serve(t, server);

  /**
   * Reads `path` with `place` to land in (copying nothing there itself); returns the body as received and
   * the ranges of it that came as views of `place`, at their own offset.
   */
  async function read(path: string, place: Buffer): Promise<{ body: Buffer; inPlace: [number, number][] }> {
    const get = await HttpGet.send(base + path, { pool, signal: new AbortController().signal });
    const parts: Buffer[] = [];
    const inPlace: [number, number][] = [];
    let received = 0;
    await get.readBody((chunk) => {
      if (chunk.buffer === place.buffer && chunk.byteOffset === place.byteOffset + received) {
        inPlace.push([received, received + chunk.length]);
      }
      parts.push(Buffer.from(chunk));
      received += chunk.length;
      return true;
    }, place);
    return { body: Buffer.concat(parts), inPlace };
  }

  // Room to spare: the body lands in place and the bytes after it stay as they were.
  const roomy = Buffer.alloc(payload.length + 1000, 0xee);
  const first = await read('/', roomy);
  assert.deepEqual(first.body, payload);
  assert.ok(first.inPlace.length > 0, 'parts after the first read landed in place');
  for (const [from, to] of first.inPlace) assert.deepEqual(roomy.subarray(from, to), payload.subarray(from, to));
  assert.ok(roomy.subarray(payload.length).every((byte) => byte === 0xee), 'nothing written past the body');

  // Too little room: what fits lands in place, the rest comes through the read buffer.
  const tight = Buffer.alloc(100_000, 0xee);
  const second = await read('/short', tight);
  assert.deepEqual(second.body, payload.subarray(0, 200_000));
  for (const [from, to] of second.inPlace) {
    assert.ok(to <= tight.length);
    assert.deepEqual(tight.subarray(from, to), payload.subarray(from, to));
  }
  const third = await read('/', Buffer.alloc(payload.length));
  assert.deepEqual(third.body, payload);
});

test('a long body read straight into its place leaves its kept-alive connection for the next request', async (t) => {
  // The read that ends such a body can be far longer than the parser's limit on header bytes, which it
  // applies to a call that ends between two answers.
  const payload = Buffer.alloc(2_000_000, 7);
  let connections = 0;
  const server = createServer((req, res) => res.end(payload));
  server.on('connection', () => connections++);
  const { base, pool } = await serve(t, server);
  for (let i = 0; i < 3; i++) {
    const place = Buffer.alloc(payload.length);
    const get = await HttpGet.send(`${base}/`, { pool, signal: new AbortController().signal });
    let received = 0;
    await get.readBody((chunk) => {
      if (chunk.buffer !== place.buffer) chunk.copy(place, received);
      received += chunk.length;
      return true;
    }, place);
    assert.deepEqual(place, payload);
  }
  assert.equal(connections, 1, 'all three answers came over one connection');
});
