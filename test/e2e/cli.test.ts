/**
 * The `torrent` command end to end, as a child process with piped (non-TTY) output: download from a --peer
 * with no tracker, --json as NDJSON, plain progress lines, `info`, the no-peers timeout, Ctrl-C, and a reader
 * that stops reading.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { needLibtorrent } from '../support/interop.js';
import { startLibtorrentSeeder } from '../support/libtorrent.js';
import {
  assertSameTree,
  defer,
  downloadArgs,
  E2E_TIMEOUT_MS,
  lastProgress,
  makeScenario,
  parseNdjson,
  runCli,
  runCliToEnd,
} from '../support/swarm-fixture.js';

const KiB = 1024;
const MiB = 1024 * KiB;

test('download from --peer with no tracker: exit 0, --json is NDJSON ending in done', { skip: needLibtorrent(), timeout: E2E_TIMEOUT_MS }, async (t) => {
  const s = await makeScenario(t, 'no-tracker', { 'a.bin': 500_000, 'b/c.bin': 70_001 }, { pieceLength: 32 * KiB, seed: 41 });
  assert.deepEqual(s.meta.announceTiers, [], 'the torrent names no tracker');
  const seeder = await startLibtorrentSeeder(s.torrentPath, s.seedDir);
  defer(t, () => seeder.stop());

  const result = await runCliToEnd(t, downloadArgs(s, '--peer', `127.0.0.1:${seeder.port}`, '--json'));
  assert.equal(result.code, 0, `exit code\n${result.stderr}`);
  assert.equal(result.stderr, '', 'nothing on stderr');
  await assertSameTree(s.downloaded, s.original);

  const events = parseNdjson(result.stdout);
  for (const e of events) {
    assert.equal(typeof e.event, 'string', `every line names its event: ${JSON.stringify(e)}`);
    assert.ok(!Number.isNaN(Date.parse(String(e.time))), 'every line has a timestamp');
  }
  const names = events.map((e) => e.event);
  assert.equal(names[0], 'start');
  assert.deepEqual(events[0].infoHash, s.meta.infoHashHex);
  const done = events.find((e) => e.event === 'done');
  assert.ok(done, `a done event among ${names.join(', ')}`);
  assert.equal(done.verifiedBytes, s.meta.totalLength);
  assert.equal(done.pieces, s.meta.pieceCount);
  assert.ok(names.indexOf('done') > names.indexOf('start'));
  const final = lastProgress(result.stdout);
  assert.equal(final.verifiedBytes, s.meta.totalLength);
  assert.ok(final.downloadedFromPeers >= s.meta.totalLength);
});

test('output that is not a terminal is plain lines, without carriage returns or escape codes', { skip: needLibtorrent(), timeout: E2E_TIMEOUT_MS }, async (t) => {
  const s = await makeScenario(t, 'plain.bin', 1 * MiB + 1, { pieceLength: 64 * KiB, seed: 43 });
  const seeder = await startLibtorrentSeeder(s.torrentPath, s.seedDir);
  defer(t, () => seeder.stop());

  const result = await runCliToEnd(t, downloadArgs(s, '--peer', `127.0.0.1:${seeder.port}`));
  assert.equal(result.code, 0, `exit code\n${result.stderr}`);
  await assertSameTree(s.downloaded, s.original);
  for (const text of [result.stdout, result.stderr]) {
    assert.ok(!text.includes('\r'), `no carriage return in ${JSON.stringify(text)}`);
    assert.ok(!text.includes('\x1b'), `no escape code in ${JSON.stringify(text)}`);
  }
  const lines = result.stdout.split('\n').filter((l) => l.length > 0);
  assert.ok(lines.length >= 2, `a progress line and a completion line:\n${result.stdout}`);
  for (const line of lines) assert.match(line, /^plain\.bin: /, 'every line names the torrent');
  assert.ok(lines.some((l) => /100\.0%/.test(l)), `a line shows 100%:\n${result.stdout}`);
  assert.match(lines.join('\n'), new RegExp(`complete, every piece verified \\(${s.meta.totalLength} bytes\\)`));
});

test('torrent info and info --json show name, info-hash, size, pieces, files and trackers', { timeout: E2E_TIMEOUT_MS }, async (t) => {
  const tiers = [['http://127.0.0.1:6969/announce', 'udp://127.0.0.1:6969'], ['http://127.0.0.1:7070/announce']];
  const s = await makeScenario(t, 'described', { 'one.bin': 100_000, 'sub/two.txt': 5, 'sub/empty': 0 }, { pieceLength: 16 * KiB, seed: 45, tiers, comment: 'e2e' });

  const human = await runCliToEnd(t, ['info', s.torrentPath]);
  assert.equal(human.code, 0, human.stderr);
  const text = human.stdout;
  assert.match(text, /^name: +described$/m);
  assert.match(text, new RegExp(`^info-hash: +${s.meta.infoHashHex}$`, 'm'));
  assert.match(text, new RegExp(`^total size: .*\\(${s.meta.totalLength} bytes\\)$`, 'm'));
  assert.match(text, new RegExp(`^pieces: +${s.meta.pieceCount} x 16\\.0 KiB$`, 'm'));
  assert.match(text, /^files: +3$/m);
  for (const f of ['described/one.bin', 'described/sub/two.txt', 'described/sub/empty']) assert.ok(text.includes(`  ${f}  (`), `lists ${f}`);
  assert.match(text, /tier 1: http:\/\/127\.0\.0\.1:6969\/announce, udp:\/\/127\.0\.0\.1:6969/);
  assert.match(text, /tier 2: http:\/\/127\.0\.0\.1:7070\/announce/);

  const json = await runCliToEnd(t, ['info', s.torrentPath, '--json']);
  assert.equal(json.code, 0, json.stderr);
  const [summary, ...rest] = parseNdjson(json.stdout);
  assert.equal(rest.length, 0, 'one JSON object');
  assert.equal(summary.name, 'described');
  assert.equal(summary.infoHash, s.meta.infoHashHex);
  assert.equal(summary.totalLength, 100_005);
  assert.equal(summary.pieceLength, 16 * KiB);
  assert.equal(summary.pieceCount, Math.ceil(100_005 / (16 * KiB)));
  assert.deepEqual(summary.trackers, tiers);
  assert.equal(summary.comment, 'e2e');
  assert.deepEqual(
    (summary.files as { path: string; length: number }[]).map((f) => [f.path, f.length]).sort(),
    [
      ['described/one.bin', 100_000],
      ['described/sub/empty', 0],
      ['described/sub/two.txt', 5],
    ],
  );
});

test('--version prints the package version and exits 0', { timeout: E2E_TIMEOUT_MS }, async (t) => {
  const { version } = JSON.parse(await readFile(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
  const result = await runCliToEnd(t, ['--version']);
  assert.equal(result.code, 0, result.stderr);
  assert.equal(result.stdout, `${version}\n`);
});

test('no peer within --timeout: exit 1 with a one-line message', { timeout: E2E_TIMEOUT_MS }, async (t) => {
  const s = await makeScenario(t, 'lonely.bin', 50_000, { pieceLength: 16 * KiB, seed: 47 });
  // Nothing listens on port 1: the only peer refuses every connection.
  const result = await runCliToEnd(t, downloadArgs(s, '--peer', '127.0.0.1:1', '--timeout', '2'), 30_000);
  assert.equal(result.code, 1, `exit code\n${result.stdout}\n${result.stderr}`);
  const errors = result.stderr.split('\n').filter((l) => l.length > 0);
  assert.equal(errors.length, 1, `one line on stderr:\n${result.stderr}`);
  assert.match(errors[0], /^torrent: no peers found within 2 s/);
});

test('Ctrl-C (SIGINT) during a download exits 130, and the next run resumes', { skip: needLibtorrent(), timeout: E2E_TIMEOUT_MS }, async (t) => {
  const total = 6 * MiB + 99;
  const s = await makeScenario(t, 'interrupted.bin', total, { pieceLength: 64 * KiB, seed: 49 });
  const seeder = await startLibtorrentSeeder(s.torrentPath, s.seedDir);
  defer(t, () => seeder.stop());
  const args = downloadArgs(s, '--peer', `127.0.0.1:${seeder.port}`, '--json');

  const first = runCli(t, [...args, '--limit-down', '1M']);
  await first.waitForLine((l) => {
    const e = JSON.parse(l) as { event: string; piecesVerified?: number };
    return e.event === 'progress' && (e.piecesVerified ?? 0) > 0;
  });
  first.kill('SIGINT');
  const { code } = await first.exited;
  assert.equal(code, 130, `exit code\n${first.stderrText()}`);
  const events = parseNdjson(first.stdoutText());
  assert.ok(events.some((e) => e.event === 'interrupted'), 'an interrupted event');
  assert.ok(!events.some((e) => e.event === 'done'));
  const atStop = lastProgress(first.stdoutText());
  assert.ok(atStop.verifiedBytes > 0 && atStop.verifiedBytes < total, `stopped part way (${atStop.verifiedBytes} of ${total})`);

  const second = await runCliToEnd(t, args);
  assert.equal(second.code, 0, `exit code\n${second.stderr}`);
  await assertSameTree(s.downloaded, s.original);
  const final = lastProgress(second.stdout);
  // The resume data written on Ctrl-C covers everything verified by then: only the rest is fetched.
  assert.ok(
    final.downloadedFromPeers <= total - atStop.verifiedBytes + s.meta.pieceLength,
    `second run received ${final.downloadedFromPeers} bytes; ${total - atStop.verifiedBytes} were missing at Ctrl-C`,
  );
});

test('a reader that stops reading (`| head`) ends a download as Ctrl-C does: exit 130, no stack trace', { skip: needLibtorrent(), timeout: E2E_TIMEOUT_MS }, async (t) => {
  const s = await makeScenario(t, 'unread.bin', 6 * MiB, { pieceLength: 64 * KiB, seed: 53 });
  const seeder = await startLibtorrentSeeder(s.torrentPath, s.seedDir);
  defer(t, () => seeder.stop());
  const run = runCli(t, [...downloadArgs(s, '--peer', `127.0.0.1:${seeder.port}`, '--json'), '--limit-down', '1M']);
  await run.waitForLine((l) => (JSON.parse(l) as { event: string }).event === 'progress');
  run.child.stdout!.destroy();
  const { code } = await run.exited;
  assert.equal(code, 130, `exit code\n${run.stderrText()}`);
  assert.doesNotMatch(run.stderrText(), /EPIPE|\n\s+at /, 'no error or stack trace');
});
