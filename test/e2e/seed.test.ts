/**
 * `torrent seed` (our CLI, a child process) serving real clients on 127.0.0.1: python3-libtorrent, aria2 and
 * Transmission each download the whole torrent from it, and every byte is compared with the original.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { access, mkdir, readFile, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { join } from 'node:path';
import { createTorrent } from '../../src/creation/index.js';
import { TrackerServer } from '../../src/tracker/server.js';
import { commandWorks, needLibtorrent, requireProgram } from '../support/interop.js';
import { startLibtorrentDownloader } from '../support/libtorrent.js';
import { assertSameFiles, cleanup, freePort, KiB, loopbackFlags, runCli, startCliSeeder, startProgram, tempDir, until, writePayload, type PayloadFile } from './seed-harness.js';

const needAria2 = () => requireProgram('aria2c', commandWorks('aria2c', ['--version']), 'apt-get install aria2');
const needTransmission = () => requireProgram('transmission-cli', commandWorks('transmission-cli', ['--version']), 'apt-get install transmission-cli');

/** A multi-file payload whose files straddle piece boundaries, and its .torrent. */
async function makeTorrent(root: string, opts: { pieceLength: number; announce?: string[]; pad?: boolean }) {
  const files = await writePayload(root, 'payload', [
    { path: ['big.bin'], size: 700 * KiB + 123 },
    { path: ['nested', 'small.bin'], size: 1 },
    { path: ['nested', 'deeper', 'middle.bin'], size: 333 * KiB },
    { path: ['tail.txt'], size: 5000 },
  ]);
  const created = await createTorrent(join(root, 'payload'), { pieceLength: opts.pieceLength, announce: opts.announce, pad: opts.pad, noDate: true });
  const torrentPath = join(root, 'payload.torrent');
  await writeFile(torrentPath, created.torrent);
  return { files, meta: created.meta, torrentPath, totalLength: created.meta.totalLength };
}

/** Resolves once the seeder's --json progress says it has uploaded at least `bytes`. */
async function uploadedAtLeast(seeder: ReturnType<typeof runCli>, bytes: number): Promise<number> {
  let uploaded = 0;
  await until(
    () => {
      const progress = seeder.events().filter((e) => e.event === 'progress');
      uploaded = Number(progress.at(-1)?.uploaded ?? 0);
      return uploaded >= bytes;
    },
    10_000,
    () => `the seeder to report ${bytes} bytes uploaded (last: ${uploaded})`,
  );
  return uploaded;
}

test('seed prints the port it listens on, without --json too', { timeout: 30_000 }, async (t) => {
  const root = await tempDir(t, 'seed-port');
  const { torrentPath } = await makeTorrent(root, { pieceLength: 32 * KiB });
  const seeder = runCli(t, ['seed', torrentPath, '-d', root, ...loopbackFlags(join(root, 'state'))]);
  const [, port] = await seeder.waitForLine(/\bport (\d+)\b/, 5_000);
  assert.ok(await canConnect(Number(port)), `nothing listens on the printed port ${port}`);
});

test('python3-libtorrent downloads the whole torrent from our seeder', { skip: needLibtorrent(), timeout: 60_000 }, async (t) => {
  const root = await tempDir(t, 'seed-lt');
  const { files, torrentPath, totalLength } = await makeTorrent(root, { pieceLength: 32 * KiB });
  const { cli: seeder, port } = await startCliSeeder(t, torrentPath, root, join(root, 'state'));

  const downloadDir = join(root, 'libtorrent');
  const downloader = startLibtorrentDownloader(torrentPath, downloadDir, { peers: [`127.0.0.1:${port}`] });
  cleanup(t, () => downloader.stop());
  await downloader.done;
  await assertSameFiles(downloadDir, files);
  // libtorrent knew no other peer: all of it came from us, and our stats say so.
  await uploadedAtLeast(seeder, totalLength);
});

test('python3-libtorrent downloads a torrent with BEP 47 padding files from our seeder', { skip: needLibtorrent(), timeout: 60_000 }, async (t) => {
  const root = await tempDir(t, 'seed-lt-pad');
  const { files, meta, torrentPath } = await makeTorrent(root, { pieceLength: 32 * KiB, pad: true });
  assert.ok(meta.files.some((f) => f.padding), 'the torrent has padding files');
  const { port } = await startCliSeeder(t, torrentPath, root, join(root, 'state'));
  const downloadDir = join(root, 'libtorrent');
  const downloader = startLibtorrentDownloader(torrentPath, downloadDir, { peers: [`127.0.0.1:${port}`] });
  cleanup(t, () => downloader.stop());
  await downloader.done;
  await assertSameFiles(downloadDir, files);
});

/** aria2c, offline: no DHT, LPD or PEX, listening on loopback only, exiting as soon as the download is complete. */
function aria2Args(dir: string, listenPort: number, torrentPath: string): string[] {
  return [
    '--no-conf=true', '--enable-dht=false', '--enable-dht6=false', '--bt-enable-lpd=false', '--enable-peer-exchange=false',
    '--seed-time=0', '--bt-external-ip=127.0.0.1', '--interface=127.0.0.1', '--disable-ipv6=true', `--listen-port=${listenPort}`,
    '--summary-interval=0', '--console-log-level=warn', '--bt-stop-timeout=15', '-d', dir, torrentPath,
  ];
}

test('aria2c finds our seeder through our tracker and downloads the whole torrent', { skip: needAria2(), timeout: 60_000 }, async (t) => {
  const root = await tempDir(t, 'seed-aria2');
  const tracker = await TrackerServer.start({ host: '127.0.0.1' });
  cleanup(t, () => tracker.close());
  // Small pieces: aria2 then completes several between its HAVE rounds and announces them with a BITFIELD.
  const { files, meta, torrentPath, totalLength } = await makeTorrent(root, { pieceLength: 16 * KiB, announce: [tracker.httpUrl] });
  const seederLog = join(root, 'seeder.log');
  const { cli: seeder } = await startCliSeeder(t, torrentPath, root, join(root, 'state'), ['--verbose', '--log-file', seederLog]);
  await until(() => tracker.swarmSize(meta.infoHash) > 0, 10_000, () => 'the seeder to announce itself');

  const downloadDir = join(root, 'aria2');
  const aria2 = startProgram(t, 'aria2c', aria2Args(downloadDir, await freePort(), torrentPath));
  const code = await aria2.exited;
  if (code !== 0) assert.fail(`aria2c exited with ${code}:\n${aria2.output()}\nour seeder's log:\n${await readFile(seederLog, 'utf8').catch(() => '')}`);
  await assertSameFiles(downloadDir, files);
  await uploadedAtLeast(seeder, totalLength);
  // --log-file with --verbose: the seeder's JSON log lines land in the file.
  assert.match(await readFile(seederLog, 'utf8'), /"msg":"listening for peers"/);
});

/** Transmission's settings for a loopback-only, offline session. */
function transmissionSettings(port: number) {
  return {
    'bind-address-ipv4': '127.0.0.1',
    'bind-address-ipv6': '::1',
    'peer-port': port,
    'dht-enabled': false,
    'lpd-enabled': false,
    'pex-enabled': false,
    'utp-enabled': false,
    'port-forwarding-enabled': false,
    'rpc-enabled': false,
    'blocklist-enabled': false,
    // 0: prefer plain connections (we do not speak the MSE encryption handshake).
    encryption: 0,
  };
}

async function isWholeFile(path: string, expected: PayloadFile): Promise<boolean> {
  try {
    return (await readFile(path)).equals(expected.data);
  } catch {
    return false;
  }
}

test('Transmission downloads the whole torrent from our seeder', { skip: needTransmission(), timeout: 90_000 }, async (t) => {
  const root = await tempDir(t, 'seed-transmission');
  const { files, torrentPath, totalLength } = await makeTorrent(root, { pieceLength: 32 * KiB });
  const configDir = join(root, 'transmission-config');
  const downloadDir = join(root, 'transmission');
  await mkdir(configDir);
  await mkdir(downloadDir);
  const port = await freePort();
  await writeFile(join(configDir, 'settings.json'), JSON.stringify(transmissionSettings(port)));
  // transmission-cli never exits by itself: it is killed once the files are complete.
  const transmission = startProgram(t, 'transmission-cli', ['-g', configDir, '-w', downloadDir, '-et', '-M', '-p', String(port), torrentPath]);
  await until(() => canConnect(port), 15_000, () => `transmission-cli to listen on ${port}:\n${transmission.output()}`);

  // Transmission drops tracker peers on 127.x (its isMartianAddr), so our seeder dials it instead.
  const { cli: seeder } = await startCliSeeder(t, torrentPath, root, join(root, 'state'), ['--peer', `127.0.0.1:${port}`]);
  // While incomplete, Transmission writes "<file>.part"; the real names appear with the right bytes at the end.
  await until(
    async () => (await Promise.all(files.map((f) => isWholeFile(join(downloadDir, ...f.path), f)))).every(Boolean),
    60_000,
    () => `Transmission to complete the download:\n${transmission.output()}\nour seeder said:\n${seeder.lines.slice(-3).join('\n')}`,
  );
  await assertSameFiles(downloadDir, files);
  await uploadedAtLeast(seeder, totalLength);
});

async function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

test('a seeder refuses a folder that does not hold the data', { timeout: 30_000 }, async (t) => {
  const root = await tempDir(t, 'seed-missing');
  const { torrentPath } = await makeTorrent(root, { pieceLength: 32 * KiB });
  const empty = join(root, 'empty');
  await mkdir(empty);
  const seeder = runCli(t, ['seed', torrentPath, '-d', empty, ...loopbackFlags(join(root, 'state'))]);
  assert.equal(await seeder.exited, 2, seeder.stderr());
  assert.match(seeder.stderr(), /point -d at the folder that holds the data/);
  // Nothing was created in the wrong folder.
  await assert.rejects(access(join(empty, 'payload')));
});
