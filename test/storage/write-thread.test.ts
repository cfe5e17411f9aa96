/** The disk writing thread: where data comes from, what a failure says, and that it never holds the process. */
import { test, type TestContext } from 'node:test';
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

/**
 * Runs `body` (an ES module's code) in a node process of its own; resolves with what it printed once the
 * process has exited by itself, or fails if it is still running after 10 s.
 */
async function runAlone(t: TestContext, body: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'write-thread-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  // A script file, not -e: worker threads inherit the parent's node flags, and --input-type breaks them.
  const script = join(dir, 'script.mjs');
  await writeFile(script, body.replaceAll('$DIR', JSON.stringify(dir)));
  const started = Date.now();
  const { stdout } = await promisify(execFile)(process.execPath, [script], { timeout: 20_000 });
  assert.ok(Date.now() - started < 10_000, 'the process exited once its work was done');
  return stdout.trim();
}

const moduleUrl = (path: string) => JSON.stringify(new URL(path, import.meta.url).href);

test('an idle write thread does not keep the process alive', async (t) => {
  const stdout = await runAlone(
    t,
    `import { openSync } from 'node:fs';
     import { join } from 'node:path';
     const { WriteThread } = await import(${moduleUrl('../../src/storage/write-thread.js')});
     await WriteThread.shared.write(openSync(join($DIR, 'out'), 'w'), Buffer.from('x'), 0);
     console.log('written');`,
  );
  assert.equal(stdout, 'written');
});

test('threads started ahead of use and never used do not keep the process alive', async (t) => {
  const stdout = await runAlone(
    t,
    `const { prestartStorageThreads } = await import(${moduleUrl('../../src/storage/index.js')});
     prestartStorageThreads();
     console.log('started');`,
  );
  assert.equal(stdout, 'started');
});
