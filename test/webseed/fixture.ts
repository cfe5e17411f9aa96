/**
 * Hand-built torrents for web seed tests: files written under a served folder plus their Metainfo, and such a
 * file served by a fault server.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { Metainfo, TorrentFile } from '../../src/metainfo/types.js';
import { WebSeed, type WebSeedOptions } from '../../src/webseed/webseed.js';
import { type FaultServer, type FaultServerOptions, startFaultServer } from '../support/fault-server.js';
import { handBuiltMetainfo } from '../support/hand-built-metainfo.js';

export interface FixtureFile {
  /** Path below the torrent's folder. */
  path: string[];
  length: number;
  /** BEP 47 padding: part of the torrent data (zeros) but never on the server. */
  padding?: boolean;
}

export interface Fixture {
  meta: Metainfo;
  /** The torrent's concatenated data, what fetchRange must return. */
  data: Buffer;
}

export async function makeServedFolder(): Promise<{ root: string; remove(): Promise<void> }> {
  const root = await mkdtemp(join(tmpdir(), 'torrent-ts-webseed-'));
  return { root, remove: () => rm(root, { recursive: true, force: true }) };
}

/** A single-file torrent `name` of random bytes, written to `root/name`. */
export async function singleFileTorrent(root: string, name: string, length: number, pieceLength: number): Promise<Fixture> {
  const data = randomBytes(length);
  await writeFile(join(root, name), data);
  return { meta: handBuiltMetainfo(name, false, [{ path: [name], length, offset: 0, padding: false }], data, pieceLength), data };
}

/** A multi-file torrent with folder `name`; data files are written to `root/name/...`. */
export async function multiFileTorrent(
  root: string,
  name: string,
  specs: FixtureFile[],
  pieceLength: number,
): Promise<Fixture> {
  const files: TorrentFile[] = [];
  const chunks: Buffer[] = [];
  let offset = 0;
  for (const spec of specs) {
    const padding = spec.padding ?? false;
    const content = padding ? Buffer.alloc(spec.length) : randomBytes(spec.length);
    if (!padding) {
      const target = join(root, name, ...spec.path);
      await mkdir(dirname(target), { recursive: true });
      await writeFile(target, content);
    }
    files.push({ path: [name, ...spec.path], length: spec.length, offset, padding });
    chunks.push(content);
    offset += spec.length;
  }
  const data = Buffer.concat(chunks);
  return { meta: handBuiltMetainfo(name, true, files, data, pieceLength), data };
}

/** Does piece `index` of `data` match the torrent's hash (as the session's check would)? */
export function pieceHashMatches(meta: Metainfo, index: number, pieceData: Uint8Array): boolean {
  return createHash('sha1').update(pieceData).digest().equals(meta.pieceHashes.subarray(index * 20, index * 20 + 20));
}

export interface FaultServed {
  server: FaultServer;
  fixture: Fixture;
  /** A new WebSeed on the server, closed when the test ends. */
  seed(options?: WebSeedOptions): WebSeed;
}

/** `data.bin`, a single-file torrent of `length` random bytes, served by a fault server until the test ends. */
export async function faultServed(
  t: { after(fn: () => Promise<void>): void },
  length: number,
  pieceLength: number,
  serverOptions?: FaultServerOptions,
): Promise<FaultServed> {
  const folder = await makeServedFolder();
  t.after(() => folder.remove());
  const fixture = await singleFileTorrent(folder.root, 'data.bin', length, pieceLength);
  const server = await startFaultServer(folder.root, serverOptions);
  t.after(() => server.close());
  return {
    server,
    fixture,
    seed(options) {
      const seed = new WebSeed(server.url, fixture.meta, options);
      t.after(() => seed.close());
      return seed;
    },
  };
}
