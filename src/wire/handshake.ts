/**
 * The peer wire handshake (BEP 3), the first 68 bytes each side sends:
 *
 *   <pstrlen=19><pstr="BitTorrent protocol"><reserved: 8 bytes><info_hash: 20 bytes><peer_id: 20 bytes>
 */
import { WireProtocolError } from './errors.js';

export const PROTOCOL_STRING = 'BitTorrent protocol';
export const HANDSHAKE_LENGTH = 68;
/** Byte offsets inside the handshake. */
const PSTR_END = 1 + PROTOCOL_STRING.length; // 20
const RESERVED_END = PSTR_END + 8; // 28
const INFO_HASH_END = RESERVED_END + 20; // 48
/** After this many bytes the remote's info-hash is known (a listener serving many torrents looks it up here). */
export const HANDSHAKE_INFO_HASH_END = INFO_HASH_END;

const PROTOCOL_PREFIX = Uint8Array.from([PROTOCOL_STRING.length, ...Buffer.from(PROTOCOL_STRING, 'latin1')]);

/** BEP 10: reserved byte 5, bit 0x10 announces the extension protocol. */
const EXTENSION_PROTOCOL_BYTE = 5;
const EXTENSION_PROTOCOL_BIT = 0x10;

export interface Handshake {
  infoHash: Uint8Array;
  peerId: Uint8Array;
  /** The 8 reserved bytes: each set bit announces support for a protocol extension. */
  reserved: Uint8Array;
}

/** The reserved bytes we send: only the BEP 10 extension protocol bit (no fast extension, no DHT yet). */
export function defaultReserved(): Uint8Array {
  const reserved = new Uint8Array(8);
  reserved[EXTENSION_PROTOCOL_BYTE] |= EXTENSION_PROTOCOL_BIT;
  return reserved;
}

/** True when the remote's reserved bytes announce the BEP 10 extension protocol. */
export function supportsExtensionProtocol(reserved: Uint8Array): boolean {
  return (reserved[EXTENSION_PROTOCOL_BYTE] & EXTENSION_PROTOCOL_BIT) !== 0;
}

export function encodeHandshake(h: { infoHash: Uint8Array; peerId: Uint8Array; reserved?: Uint8Array }): Uint8Array {
  const reserved = h.reserved ?? defaultReserved();
  if (h.infoHash.length !== 20) throw new RangeError(`info-hash must be 20 bytes, got ${h.infoHash.length}`);
  if (h.peerId.length !== 20) throw new RangeError(`peer id must be 20 bytes, got ${h.peerId.length}`);
  if (reserved.length !== 8) throw new RangeError(`reserved must be 8 bytes, got ${reserved.length}`);
  const out = Buffer.allocUnsafe(HANDSHAKE_LENGTH);
  out.set(PROTOCOL_PREFIX, 0);
  out.set(reserved, PSTR_END);
  out.set(h.infoHash, RESERVED_END);
  out.set(h.peerId, INFO_HASH_END);
  return out;
}

/**
 * Checks the bytes received so far (any length) against the fixed protocol prefix, so a non-BitTorrent
 * client (an HTTP request, random bytes) is refused at its first byte instead of after a timeout.
 */
export function checkHandshakeStart(received: Uint8Array): void {
  const n = Math.min(received.length, PSTR_END);
  for (let i = 0; i < n; i++) {
    if (received[i] !== PROTOCOL_PREFIX[i]) {
      throw new WireProtocolError(
        i === 0
          ? `not a BitTorrent handshake: protocol string length byte is ${received[0]}, expected 19`
          : 'not a BitTorrent handshake: protocol string is not "BitTorrent protocol"',
      );
    }
  }
}

/** Decodes the first 68 bytes of `buf` (bytes after the handshake are the caller's). */
export function decodeHandshake(buf: Uint8Array): Handshake {
  checkHandshakeStart(buf);
  if (buf.length < HANDSHAKE_LENGTH) {
    throw new WireProtocolError(`handshake truncated: ${buf.length} of ${HANDSHAKE_LENGTH} bytes`);
  }
  return {
    // Copies (not views), so keeping them does not pin the received chunk.
    reserved: new Uint8Array(buf.subarray(PSTR_END, RESERVED_END)),
    infoHash: new Uint8Array(buf.subarray(RESERVED_END, INFO_HASH_END)),
    peerId: new Uint8Array(buf.subarray(INFO_HASH_END, HANDSHAKE_LENGTH)),
  };
}
