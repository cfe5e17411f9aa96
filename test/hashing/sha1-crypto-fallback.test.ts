/**
 * Without the native SHA-1 (not built, a CPU without SHA extensions, or TORRENT_TS_NATIVE_SHA1=off), the
 * hashing threads and torrent creation use node:crypto: their tests pass that way too.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

test('the hashing pool and piece hashing pass their tests with node:crypto alone', { timeout: 120_000 }, async () => {
  const files = ['./sha1-pool.test.js', '../creation/hash-lanes.test.js'].map((f) => fileURLToPath(new URL(f, import.meta.url)));
  // Without NODE_TEST_CONTEXT, which would make the inner runner report to this one instead of printing.
  const { NODE_TEST_CONTEXT: _, ...outer } = process.env;
  const env = { ...outer, TORRENT_TS_NATIVE_SHA1: 'off' };
  const { stdout } = await promisify(execFile)(process.execPath, ['--test', '--test-reporter=tap', ...files], { env }).catch(
    (error: { stdout?: string; stderr?: string }) => assert.fail(`tests failed without the native SHA-1:\n${error.stdout}\n${error.stderr}`),
  );
  assert.match(stdout, /^# fail 0$/m);
  assert.match(stdout, /^# pass [1-9]\d*$/m);
});
