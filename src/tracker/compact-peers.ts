/**
 * Compact peer lists: 4-byte IPv4 address + 2-byte port (BEP 23, BEP 15), or 16-byte IPv6 address + 2-byte port
 * (BEP 7 `peers6`), all big-endian, concatenated.
 */
import { isIPv4, isIPv6 } from 'node:net';
import type { PeerAddress } from './types.js';
import { TrackerProtocolError } from './errors.js';

export type AddressFamily = 4 | 6;

const ENTRY_LENGTH = { 4: 6, 6: 18 } as const;

/**
 * Splits a compact peer string; a length that is not a whole number of entries is a protocol error.
 * Entries with port 0 are unreachable and dropped.
 */
export function parseCompactPeers(bytes: Uint8Array, family: AddressFamily): PeerAddress[] {
  const entry = ENTRY_LENGTH[family];
  if (bytes.length % entry !== 0) {
    throw new TrackerProtocolError(
      `compact IPv${family} peer list is ${bytes.length} bytes, not a multiple of ${entry}`,
    );
  }
  const peers: PeerAddress[] = [];
  for (let o = 0; o < bytes.length; o += entry) {
    const addressLength = entry - 2;
    const port = (bytes[o + addressLength] << 8) | bytes[o + addressLength + 1];
    if (port === 0) continue;
    const address = bytes.subarray(o, o + addressLength);
    peers.push({ host: family === 4 ? formatIPv4(address) : formatIPv6(address), port });
  }
  return peers;
}

/** The inverse of parseCompactPeers; every peer must be a literal address of the given family. */
export function encodeCompactPeers(peers: readonly PeerAddress[], family: AddressFamily): Uint8Array {
  const entry = ENTRY_LENGTH[family];
  const out = new Uint8Array(peers.length * entry);
  peers.forEach((peer, i) => {
    const o = i * entry;
    out.set(family === 4 ? parseIPv4(peer.host) : parseIPv6(peer.host), o);
    out[o + entry - 2] = peer.port >> 8;
    out[o + entry - 1] = peer.port & 0xff;
  });
  return out;
}

export function formatIPv4(b: Uint8Array): string {
  return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
}

/** RFC 5952 text: lower-case hex, the longest run of two or more zero groups becomes "::". */
export function formatIPv6(b: Uint8Array): string {
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((b[i] << 8) | b[i + 1]);
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = (gs: number[]) => gs.map((g) => g.toString(16)).join(':');
  if (bestStart < 0) return hex(groups);
  return `${hex(groups.slice(0, bestStart))}::${hex(groups.slice(bestStart + bestLength))}`;
}

export function parseIPv4(text: string): Uint8Array {
  if (!isIPv4(text)) throw new RangeError(`"${text}" is not an IPv4 address`);
  return Uint8Array.from(text.split('.').map(Number));
}

export function parseIPv6(text: string): Uint8Array {
  if (!isIPv6(text)) throw new RangeError(`"${text}" is not an IPv6 address`);
  // An embedded IPv4 tail (::ffff:1.2.3.4) counts as two groups.
  let groupsText = text;
  const lastColon = text.lastIndexOf(':');
  const tail = text.slice(lastColon + 1);
  if (isIPv4(tail)) {
    const v4 = parseIPv4(tail);
    const high = ((v4[0] << 8) | v4[1]).toString(16);
    const low = ((v4[2] << 8) | v4[3]).toString(16);
    groupsText = `${text.slice(0, lastColon + 1)}${high}:${low}`;
  }
  const [head, rest] = groupsText.split('::');
  const headGroups = head === '' ? [] : head.split(':');
  const restGroups = rest === undefined || rest === '' ? [] : rest.split(':');
  const zeros = rest === undefined ? 0 : 8 - headGroups.length - restGroups.length;
  const groups = [...headGroups, ...Array<string>(zeros).fill('0'), ...restGroups];
  const out = new Uint8Array(16);
  groups.forEach((g, i) => {
    const v = parseInt(g, 16);
    out[i * 2] = v >> 8;
    out[i * 2 + 1] = v & 0xff;
  });
  return out;
}
