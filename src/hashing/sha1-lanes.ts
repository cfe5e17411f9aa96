/**
 * The native multi-lane SHA-1 (native/sha1-lanes.c), built by `npm install` where a C compiler is at hand:
 * up to four equal-length messages hashed at once with the x86 SHA extensions. One message at a time, SHA-1
 * waits on the latency of its own instructions; four lanes hash about 2.3 times as many bytes per core as
 * node:crypto. Undefined where it was not built or the CPU lacks the extensions, or with
 * TORRENT_TS_NATIVE_SHA1=off: callers then use node:crypto.
 */
// Not named createRequire: the bundled CLI's banner declares that name in every chunk.
import { createRequire as requireFrom } from 'node:module';
import { fileURLToPath } from 'node:url';

export interface Sha1Lanes {
  /** Starts a hash in each lane of `state` (20 bytes per lane, 1 to 4 lanes: the five state words). */
  init(state: Uint8Array): void;
  /** Feeds one array per lane, all of one length, a multiple of 64 bytes. */
  update(state: Uint8Array, lanes: Uint8Array[]): void;
}

export const MAX_SHA1_LANES = 4;
/** SHA-1 works on blocks of 64 bytes; lanes are fed whole blocks. */
export const SHA1_BLOCK = 64;

/** Both this file (dist/src/hashing/) and the bundle (dist/bundle/cli/) sit three folders below the package. */
const ADDON = fileURLToPath(new URL('../../../build/Release/sha1_lanes.node', import.meta.url));

function load(): Sha1Lanes | undefined {
  // An escape hatch, and how the tests run the node:crypto paths on a machine that has the addon.
  if (process.env.TORRENT_TS_NATIVE_SHA1 === 'off') return undefined;
  try {
    const addon = requireFrom(import.meta.url)(ADDON) as Sha1Lanes & { available: boolean };
    return addon.available ? addon : undefined;
  } catch {
    return undefined;
  }
}

export const sha1Lanes: Sha1Lanes | undefined = load();


/**
 * Ends every lane of `state` as a message of `totalLength` bytes whose last `tail.length` bytes (fewer than
 * 64) are `tail`, not yet fed: they, the 0x80 byte, zeros and the bit length (FIPS 180-4, 5.1.1) go in as
 * one last update. Returns the digests, 20 bytes per lane.
 */
export function finishLanes(sha1: Sha1Lanes, state: Uint8Array, totalLength: number, tail: Uint8Array = new Uint8Array(0)): Uint8Array {
  const padding = new Uint8Array(tail.length + 9 <= SHA1_BLOCK ? SHA1_BLOCK : 2 * SHA1_BLOCK);
  padding.set(tail);
  padding[tail.length] = 0x80;
  new DataView(padding.buffer).setBigUint64(padding.length - 8, BigInt(totalLength) * 8n);
  const laneCount = state.length / 20;
  sha1.update(state, new Array<Uint8Array>(laneCount).fill(padding));
  // The state words are in the CPU's byte order; a digest is their big-endian bytes.
  const words = new Uint32Array(state.buffer, state.byteOffset, laneCount * 5);
  const digests = new Uint8Array(laneCount * 20);
  const view = new DataView(digests.buffer);
  for (let i = 0; i < words.length; i++) view.setUint32(4 * i, words[i]);
  return digests;
}
