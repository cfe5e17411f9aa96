/** Temporary file trees for creation tests. */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { TestContext } from 'node:test';
import { bytes } from '../metainfo/torrent-builder.js';

/** A fresh temp dir, removed when the test ends (pass or fail). */
export async function tempDir(t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'torrent-ts-create-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** Writes `files` (relative path → size) under `root`, each with distinct deterministic content. */
export async function writeTree(root: string, files: Record<string, number>): Promise<Map<string, Uint8Array>> {
  const contents = new Map<string, Uint8Array>();
  let seed = 1;
  for (const [path, size] of Object.entries(files)) {
    const data = bytes(size, seed++);
    await mkdir(dirname(join(root, path)), { recursive: true });
    await writeFile(join(root, path), data);
    contents.set(path, data);
  }
  return contents;
}
