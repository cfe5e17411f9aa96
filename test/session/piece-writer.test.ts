import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { Sha1Pool, sharedBuffers } from '../../src/hashing/index.js';
import { PiecePicker, type BlockRequest } from '../../src/picker/index.js';
import { PieceWriter, type BlockSource, type PieceWriterEvents, type PieceWriterOptions } from '../../src/session/piece-writer.js';
import { TorrentStorage } from '../../src/storage/index.js';
import { blockData, makeTorrent, shuffled, type FileSpec, type TestTorrent } from '../storage/fixture.js';
import { seededRandom } from '../support/seeded-random.js';

const BLOCK = 1024;
const PIECE = 16 * BLOCK;
/** Five full pieces of 16 blocks and a last piece of 4 full blocks and one of 904 bytes. */
const SINGLE: FileSpec[] = [{ path: ['single.bin'], length: 5 * PIECE + 5000 }];
/** Files that split pieces and blocks, a padding file, and a short last piece ending in a short block. */
const MULTI: FileSpec[] = [
  { path: ['multi', 'a.bin'], length: 3000 },
  { path: ['multi', 'sub', 'b.bin'], length: 10_001 },
  { path: ['multi', '.pad', '383'], length: 383, padding: true },
  { path: ['multi', 'c.bin'], length: 3 * PIECE + 777 },
];

const source = (label: string): BlockSource & { cancelled: BlockRequest[] } => {
  const cancelled: BlockRequest[] = [];
  return { label, cancelled, cancelRequest: (r) => cancelled.push(r) };
};

/** Records the writer's events; `until` waits for a condition on them, failing on a fatal error or a timeout. */
class EventLog implements PieceWriterEvents {
  readonly verifiedPieces: number[] = [];
  readonly failures: { piece: number; contributors: BlockSource[] }[] = [];
  readonly liarReports: BlockSource[][] = [];
  backlogClears = 0;
  private fatalError: Error | undefined;
  private readonly waiters = new Set<() => void>();

  readonly verified = (piece: number) => this.record(() => this.verifiedPieces.push(piece));
  readonly failed = (piece: number, contributors: BlockSource[]) => this.record(() => this.failures.push({ piece, contributors }));
  readonly liars = (sources: BlockSource[]) => this.record(() => this.liarReports.push(sources));
  readonly fatal = (error: Error) => this.record(() => (this.fatalError = error));
  readonly backlogCleared = () => this.record(() => this.backlogClears++);

  until(what: string, done: () => boolean, ms = 5000): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = () => {
        if (this.fatalError) reject(this.fatalError);
        else if (done()) resolve();
        else return;
        clearTimeout(timer);
        this.waiters.delete(check);
      };
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(new Error(`timed out waiting for ${what}: verified ${this.verifiedPieces}, failed ${this.failures.map((f) => f.piece)}`));
      }, ms);
      this.waiters.add(check);
      check();
    });
  }

  private record(event: () => unknown): void {
    event();
    for (const check of [...this.waiters]) check();
  }
}

interface Harness {
  tt: TestTorrent;
  dir: string;
  picker: PiecePicker<BlockSource>;
  writer: PieceWriter;
  log: EventLog;
  /** Every writeBlock call the writer made, with the memory it handed over. */
  writes: { piece: number; begin: number; data: Uint8Array }[];
  /** Pooled buffers blocks were delivered in (see deliverPooled). */
  lent: Uint8Array[];
}

async function setUp(t: TestContext, specs: FileSpec[], seed: number, options: PieceWriterOptions = {}, pieceLength = PIECE, blockSize = BLOCK): Promise<Harness> {
  const tt = makeTorrent(specs.length === 1 ? 'single.bin' : 'multi', specs, pieceLength, seed);
  const dir = await mkdtemp(join(tmpdir(), 'torrent-ts-piece-writer-'));
  const hasher = new Sha1Pool({ threads: 2 });
  const storage = new TorrentStorage(tt.meta, dir, { hasher });
  t.after(async () => {
    await storage.close();
    await hasher.close();
    await rm(dir, { recursive: true, force: true });
  });
  const writes: Harness['writes'] = [];
  const writeBlock = storage.writeBlock.bind(storage);
  storage.writeBlock = (piece, begin, data) => {
    writes.push({ piece, begin, data });
    return writeBlock(piece, begin, data);
  };
  const { pieceCount, totalLength } = tt.meta;
  const picker = new PiecePicker<BlockSource>({ pieceCount, pieceLength, totalLength, blockSize, random: seededRandom(seed) });
  const log = new EventLog();
  return { tt, dir, picker, writer: new PieceWriter(picker, storage, log, options), log, writes, lent: [] };
}

const key = (b: BlockRequest) => `${b.piece}/${b.begin}`;

/**
 * Asks the picker for every block on behalf of `from` (a source with every piece), in order; without the
 * blocks already requested from others (which the picker hands out again in endgame).
 */
function requestAll(h: Harness, from: BlockSource, others: BlockRequest[] = []): BlockRequest[] {
  h.picker.peerHasAll(from);
  const taken = new Set(others.map(key));
  const requests = h.picker.pickBlocks(from, 'all', Number.MAX_SAFE_INTEGER).filter((b) => !taken.has(key(b)));
  return requests.sort((a, b) => a.piece - b.piece || a.begin - b.begin);
}

/**
 * As a peer connection delivers: every block in the same read buffer, overwritten as soon as the writer
 * returns (the writer must copy what it keeps).
 */
function deliver(h: Harness, from: BlockSource, blocks: BlockRequest[], data = (b: BlockRequest) => blockData(h.tt, b)): void {
  const readBuffer = Buffer.alloc(h.picker.blockSize);
  for (const b of blocks) {
    const block = readBuffer.subarray(0, b.length);
    block.set(data(b));
    assert.equal(h.writer.acceptBlock(from, b.piece, b.begin, block), true, `block ${b.piece}/${b.begin} accepted`);
    readBuffer.fill(0xee);
  }
}

/** Views of shared buffers, as a web seed delivers: the writer keeps them where they are. */
function deliverViews(h: Harness, from: BlockSource, blocks: BlockRequest[], view: (b: BlockRequest) => Uint8Array): void {
  for (const b of blocks) assert.equal(h.writer.acceptBlock(from, b.piece, b.begin, view(b)), true, `block ${b.piece}/${b.begin} accepted`);
}

/** Each block in a pooled buffer of its own, released as soon as the writer has it (the writer must retain). */
function deliverPooled(h: Harness, from: BlockSource, blocks: BlockRequest[]): void {
  for (const b of blocks) {
    const buf = sharedBuffers.take(b.length);
    buf.set(blockData(h.tt, b));
    assert.equal(h.writer.acceptBlock(from, b.piece, b.begin, buf), true);
    sharedBuffers.release(buf);
    h.lent.push(buf);
  }
}

/** Seeded shuffle over all pieces, checked to leave every piece's blocks out of order. */
function scrambled(blocks: BlockRequest[], seed: number): BlockRequest[] {
  const out = shuffled(blocks, seed);
  for (const piece of new Set(blocks.map((b) => b.piece))) {
    const begins = out.filter((b) => b.piece === piece).map((b) => b.begin);
    assert.ok(begins.some((x, i) => i > 0 && x < begins[i - 1]), `seed ${seed} leaves piece ${piece} in order`);
  }
  return out;
}

const allPieces = (h: Harness) => Array.from({ length: h.tt.meta.pieceCount }, (_, i) => i);

async function allVerified(h: Harness, failures = 0): Promise<void> {
  await h.log.until('every piece verified', () => h.log.verifiedPieces.length === h.tt.meta.pieceCount);
  assert.deepEqual([...h.log.verifiedPieces].sort((a, b) => a - b), allPieces(h));
  assert.equal(h.log.failures.length, failures);
  assert.equal(h.picker.isComplete, true);
}

async function assertFilesMatch(h: Harness): Promise<void> {
  for (const f of h.tt.meta.files) {
    if (f.padding) continue;
    assert.deepEqual(await readFile(join(h.dir, ...f.path)), h.tt.data.subarray(f.offset, f.offset + f.length), f.path.join('/'));
  }
}

function writesPerPiece(h: Harness): number[] {
  const counts = allPieces(h).map(() => 0);
  for (const w of h.writes) counts[w.piece]++;
  return counts;
}

/** Nothing the writer handed to storage is still referenced once every piece is done. */
function assertNothingHeld(h: Harness): void {
  for (const w of h.writes) assert.equal(sharedBuffers.isLive(w.data), false, `write ${w.piece}/${w.begin} still referenced`);
  for (const buf of h.lent) assert.equal(sharedBuffers.isLive(buf), false, 'a delivered block is still referenced');
  assert.equal(h.writer.backlogBytes, 0);
}

test('blocks in order: every piece verifies, written in runs, files byte-exact', async (t) => {
  const h = await setUp(t, SINGLE, 1);
  const a = source('A');
  assert.equal(h.writer.acceptBlock(a, 0, 0, blockData(h.tt, { piece: 0, begin: 0, length: BLOCK })), false, 'not requested yet');
  const blocks = requestAll(h, a);
  assert.equal(blocks.length, 5 * 16 + 5);
  deliver(h, a, blocks);
  await allVerified(h);
  await assertFilesMatch(h);
  for (const [piece, n] of writesPerPiece(h).entries()) assert.ok(n >= 1 && n <= 2, `piece ${piece}: ${n} writes`);
  assert.equal(h.writer.acceptBlock(a, 2, 0, Buffer.alloc(BLOCK)), false, 'a verified piece takes no more data');
  assertNothingHeld(h);
});

test('blocks in order from one pooled buffer (as a web seed delivers): verified, and the buffer is let go', async (t) => {
  const h = await setUp(t, SINGLE, 2);
  const ws = source('web seed');
  const blocks = requestAll(h, ws);
  const run = sharedBuffers.take(h.tt.data.length);
  run.set(h.tt.data);
  deliverViews(h, ws, blocks, (b) => run.subarray(b.piece * PIECE + b.begin, b.piece * PIECE + b.begin + b.length));
  sharedBuffers.release(run); // the writer holds its own references to what it still needs
  // The next response lands in pooled memory at once: it must not be memory the writer still reads.
  const next = sharedBuffers.take(run.length);
  next.fill(0xff);
  t.after(() => sharedBuffers.release(next));
  assert.notEqual(next.buffer, run.buffer);
  await allVerified(h);
  await assertFilesMatch(h);
  assert.ok(h.writes.every((w) => w.data.buffer === run.buffer), 'blocks in shared memory are written from where they are');
  assert.equal(sharedBuffers.isLive(run), false);
  assertNothingHeld(h);
});

/** Per piece (by index mod 3): shuffled; three blocks in order, then the rest backwards; all backwards. */
function mixedOrders(blocks: BlockRequest[], seed: number): BlockRequest[] {
  const pieces = [...new Set(blocks.map((b) => b.piece))].map((p) => blocks.filter((b) => b.piece === p));
  const orders = pieces.map((own, i) =>
    i % 3 === 0 ? scrambled(own, seed + i) : i % 3 === 1 ? [...own.slice(0, 3), ...own.slice(3).reverse()] : [...own].reverse(),
  );
  // Interleaved, so several pieces are being assembled at once.
  const out: BlockRequest[] = [];
  for (let i = 0; out.length < blocks.length; i++) for (const order of orders) if (i < order.length) out.push(order[i]);
  return out;
}

test('a backlog over its limit says so, and says when it has cleared', async (t) => {
  const h = await setUp(t, SINGLE, 7, { maxBacklogBytes: BLOCK });
  const a = source('A');
  const blocks = requestAll(h, a);
  assert.equal(h.writer.backlogged, false);
  deliver(h, a, blocks.filter((b) => b.piece === 0));
  assert.equal(h.writer.backlogged, true, 'a whole piece waits for the disk');
  await h.log.until('the backlog cleared', () => h.log.backlogClears > 0);
  assert.equal(h.writer.backlogged, false);
  deliver(h, a, blocks.filter((b) => b.piece !== 0));
  await allVerified(h);
  assert.equal(h.writer.backlogged, false);
  await assertFilesMatch(h);
});

test('blocks out of order: pieces are assembled and written whole, verified and byte-exact', async (t) => {
  const h = await setUp(t, SINGLE, 3);
  const a = source('A');
  deliverPooled(h, a, mixedOrders(requestAll(h, a), 3));
  await allVerified(h);
  await assertFilesMatch(h);
  for (const [piece, n] of writesPerPiece(h).entries()) assert.ok(n >= 1 && n <= 2, `piece ${piece}: ${n} writes, not one per block`);
  assertNothingHeld(h);
});

test('blocks out of order with no assembly memory: written where they belong, still verified and byte-exact', async (t) => {
  const h = await setUp(t, SINGLE, 4, { maxAssemblyBytes: 0 });
  const a = source('A');
  deliver(h, a, scrambled(requestAll(h, a), 4));
  await allVerified(h);
  await assertFilesMatch(h);
  // The fallback really ran: pieces went to storage in pieces, which storage re-read to hash.
  assert.ok(writesPerPiece(h).every((n) => n > 2), `writes per piece: ${writesPerPiece(h)}`);
  assertNothingHeld(h);
});

test('scattered blocks of large pieces each hold a buffer of about their own size, not of a write run', async (t) => {
  const BIG_BLOCK = 16 * 1024;
  const h = await setUp(t, [{ path: ['big.bin'], length: 3 * 2 * 1024 * 1024 }], 8, { maxAssemblyBytes: 0 }, 2 * 1024 * 1024, BIG_BLOCK);
  const a = source('A');
  deliver(h, a, scrambled(requestAll(h, a), 8));
  await allVerified(h);
  await assertFilesMatch(h);
  // A pooled buffer is at least 64 KiB; a megabyte for a 16 KiB block would let memory grow 64-fold.
  for (const w of h.writes) {
    const held = w.data.buffer.byteLength;
    assert.ok(held <= 2 * Math.max(w.data.length, 64 * 1024), `a ${w.data.length}-byte write held ${held} bytes`);
  }
  assertNothingHeld(h);
});

for (const [mode, options] of [
  ['assembled', {}],
  ['written block by block', { maxAssemblyBytes: 0 }],
] as const) {
  test(`a corrupted block (${mode}) fails its piece naming the sender; refetched, it verifies and the liar is named`, async (t) => {
    const h = await setUp(t, SINGLE, 5, options);
    const [honest, liar] = [source('honest'), source('liar')];
    h.picker.peerHasAll(liar);
    const [lie] = h.picker.pickBlocks(liar, 'all', 1);
    const rest = requestAll(h, honest, [lie]);
    const badPiece = lie.piece;
    const corrupt = Buffer.from(blockData(h.tt, lie));
    corrupt[17] ^= 0x01;
    for (const b of scrambled([lie, ...rest], 6)) {
      if (b === lie) deliver(h, liar, [b], () => corrupt);
      else deliver(h, honest, [b]);
    }
    const others = allPieces(h).filter((p) => p !== badPiece);
    await h.log.until(`piece ${badPiece} failed`, () => h.log.failures.length > 0 && h.log.verifiedPieces.length === others.length);
    assert.deepEqual([...h.log.verifiedPieces].sort((a, b) => a - b), others);
    assert.equal(h.log.failures.length, 1);
    const [failure] = h.log.failures;
    assert.equal(failure.piece, badPiece);
    assert.ok(failure.contributors.includes(liar), 'the sender of the bad block is a contributor');
    assert.equal(h.picker.have(badPiece), false);

    // The picker hands the whole piece out again; this time every block is good.
    const again = h.picker.pickBlocks(honest, 'all', Number.MAX_SAFE_INTEGER);
    assert.deepEqual(new Set(again.map((b) => b.piece)), new Set([badPiece]));
    assert.equal(again.length, h.picker.blockCount(badPiece));
    deliver(h, honest, scrambled(again, 7));
    await allVerified(h, 1);
    await h.log.until('the liar named', () => h.log.liarReports.length > 0);
    assert.deepEqual(h.log.liarReports, [[liar]], 'only the source whose block differed is a liar');
    await assertFilesMatch(h);
    assertNothingHeld(h);
  });
}

test('assembly memory for one piece: pieces in turn are each assembled; two at once, the second falls back', async (t) => {
  const h = await setUp(t, SINGLE, 12, { maxAssemblyBytes: PIECE });
  const a = source('A');
  const blocks = requestAll(h, a);
  const ofPiece = (p: number) => scrambled(blocks.filter((b) => b.piece === p), 20 + p);
  for (const p of [0, 1, 2]) {
    deliver(h, a, ofPiece(p));
    await h.log.until(`piece ${p} verified`, () => h.log.verifiedPieces.includes(p));
  }
  assert.deepEqual(writesPerPiece(h).slice(0, 3), [1, 1, 1], 'the memory of each assembled piece is given back');
  // Pieces 3 and 4 interleaved: 3 takes the memory, 4 is written block by block.
  const [three, four] = [ofPiece(3), ofPiece(4)];
  assert.notEqual(three[0].begin, 0, 'piece 3 starts out of order');
  deliver(h, a, three.flatMap((b, i) => [b, four[i]]));
  deliver(h, a, ofPiece(5));
  await allVerified(h);
  await assertFilesMatch(h);
  const counts = writesPerPiece(h);
  assert.equal(counts[3], 1);
  assert.ok(counts[4] > 2, `piece 4 written in ${counts[4]} writes`);
  assertNothingHeld(h);
});

test('a piece larger than a write run: its in-order start is written, the rest assembled behind it', async (t) => {
  const piece = 4 * 1024 * 1024;
  const h = await setUp(t, [{ path: ['big.bin'], length: piece + 100 * 1024 + 5 }], 10, {}, piece, 16 * 1024);
  const a = source('A');
  const blocks = requestAll(h, a);
  const first = blocks.filter((b) => b.piece === 0);
  // In order until the writer writes a run (the run size is the writer's choice, well below 4 MiB)...
  let inOrder = 0;
  while (h.writes.length === 0 && inOrder < first.length - 8) deliver(h, a, [first[inOrder++]]);
  assert.equal(h.writes.length, 1, `no run written after ${inOrder} blocks in order`);
  // ...then the rest of piece 0 and all of piece 1 shuffled.
  deliver(h, a, scrambled([...first.slice(inOrder), ...blocks.filter((b) => b.piece === 1)], 11));
  await allVerified(h);
  await assertFilesMatch(h);
  assert.deepEqual(writesPerPiece(h), [2, 1], 'piece 0: its first run, then the assembled rest; piece 1 whole');
  const [run, rest] = h.writes.filter((w) => w.piece === 0);
  assert.equal(run.begin, 0);
  assert.equal(rest.begin, run.data.length, 'the assembled rest starts where the written run ended');
  assert.equal(rest.begin + rest.data.length, piece);
  assertNothingHeld(h);
});

test('multi-file torrent with padding and a short last piece ending in a short block', async (t) => {
  const h = await setUp(t, MULTI, 8);
  const { meta } = h.tt;
  const last = meta.pieceCount - 1;
  assert.equal(meta.pieceCount, 4);
  assert.ok(h.picker.pieceSize(last) % BLOCK !== 0 && h.picker.blockCount(last) > 1, 'short last piece of several blocks');
  const [a, b] = [source('A'), source('B')];
  h.picker.peerHasAll(b);
  // B gets some blocks first, A the rest; each piece's blocks arrive out of order, from both sources.
  const fromB = h.picker.pickBlocks(b, 'all', 20);
  const fromA = requestAll(h, a, fromB);
  // In endgame A was asked for B's blocks too: when B's arrive, A's requests for them are cancelled.
  const duplicates = h.picker.outstandingFor(a).filter((r) => fromB.some((x) => key(x) === key(r)));
  assert.ok(duplicates.length > 0);
  const sender = new Map(fromB.map((r) => [r, b] as const));
  for (const r of scrambled([...fromA, ...fromB], 9)) deliverPooled(h, sender.get(r) ?? a, [r]);
  assert.deepEqual(a.cancelled.map(key).sort(), duplicates.map(key).sort());
  assert.deepEqual(b.cancelled, []);
  await allVerified(h);
  await assertFilesMatch(h);
  for (const [piece, n] of writesPerPiece(h).entries()) assert.ok(n <= 2, `piece ${piece}: ${n} writes`);
  assertNothingHeld(h);
});
