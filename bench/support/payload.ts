/**
 * The benchmark payload: one file of pseudo-random bytes (so no piece repeats and nothing compresses), and
 * a trackerless .torrent for it made by python3-libtorrent, so a broken `create` of ours cannot skew the
 * download benchmarks.
 */
import { execFile } from 'node:child_process';
import { createCipheriv, createHash, randomBytes } from 'node:crypto';
import { closeSync, createReadStream, openSync, writeSync } from 'node:fs';
import { mkdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { DEBIAN_PYTHON, supportScript } from './processes.js';

export const MiB = 1024 * 1024;
export const PAYLOAD_NAME = 'payload.bin';
const PIECE_LENGTH = MiB;

/** Writes `bytes` of AES-128-CTR keystream (random key): gigabytes of random-looking data in about a second. */
export function writePseudoRandomFile(path: string, bytes: number): void {
  const cipher = createCipheriv('aes-128-ctr', randomBytes(16), randomBytes(16));
  const zeros = Buffer.alloc(16 * MiB);
  const fd = openSync(path, 'w');
  try {
    for (let written = 0; written < bytes; ) {
      const length = Math.min(zeros.length, bytes - written);
      const chunk = cipher.update(zeros.subarray(0, length));
      writeSync(fd, chunk);
      written += length;
    }
  } finally {
    closeSync(fd);
  }
}

export async function sha1OfFile(path: string): Promise<string> {
  const hash = createHash('sha1');
  for await (const chunk of createReadStream(path, { highWaterMark: 4 * MiB })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Makes a .torrent of `file` with python3-libtorrent (v1 only, no trackers, 1 MiB pieces). */
export async function createTorrentWithLibtorrent(file: string, torrentPath: string, urlSeed?: string): Promise<void> {
  const args = [supportScript('lt_bench.py'), 'create', file, torrentPath, '--piece-length', String(PIECE_LENGTH)];
  if (urlSeed !== undefined) args.push('--url-seed', urlSeed);
  await promisify(execFile)(DEBIAN_PYTHON, args);
}

export interface Payload {
  /** The folder holding PAYLOAD_NAME: a seeder's data dir, or a web server's root. */
  dir: string;
  path: string;
  bytes: number;
  sha1: string;
}

/** Writes the payload into `dir` and hashes it once for later comparisons. */
export async function makePayload(dir: string, sizeMiB: number): Promise<Payload> {
  const path = join(dir, PAYLOAD_NAME);
  const bytes = sizeMiB * MiB;
  writePseudoRandomFile(path, bytes);
  return { dir, path, bytes, sha1: await sha1OfFile(path) };
}

/** null when `downloadDir` holds an exact copy of the payload, else what is wrong. */
export async function checkCopy(payload: Payload, downloadDir: string): Promise<string | null> {
  const copy = join(downloadDir, PAYLOAD_NAME);
  const info = await stat(copy).catch(() => null);
  if (info === null) return `${copy} does not exist`;
  if (info.size !== payload.bytes) return `${copy} has ${info.size} bytes, expected ${payload.bytes}`;
  const sha1 = await sha1OfFile(copy);
  return sha1 === payload.sha1 ? null : `${copy} differs from the payload (sha1 ${sha1}, expected ${payload.sha1})`;
}

/** A payload in `work/seed` and its .torrent (`work/payload.torrent`), as the peer benchmarks share them. */
export async function makeSeedPayload(work: string, sizeMiB: number): Promise<{ seedDir: string; torrent: string; payload: Payload }> {
  const seedDir = join(work, 'seed');
  const torrent = join(work, 'payload.torrent');
  console.log(`writing a ${sizeMiB} MiB payload and its .torrent in ${work} ...`);
  await mkdir(seedDir);
  const payload = await makePayload(seedDir, sizeMiB);
  await createTorrentWithLibtorrent(payload.path, torrent);
  return { seedDir, torrent, payload };
}
