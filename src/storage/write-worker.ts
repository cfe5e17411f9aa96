/** The disk writing thread (see WriteThread): writes each request in full, in the order they came. */
import { writeSync } from 'node:fs';
import { parentPort } from 'node:worker_threads';
import type { WriteReply, WriteRequest } from './write-thread.js';

const port = parentPort!;
port.on('message', ({ id, fd, data, position }: WriteRequest) => {
  let reply: WriteReply = { id };
  try {
    for (let done = 0; done < data.length; ) done += writeSync(fd, data, done, data.length - done, position + done);
  } catch (error) {
    const { message, code } = error as NodeJS.ErrnoException;
    reply = { id, error: { message, code } };
  }
  port.postMessage(reply);
});
