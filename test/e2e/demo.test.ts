/** `torrent demo` runs the whole offline swarm to success, and cleans up after itself, also when interrupted. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { access } from 'node:fs/promises';
import { runCli } from './seed-harness.js';

const WORK_DIR = /all on 127\.0\.0\.1, in (\S+)$/;

test('torrent demo downloads the sample through our tracker and finds every byte identical', { timeout: 90_000 }, async (t) => {
  const demo = runCli(t, ['demo']);
  const code = await demo.exited;
  const output = demo.lines.join('\n');
  assert.equal(code, 0, `${output}\n${demo.stderr()}`);
  assert.match(output, /tracker +http:\/\/127\.0\.0\.1:\d+\/announce/);
  assert.match(output, /seeder +127\.0\.0\.1:\d+/);
  // The downloader (a child process sharing our stdout) reported completion itself.
  assert.match(output, /complete, every piece verified \(\d+ bytes\)/);
  assert.match(output, /demo complete: [\d.]+ MiB downloaded in [\d.]+ s \([\d.]+ MiB\/s\)/);
  assert.match(output, /the seeder uploaded [\d.]+ MiB/);
  assert.match(output, /every byte identical: 5 files, \d+ bytes compared/);
  const [, workDir] = output.match(new RegExp(WORK_DIR.source, 'm'))!;
  await assert.rejects(access(workDir), { code: 'ENOENT' }, `${workDir} was removed`);
});

test('an interrupted demo stops the downloader, cleans up and exits 130', { timeout: 60_000 }, async (t) => {
  const demo = runCli(t, ['demo']);
  const [, workDir] = await demo.waitForLine(WORK_DIR, 20_000);
  await demo.waitForLine(/^ {2}downloader /, 30_000);
  await new Promise((resolve) => setTimeout(resolve, 500));
  demo.child.kill('SIGINT');
  assert.equal(await demo.exited, 130, `${demo.lines.join('\n')}\n${demo.stderr()}`);
  assert.match(demo.lines.join('\n'), /demo interrupted/);
  await assert.rejects(access(workDir), { code: 'ENOENT' }, `${workDir} was removed`);
});
