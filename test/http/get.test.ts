/** HttpGet's own rules, beyond what the tracker and web seed tests show through it. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { HttpConnectionError, HttpConnectionPool, HttpGet } from '../../src/http/index.js';

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
  server.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  t.after(() => {
    server.closeAllConnections();
    server.close();
  });
  const pool = new HttpConnectionPool({ idleTimeoutMs: 10_000 });
  t.after(() => pool.destroy());
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  for (let i = 0; i < 3; i++) {
    const get = await HttpGet.send(url, { pool, signal: new AbortController().signal });
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
