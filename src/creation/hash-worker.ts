/**
 * Hash worker: hashes the jobs the piece hasher posts, reading the files itself so the main thread never
 * touches their data. Its reads are synchronous: this thread has nothing else to do, and a read done here
 * costs less than one handed to libuv's thread pool, whose threads would compete with the hashing threads
 * for the same cores.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { HashJob, HashWorkerData, HashWorkerReply } from './hash-job.js';
import { JobHasher } from './job-hasher.js';

const hasher = new JobHasher(workerData as HashWorkerData);

const port = parentPort;
if (port === null) throw new Error('hash-worker.js must run as a worker thread');
port.on('message', (job: HashJob) => {
  let reply: HashWorkerReply;
  try {
    reply = { type: 'hashed', first: job.first, count: job.count, hashes: hasher.run(job) };
  } catch (err) {
    port.postMessage({ type: 'failed', message: err instanceof Error ? err.message : String(err) } satisfies HashWorkerReply);
    return;
  }
  port.postMessage(reply, [reply.hashes.buffer as ArrayBuffer]);
});
