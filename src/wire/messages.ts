/**
 * Peer wire messages (BEP 3, plus BEP 5's port and BEP 10's extended message). After the handshake every
 * message is a frame: a 4-byte big-endian length prefix counting the bytes after it, then (unless the
 * length is 0, a keep-alive) a 1-byte message id and the payload. All integers are big-endian uint32
 * unless noted.
 */
import { WireProtocolError } from './errors.js';

/** The block size every client requests (BEP 3 practice; larger requests are commonly refused). */
export const BLOCK_SIZE = 16384;

export const MessageId = {
  choke: 0,
  unchoke: 1,
  interested: 2,
  notInterested: 3,
  have: 4,
  bitfield: 5,
  request: 6,
  piece: 7,
  cancel: 8,
  port: 9,
  extended: 20,
} as const;

export type WireMessage =
  /** <len=0000> */
  | { type: 'keepalive' }
  /** <len=0001><id=0> */
  | { type: 'choke' }
  /** <len=0001><id=1> */
  | { type: 'unchoke' }
  /** <len=0001><id=2> */
  | { type: 'interested' }
  /** <len=0001><id=3> */
  | { type: 'notInterested' }
  /** <len=0005><id=4><index> */
  | { type: 'have'; index: number }
  /** <len=0001+X><id=5><bitfield: X bytes, high bit of the first byte is piece 0> */
  | { type: 'bitfield'; bytes: Uint8Array }
  /** <len=0013><id=6><index><begin><length> */
  | { type: 'request'; index: number; begin: number; length: number }
  /** <len=0009+X><id=7><index><begin><block: X bytes> */
  | { type: 'piece'; index: number; begin: number; block: Uint8Array }
  /** <len=0013><id=8><index><begin><length> */
  | { type: 'cancel'; index: number; begin: number; length: number }
  /** <len=0003><id=9><listen port: uint16> (BEP 5) */
  | { type: 'port'; port: number }
  /** <len=0002+X><id=20><extended message id: 1 byte><payload: X bytes> (BEP 10; id 0 is the extension handshake) */
  | { type: 'extended'; id: number; payload: Uint8Array }
  /** <len=0001+X><id><payload>: an id we do not implement (e.g. BEP 6 fast extension); callers ignore it. */
  | { type: 'unknown'; id: number; payload: Uint8Array };

export type WireMessageType = WireMessage['type'];

/** Values of the length prefix for the messages whose size is fixed. */
const FIXED_LENGTH: Partial<Record<number, number>> = {
  [MessageId.choke]: 1,
  [MessageId.unchoke]: 1,
  [MessageId.interested]: 1,
  [MessageId.notInterested]: 1,
  [MessageId.have]: 5,
  [MessageId.request]: 13,
  [MessageId.cancel]: 13,
  [MessageId.port]: 3,
};
/** Smallest length prefix for the variable-size messages: id + fixed header. */
const MIN_LENGTH: Partial<Record<number, number>> = {
  [MessageId.bitfield]: 1,
  [MessageId.piece]: 9,
  [MessageId.extended]: 2,
};

const MESSAGE_NAME: Record<number, string> = {
  0: 'choke',
  1: 'unchoke',
  2: 'interested',
  3: 'not interested',
  4: 'have',
  5: 'bitfield',
  6: 'request',
  7: 'piece',
  8: 'cancel',
  9: 'port',
  20: 'extended',
};

/** Piece message header size: length prefix + id + index + begin. */
export const PIECE_HEADER_LENGTH = 13;

function checkUint32(name: string, v: number): void {
  if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new RangeError(`${name} ${v} is not a uint32`);
}

function checkUint8(name: string, v: number): void {
  if (!Number.isInteger(v) || v < 0 || v > 0xff) throw new RangeError(`${name} ${v} is not a byte`);
}

function frame(id: number, payloadLength: number): Buffer {
  const out = Buffer.allocUnsafe(5 + payloadLength);
  out.writeUInt32BE(1 + payloadLength, 0);
  out[4] = id;
  return out;
}

/** A request or cancel frame: length prefix, id, index, begin, length. */
const REQUEST_FRAME_LENGTH = 17;

function writeRequestFrame(out: Buffer, at: number, id: number, index: number, begin: number, length: number): void {
  checkUint32('index', index);
  checkUint32('begin', begin);
  checkUint32('length', length);
  out.writeUInt32BE(13, at);
  out[at + 4] = id;
  out.writeUInt32BE(index, at + 5);
  out.writeUInt32BE(begin, at + 9);
  out.writeUInt32BE(length, at + 13);
}

/** A block as a REQUEST names it: `piece` is BEP 3's `index`. */
export interface BlockRange {
  piece: number;
  begin: number;
  length: number;
}

/**
 * REQUEST frames back to back in one buffer: a batch leaves in one socket write. Takes blocks as the piece
 * picker hands them out, so a batch needs no objects of its own.
 */
export function encodeRequests(blocks: readonly BlockRange[]): Buffer {
  const out = Buffer.allocUnsafe(blocks.length * REQUEST_FRAME_LENGTH);
  for (let i = 0; i < blocks.length; i++) {
    const { piece, begin, length } = blocks[i];
    writeRequestFrame(out, i * REQUEST_FRAME_LENGTH, MessageId.request, piece, begin, length);
  }
  return out;
}

/**
 * The 13-byte header of a piece message carrying `blockLength` bytes, so a seeder can write the header and
 * then the block straight from storage instead of concatenating them.
 */
export function encodePieceHeader(index: number, begin: number, blockLength: number): Uint8Array {
  checkUint32('index', index);
  checkUint32('begin', begin);
  if (!Number.isInteger(blockLength) || blockLength < 0 || blockLength > 0xffffffff - 9) {
    throw new RangeError(`block length ${blockLength} does not fit a piece message`);
  }
  const out = Buffer.allocUnsafe(PIECE_HEADER_LENGTH);
  out.writeUInt32BE(9 + blockLength, 0);
  out[4] = MessageId.piece;
  out.writeUInt32BE(index, 5);
  out.writeUInt32BE(begin, 9);
  return out;
}

/** Encodes one message as a complete frame (length prefix included). */
export function encodeMessage(m: WireMessage): Uint8Array {
  switch (m.type) {
    case 'keepalive':
      return Buffer.alloc(4);
    case 'choke':
      return frame(MessageId.choke, 0);
    case 'unchoke':
      return frame(MessageId.unchoke, 0);
    case 'interested':
      return frame(MessageId.interested, 0);
    case 'notInterested':
      return frame(MessageId.notInterested, 0);
    case 'have': {
      checkUint32('index', m.index);
      const out = frame(MessageId.have, 4);
      out.writeUInt32BE(m.index, 5);
      return out;
    }
    case 'bitfield': {
      const out = frame(MessageId.bitfield, m.bytes.length);
      out.set(m.bytes, 5);
      return out;
    }
    case 'request':
    case 'cancel': {
      const out = Buffer.allocUnsafe(REQUEST_FRAME_LENGTH);
      writeRequestFrame(out, 0, m.type === 'request' ? MessageId.request : MessageId.cancel, m.index, m.begin, m.length);
      return out;
    }
    case 'piece': {
      const out = Buffer.allocUnsafe(PIECE_HEADER_LENGTH + m.block.length);
      out.set(encodePieceHeader(m.index, m.begin, m.block.length), 0);
      out.set(m.block, PIECE_HEADER_LENGTH);
      return out;
    }
    case 'port': {
      if (!Number.isInteger(m.port) || m.port < 0 || m.port > 0xffff) throw new RangeError(`port ${m.port} is not a uint16`);
      const out = frame(MessageId.port, 2);
      out.writeUInt16BE(m.port, 5);
      return out;
    }
    case 'extended': {
      checkUint8('extended message id', m.id);
      const out = frame(MessageId.extended, 1 + m.payload.length);
      out[5] = m.id;
      out.set(m.payload, 6);
      return out;
    }
    case 'unknown': {
      checkUint8('message id', m.id);
      const out = frame(m.id, m.payload.length);
      out.set(m.payload, 5);
      return out;
    }
  }
}

/**
 * Checks a frame's length prefix against its message id (as soon as both are known, before the payload is
 * buffered), so e.g. a 13-byte "have" is refused.
 */
export function checkFrameLength(id: number, length: number): void {
  const fixed = FIXED_LENGTH[id];
  if (fixed !== undefined && length !== fixed) {
    throw new WireProtocolError(`${MESSAGE_NAME[id]} message must be ${fixed} bytes long, got ${length}`);
  }
  const min = MIN_LENGTH[id];
  if (min !== undefined && length < min) {
    throw new WireProtocolError(`${MESSAGE_NAME[id]} message must be at least ${min} bytes long, got ${length}`);
  }
}

/** Big-endian, without a DataView: decoding runs for every block received. */
function readUint32(bytes: Uint8Array, offset: number): number {
  return ((bytes[offset] << 24) | (bytes[offset + 1] << 16) | (bytes[offset + 2] << 8) | bytes[offset + 3]) >>> 0;
}

/**
 * Decodes the frame body `bytes[start, end)`: its first byte is the message id, the rest its payload (the
 * length prefix already removed and validated by checkFrameLength). A piece block is a view into `bytes`; the
 * other byte payloads are copies, small and rare, which callers may keep after `bytes`' memory is reused.
 */
export function decodeMessageBody(bytes: Uint8Array, start: number, end: number): WireMessage {
  if (end === start) return { type: 'keepalive' };
  const id = bytes[start];
  checkFrameLength(id, end - start);
  const payload = start + 1;
  switch (id) {
    case MessageId.choke:
      return { type: 'choke' };
    case MessageId.unchoke:
      return { type: 'unchoke' };
    case MessageId.interested:
      return { type: 'interested' };
    case MessageId.notInterested:
      return { type: 'notInterested' };
    case MessageId.have:
      return { type: 'have', index: readUint32(bytes, payload) };
    case MessageId.bitfield:
      return { type: 'bitfield', bytes: new Uint8Array(bytes.subarray(payload, end)) };
    case MessageId.request:
      return { type: 'request', index: readUint32(bytes, payload), begin: readUint32(bytes, payload + 4), length: readUint32(bytes, payload + 8) };
    case MessageId.piece:
      return { type: 'piece', index: readUint32(bytes, payload), begin: readUint32(bytes, payload + 4), block: bytes.subarray(payload + 8, end) };
    case MessageId.cancel:
      return { type: 'cancel', index: readUint32(bytes, payload), begin: readUint32(bytes, payload + 4), length: readUint32(bytes, payload + 8) };
    case MessageId.port:
      return { type: 'port', port: (bytes[payload] << 8) | bytes[payload + 1] };
    case MessageId.extended:
      return { type: 'extended', id: bytes[payload], payload: new Uint8Array(bytes.subarray(payload + 1, end)) };
    default:
      return { type: 'unknown', id, payload: new Uint8Array(bytes.subarray(payload, end)) };
  }
}
