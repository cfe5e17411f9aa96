/**
 * A Sha1Pool worker: keeps the SHA-1 state of the streams it was given and advances them in message order,
 * so an update posted before a digest request is always part of the digest.
 */
import { createHash, type Hash } from 'node:crypto';
import { parentPort } from 'node:worker_threads';
import type { Sha1Reply, Sha1Request } from './messages.js';

const ZEROS = Buffer.alloc(64 * 1024);
const streams = new Map<number, Hash>();

function stream(id: number): Hash {
  let hash = streams.get(id);
  if (hash === undefined) {
    hash = createHash('sha1');
    streams.set(id, hash);
  }
  return hash;
}

const port = parentPort;
if (port === null) throw new Error('sha1-worker.js must run as a worker thread');
port.on('message', (request: Sha1Request) => {
  switch (request.op) {
    case 'update':
      stream(request.id).update(request.data);
      if (request.ack) port.postMessage({ type: 'hashed' } satisfies Sha1Reply);
      break;
    case 'zeros': {
      const hash = stream(request.id);
      for (let left = request.length; left > 0; left -= ZEROS.length) hash.update(ZEROS.subarray(0, Math.min(left, ZEROS.length)));
      break;
    }
    case 'digest': {
      const digest = stream(request.id).digest();
      streams.delete(request.id);
      const reply: Sha1Reply = { type: 'digest', id: request.id, digest };
      port.postMessage(reply);
      break;
    }
    case 'discard':
      streams.delete(request.id);
      break;
  }
});
