/**
 * A Sha1Pool worker: keeps the SHA-1 state of the streams it was given and advances them in message order,
 * so an update posted before a digest request is always part of the digest.
 *
 * With the native multi-lane SHA-1, the worker hashes the streams that have bytes waiting together, up to
 * four at a time: messages are queued as they arrive and the queue is worked off once the burst has been
 * read (pieces from a web seed or from fast peers arrive many at once). Replies keep the order of the
 * requests: acknowledgements in the order of their updates, digests after their stream's updates.
 */
import { createHash, type Hash } from 'node:crypto';
import { parentPort } from 'node:worker_threads';
import type { Sha1Reply, Sha1Request } from './messages.js';
import { finishLanes, MAX_SHA1_LANES, SHA1_BLOCK, sha1Lanes, type Sha1Lanes } from './sha1-lanes.js';

const ZEROS = Buffer.alloc(64 * 1024);

const port = parentPort;
if (port === null) throw new Error('sha1-worker.js must run as a worker thread');

if (sha1Lanes === undefined) {
  const streams = new Map<number, Hash>();
  const stream = (id: number): Hash => {
    let hash = streams.get(id);
    if (hash === undefined) {
      hash = createHash('sha1');
      streams.set(id, hash);
    }
    return hash;
  };
  port.on('message', (request: Sha1Request) => {
    switch (request.op) {
      case 'update':
        stream(request.id).update(request.data);
        if (request.ack) port.postMessage({ type: 'hashed' } satisfies Sha1Reply);
        break;
      case 'zeros':
        for (let left = request.length; left > 0; left -= ZEROS.length) {
          stream(request.id).update(ZEROS.subarray(0, Math.min(left, ZEROS.length)));
        }
        break;
      case 'digest':
        port.postMessage({ type: 'digest', id: request.id, digest: stream(request.id).digest() } satisfies Sha1Reply);
        streams.delete(request.id);
        break;
      case 'discard':
        streams.delete(request.id);
        break;
    }
  });
} else {
  const lanes = sha1Lanes;
  const queue: Sha1Request[] = [];
  port.on('message', (request: Sha1Request) => {
    if (queue.length === 0) setImmediate(() => workOff(lanes, queue.splice(0)));
    queue.push(request);
  });
}

/** A stream's SHA-1 state (the native lanes' 20 bytes), its bytes not yet hashed, and the odd tail of a block. */
interface LaneStream {
  state: Uint8Array;
  length: number;
  waiting: Uint8Array[];
  tail: Uint8Array;
}

/**
 * Works off a burst of requests: the updates in lanes, then the replies in request order. A digest takes
 * its stream out of the map but is computed only once every stream's bytes are hashed, so a burst of
 * "update, digest" pairs (a check reading many pieces) still fills the lanes.
 */
function workOff(lanes: Sha1Lanes, requests: Sha1Request[]): void {
  const replies: (Sha1Reply | { id: number; finishing: LaneStream })[] = [];
  const finishing: LaneStream[] = [];
  for (const request of requests) {
    switch (request.op) {
      case 'update':
        laneStream(lanes, request.id).waiting.push(request.data);
        if (request.ack) replies.push({ type: 'hashed' });
        break;
      case 'zeros': {
        const s = laneStream(lanes, request.id);
        for (let left = request.length; left > 0; left -= ZEROS.length) s.waiting.push(ZEROS.subarray(0, Math.min(left, ZEROS.length)));
        break;
      }
      case 'digest': {
        const s = laneStream(lanes, request.id);
        laneStreams.delete(request.id);
        finishing.push(s);
        replies.push({ id: request.id, finishing: s });
        break;
      }
      case 'discard':
        laneStreams.delete(request.id);
        break;
    }
  }
  hashWaiting(lanes, [...laneStreams.values(), ...finishing]);
  for (const reply of replies) {
    if (!('finishing' in reply)) port!.postMessage(reply);
    else {
      const { id, finishing: s } = reply;
      port!.postMessage({ type: 'digest', id, digest: finishLanes(lanes, s.state, s.length + s.tail.length, s.tail) } satisfies Sha1Reply);
    }
  }
}

const laneStreams = new Map<number, LaneStream>();

function laneStream(lanes: Sha1Lanes, id: number): LaneStream {
  let s = laneStreams.get(id);
  if (s === undefined) {
    s = { state: new Uint8Array(20), length: 0, waiting: [], tail: new Uint8Array(0) };
    lanes.init(s.state);
    laneStreams.set(id, s);
  }
  return s;
}

/**
 * Hashes every stream's waiting bytes, up to four streams at a time over the length they all have waiting
 * in whole blocks; bytes short of a block wait in the stream's tail for the next update or the digest.
 */
function hashWaiting(lanes: Sha1Lanes, streams: LaneStream[]): void {
  const busy = streams.filter((s) => s.waiting.length > 0);
  for (const s of busy) absorbTail(lanes, s);
  for (;;) {
    const group = busy.filter((s) => s.waiting.length > 0 && s.waiting[0].length >= SHA1_BLOCK).slice(0, MAX_SHA1_LANES);
    if (group.length === 0) break;
    let common = Math.min(...group.map((s) => s.waiting[0].length));
    common -= common % SHA1_BLOCK;
    const state = new Uint8Array(20 * group.length);
    group.forEach((s, lane) => state.set(s.state, 20 * lane));
    lanes.update(state, group.map((s) => s.waiting[0].subarray(0, common)));
    group.forEach((s, lane) => {
      s.state.set(state.subarray(20 * lane, 20 * lane + 20));
      s.length += common;
      const rest = s.waiting[0].subarray(common);
      if (rest.length === 0) s.waiting.shift();
      else s.waiting[0] = rest;
      absorbTail(lanes, s);
    });
  }
}

/**
 * Moves bytes short of a whole block out of the stream's waiting list into its tail (a copy: the caller's
 * buffer is released once acknowledged), and hashes the tail once it fills a block.
 */
function absorbTail(lanes: Sha1Lanes, s: LaneStream): void {
  while (s.waiting.length > 0 && (s.tail.length > 0 || s.waiting[0].length < SHA1_BLOCK)) {
    const head = s.waiting[0];
    const take = Math.min(SHA1_BLOCK - s.tail.length, head.length);
    const tail = new Uint8Array(s.tail.length + take);
    tail.set(s.tail);
    tail.set(head.subarray(0, take), s.tail.length);
    s.tail = tail;
    if (take === head.length) s.waiting.shift();
    else s.waiting[0] = head.subarray(take);
    if (s.tail.length === SHA1_BLOCK) {
      lanes.update(s.state, [s.tail]);
      s.length += SHA1_BLOCK;
      s.tail = new Uint8Array(0);
    }
  }
}
