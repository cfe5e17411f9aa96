import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Bitfield } from '../../src/bitfield/index.js';
import { PiecePicker } from '../../src/picker/index.js';
import { seededRandom } from '../support/seeded-random.js';

const PEERS = ['p0', 'p1', 'p2', 'p3'];
const WEB_SEED = 'ws';

type Operation =
  | { kind: 'bitfield'; peer: number; bits: boolean[] }
  | { kind: 'have'; peer: number; piece: number }
  | { kind: 'hasAll'; peer: number }
  | { kind: 'pick'; peer: number; count: number }
  | { kind: 'pickPieces'; count: number; maxRun: number }
  | { kind: 'receive'; peer: number; which: number; verifies: boolean }
  | { kind: 'cancel'; peer: number; which: number }
  | { kind: 'cancelAll'; peer: number }
  | { kind: 'remove'; peer: number };

const peerIndex = fc.integer({ min: 0, max: PEERS.length - 1 });
const operation: fc.Arbitrary<Operation> = fc.oneof(
  fc.record({ kind: fc.constant('bitfield' as const), peer: peerIndex, bits: fc.array(fc.boolean(), { minLength: 12, maxLength: 12 }) }),
  fc.record({ kind: fc.constant('have' as const), peer: peerIndex, piece: fc.nat(11) }),
  fc.record({ kind: fc.constant('hasAll' as const), peer: peerIndex }),
  fc.record({ kind: fc.constant('pick' as const), peer: peerIndex, count: fc.integer({ min: 1, max: 6 }) }),
  fc.record({ kind: fc.constant('pick' as const), peer: peerIndex, count: fc.integer({ min: 1, max: 6 }) }),
  fc.record({ kind: fc.constant('pickPieces' as const), count: fc.integer({ min: 1, max: 4 }), maxRun: fc.integer({ min: 1, max: 3 }) }),
  fc.record({ kind: fc.constant('receive' as const), peer: fc.nat(PEERS.length), which: fc.nat(), verifies: fc.boolean() }),
  fc.record({ kind: fc.constant('receive' as const), peer: fc.nat(PEERS.length), which: fc.nat(), verifies: fc.boolean() }),
  fc.record({ kind: fc.constant('cancel' as const), peer: fc.nat(PEERS.length), which: fc.nat() }),
  fc.record({ kind: fc.constant('cancelAll' as const), peer: fc.nat(PEERS.length) }),
  fc.record({ kind: fc.constant('remove' as const), peer: fc.nat(PEERS.length) }),
);

const torrent = fc.record({
  pieceCount: fc.integer({ min: 1, max: 12 }),
  blocksPerPiece: fc.integer({ min: 1, max: 4 }),
  lastPieceShortBy: fc.nat(16383),
  seed: fc.nat(),
});

test('random operation sequences keep the picker consistent and never duplicate work outside endgame', () => {
  fc.assert(
    fc.property(torrent, fc.array(operation, { maxLength: 80 }), ({ pieceCount, blocksPerPiece, lastPieceShortBy, seed }, operations) => {
      const blockSize = 16384;
      const pieceLength = blocksPerPiece * blockSize;
      const picker = new PiecePicker<string>({
        pieceCount,
        pieceLength,
        totalLength: pieceCount * pieceLength - Math.min(lastPieceShortBy, pieceLength - 1),
        random: seededRandom(seed),
      });
      const announced = new Map<string, Bitfield | 'all'>();
      const peerName = (index: number) => (index === PEERS.length ? WEB_SEED : PEERS[index]);
      const requestedBy = (piece: number, begin: number) =>
        [...PEERS, WEB_SEED].filter((peer) => picker.outstandingFor(peer).some((r) => r.piece === piece && r.begin === begin));

      for (const op of operations) {
        switch (op.kind) {
          case 'bitfield': {
            const bitfield = new Bitfield(pieceCount);
            for (let piece = 0; piece < pieceCount; piece++) if (op.bits[piece]) bitfield.set(piece);
            picker.addPeerBitfield(PEERS[op.peer], bitfield);
            announced.set(PEERS[op.peer], bitfield.complete ? 'all' : bitfield);
            break;
          }
          case 'have': {
            if (op.piece >= pieceCount) break;
            picker.peerHave(PEERS[op.peer], op.piece);
            const has = announced.get(PEERS[op.peer]) ?? new Bitfield(pieceCount);
            if (has !== 'all') has.set(op.piece);
            announced.set(PEERS[op.peer], has);
            break;
          }
          case 'hasAll':
            picker.peerHasAll(PEERS[op.peer]);
            announced.set(PEERS[op.peer], 'all');
            break;
          case 'pick': {
            const peer = PEERS[op.peer];
            const has = announced.get(peer) ?? new Bitfield(pieceCount);
            const before = new Set(picker.outstandingFor(peer).map((r) => `${r.piece}/${r.begin}`));
            const picked = picker.pickBlocks(peer, has, op.count);
            assert.ok(picked.length <= op.count);
            for (const request of picked) {
              assert.ok(has === 'all' || has.has(request.piece), 'picked a piece the peer does not have');
              assert.ok(!picker.have(request.piece), 'picked a piece we have');
              assert.ok(!before.has(`${request.piece}/${request.begin}`), 'same block twice to one peer');
              if (requestedBy(request.piece, request.begin).length > 1) assert.ok(picker.inEndgame, 'duplicate request outside endgame');
            }
            break;
          }
          case 'pickPieces': {
            picker.peerHasAll(WEB_SEED);
            const before = picker.outstandingFor(WEB_SEED).length;
            const runs = picker.pickPieces(WEB_SEED, op.count, op.maxRun);
            let claimedBlocks = 0;
            for (const run of runs) {
              assert.ok(run.count >= 1 && run.count <= op.maxRun);
              for (let piece = run.first; piece < run.first + run.count; piece++) {
                for (const block of picker.blocksOf(piece)) assert.deepEqual(requestedBy(piece, block.begin), [WEB_SEED]);
                claimedBlocks += picker.blockCount(piece);
              }
            }
            assert.equal(picker.outstandingFor(WEB_SEED).length, before + claimedBlocks);
            break;
          }
          case 'receive': {
            const peer = peerName(op.peer);
            const outstanding = picker.outstandingFor(peer);
            if (outstanding.length === 0) break;
            const { piece, begin } = outstanding[op.which % outstanding.length];
            const others = requestedBy(piece, begin).filter((p) => p !== peer);
            const receipt = picker.blockReceived(peer, piece, begin);
            assert.ok(receipt.accepted);
            assert.deepEqual(receipt.duplicateRequestsToCancel.map((d) => d.peer).sort(), others.sort());
            assert.deepEqual(requestedBy(piece, begin), []);
            assert.ok(!picker.isRequestedFrom(peer, piece, begin));
            if (receipt.pieceComplete) {
              if (op.verifies) picker.pieceVerified(piece);
              else assert.ok(picker.pieceFailed(piece).includes(peer));
            }
            break;
          }
          case 'cancel': {
            const peer = peerName(op.peer);
            const outstanding = picker.outstandingFor(peer);
            if (outstanding.length === 0) break;
            const { piece, begin } = outstanding[op.which % outstanding.length];
            assert.ok(picker.cancelRequest(peer, piece, begin));
            break;
          }
          case 'cancelAll':
            picker.cancelAllRequests(peerName(op.peer));
            assert.deepEqual(picker.outstandingFor(peerName(op.peer)), []);
            break;
          case 'remove':
            picker.removePeer(peerName(op.peer));
            announced.delete(peerName(op.peer));
            break;
        }
        picker.checkInvariants();
        for (const peer of [...PEERS, WEB_SEED]) {
          const outstanding = picker.outstandingFor(peer);
          assert.equal(picker.outstandingCount(peer), outstanding.length);
          for (const { piece, begin } of outstanding) assert.ok(picker.isRequestedFrom(peer, piece, begin));
        }
      }

      // Whatever happened, a seed that answers every request completes the download.
      picker.peerHasAll('final-seed');
      for (let round = 0; !picker.isComplete; round++) {
        assert.ok(round <= pieceCount * blocksPerPiece, 'download does not complete');
        for (const { piece, begin } of picker.pickBlocks('final-seed', 'all', 4)) {
          if (picker.blockReceived('final-seed', piece, begin).pieceComplete) picker.pieceVerified(piece);
        }
      }
      picker.checkInvariants();
    }),
    { numRuns: 300 },
  );
});
