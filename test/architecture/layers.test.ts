/**
 * The layering rule: each folder of src/ imports only from folders below it, so codecs stay pure and the
 * front ends stay thin. A new folder must be given a rank here before it can be imported.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const RANK: Record<string, number> = {
  // pure codecs and data structures: no I/O
  log: 0,
  bencode: 0,
  bitfield: 0,
  metainfo: 1,
  wire: 1,
  // the HTTP client that trackers and web seeds share
  http: 2,
  // protocol state machines, and the hashing threads
  hashing: 3,
  ratelimit: 3,
  picker: 3,
  choker: 3,
  tracker: 3,
  peer: 3,
  // I/O sources and sinks
  storage: 4,
  webseed: 4,
  creation: 5,
  // a torrent's lifecycle and the Client
  session: 6,
  // front ends
  daemon: 7,
  cli: 8,
  '.': 8,
};

const PURE = new Set(['bencode', 'bitfield', 'metainfo', 'wire']);
const IO_MODULES = /^(node:)?(fs|fs\/promises|net|dgram|http|https|child_process|worker_threads)$/;

// dist/test/architecture/ → project root
const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const srcDir = join(root, 'src');

function* sourceFiles(dir: string): Generator<string> {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) yield* sourceFiles(p);
    else if (p.endsWith('.ts')) yield p;
  }
}

const layerOf = (file: string) => {
  const rel = relative(srcDir, file).split(sep);
  return rel.length === 1 ? '.' : rel[0];
};

test('every src folder has a rank', () => {
  for (const name of readdirSync(srcDir)) {
    if (statSync(join(srcDir, name)).isDirectory()) assert.ok(name in RANK, `src/${name} has no rank in the layer table`);
  }
});

test('imports only go down the layers, and codecs do no I/O', () => {
  const problems: string[] = [];
  for (const file of sourceFiles(srcDir)) {
    const from = layerOf(file);
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/(?:^|\n)\s*(?:import|export)[^'"]*?from\s+['"]([^'"]+)['"]/g)) {
      const spec = m[1];
      if (spec.startsWith('.')) {
        const to = layerOf(resolve(dirname(file), spec));
        if (to !== from && !(RANK[to] < RANK[from])) {
          problems.push(`${relative(root, file)} (${from}) imports ${spec} (${to})`);
        }
      } else if (PURE.has(from) && IO_MODULES.test(spec)) {
        problems.push(`${relative(root, file)} is a pure codec but imports ${spec}`);
      }
    }
  }
  assert.deepEqual(problems, []);
});
