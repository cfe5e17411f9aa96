/** The disk writing thread: where data comes from, what a failure says, and that it never holds the process. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { WriteThread } from '../../src/storage/write-thread.js';

test('writes land at their positions, from shared memory and from views of ordinary memory', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'write-thread-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const handle = await open(join(dir, 'file'), 'w+');
  t.after(() => handle.close());
  const shared = Buffer.from(new SharedArrayBuffer(8));
  shared.write('sharedAB');
  // A short Buffer is a view into Node's shared 8 KiB slab: only its own bytes may travel, and the caller's
  // memory must stay usable.
  const view = Buffer.from('view');
  const thread = new WriteThread();
  await Promise.all([thread.write(handle.fd, shared, 4), thread.write(handle.fd, view, 0), thread.write(handle.fd, view, 12)]);
  assert.equal(view.toString(), 'view');
  assert.equal(await readFile(join(dir, 'file'), 'latin1'), 'viewsharedABview');
});

test('a failed write rejects with the errno code', async () => {
  const thread = new WriteThread();
  await assert.rejects(thread.write(987_654, Buffer.from('x'), 0), (error: unknown) => {
    assert.equal((error as NodeJS.ErrnoException).code, 'EBADF');
    return true;
  });
});

test('an idle write thread does not keep the process alive', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'write-thread-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const module = JSON.stringify(new URL('../../src/storage/write-thread.js', import.meta.url).href);
  // A script file, not -e: worker threads inherit the parent's node flags, and --input-type breaks them.
  const script = join(dir, 'write-once.mjs');
  await writeFile(
    script,
    `import { openSync } from 'node:fs';
     const { WriteThread } = await import(${module});
     await WriteThread.shared.write(openSync(${JSON.stringify(join(dir, 'out'))}, 'w'), Buffer.from('x'), 0);
     console.log('written');`,
  );
  const started = Date.now();
  const { stdout } = await promisify(execFile)(process.execPath, [script], { timeout: 20_000 });
  assert.equal(stdout.trim(), 'written');
  assert.ok(Date.now() - started < 10_000, 'exited once the write was done');
});
