/**
 * UDP tracker protocol (BEP 15) packets, both directions, as pure functions. All integers are big-endian.
 *
 *   connect   request: protocol_id u64, action=0 u32, transaction_id u32                     (16 bytes)
 *             response: action=0, transaction_id, connection_id u64                           (16 bytes)
 *   announce  request: connection_id u64, action=1, transaction_id, info_hash[20], peer_id[20],
 *                      downloaded u64, left u64, uploaded u64, event u32, ip u32, key u32,
 *                      num_want i32, port u16                                                 (98 bytes)
 *             response: action=1, transaction_id, interval i32, leechers i32, seeders i32, peers (20 + 6n)
 *   scrape    request: connection_id, action=2, transaction_id, info_hash[20] * n             (16 + 20n)
 *             response: action=2, transaction_id, (seeders i32, completed i32, leechers i32) * n (8 + 12n)
 *   error     response: action=3, transaction_id, message                                     (8 + text)
 */
import { checkAnnounceParams } from './announce-params.js';
import { encodeCompactPeers, parseCompactPeers } from './compact-peers.js';
import type { AddressFamily } from './compact-peers.js';
import { TrackerProtocolError } from './errors.js';
import type { AnnounceEvent, AnnounceParams, PeerAddress } from './types.js';

/** The magic constant that opens every connect request. */
export const PROTOCOL_ID = 0x41727101980n;

const ACTION_CONNECT = 0;
const ACTION_ANNOUNCE = 1;
const ACTION_SCRAPE = 2;
const ACTION_ERROR = 3;

const CONNECT_LENGTH = 16;
const ANNOUNCE_REQUEST_LENGTH = 98;
const ANNOUNCE_RESPONSE_HEADER = 20;
const SCRAPE_REQUEST_HEADER = 16;
const SCRAPE_RESPONSE_ENTRY = 12;

const EVENT_CODES: Record<AnnounceEvent | 'none', number> = { none: 0, completed: 1, started: 2, stopped: 3 };
const EVENT_BY_CODE: readonly (AnnounceEvent | undefined)[] = [undefined, 'completed', 'started', 'stopped'];

export interface UdpConnectRequest {
  action: 'connect';
  transactionId: number;
}

export interface UdpAnnounceRequest extends AnnounceParams {
  action: 'announce';
  /** 8 opaque bytes from the connect response. */
  connectionId: Uint8Array;
  transactionId: number;
  /** The address the client asks to be listed under; 0 means "the packet's source". */
  ip: number;
}

export interface UdpScrapeRequest {
  action: 'scrape';
  connectionId: Uint8Array;
  transactionId: number;
  infoHashes: Uint8Array[];
}

export type UdpRequest = UdpConnectRequest | UdpAnnounceRequest | UdpScrapeRequest;

export interface UdpConnectResponse {
  action: 'connect';
  transactionId: number;
  connectionId: Uint8Array;
}

export interface UdpAnnounceResponse {
  action: 'announce';
  transactionId: number;
  interval: number;
  leechers: number;
  seeders: number;
  peers: PeerAddress[];
}

export interface UdpScrapeStats {
  seeders: number;
  completed: number;
  leechers: number;
}

export interface UdpScrapeResponse {
  action: 'scrape';
  transactionId: number;
  files: UdpScrapeStats[];
}

export interface UdpErrorResponse {
  action: 'error';
  transactionId: number;
  message: string;
}

export type UdpResponse = UdpConnectResponse | UdpAnnounceResponse | UdpScrapeResponse | UdpErrorResponse;

function view(packet: Uint8Array): DataView {
  return new DataView(packet.buffer, packet.byteOffset, packet.byteLength);
}

function checkUint32(name: string, value: number): void {
  if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) {
    throw new RangeError(`${name} must be a 32-bit unsigned integer, got ${value}`);
  }
}

function checkConnectionId(connectionId: Uint8Array): void {
  if (connectionId.length !== 8) throw new RangeError(`connection id must be 8 bytes, got ${connectionId.length}`);
}

/** Reads a u64 counter; values past 2^53 (left=2^64-1 from clients without metadata) are clamped. */
function readCounter(v: DataView, offset: number): number {
  const big = v.getBigUint64(offset);
  return big > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(big);
}

/** The transaction id of any BEP 15 packet, or undefined when the packet is too short to have one. */
export function transactionIdOf(packet: Uint8Array): number | undefined {
  return packet.length < 8 ? undefined : view(packet).getUint32(4);
}

export function encodeConnectRequest(transactionId: number): Uint8Array {
  checkUint32('transaction id', transactionId);
  const out = new Uint8Array(CONNECT_LENGTH);
  const v = view(out);
  v.setBigUint64(0, PROTOCOL_ID);
  v.setUint32(8, ACTION_CONNECT);
  v.setUint32(12, transactionId);
  return out;
}

export function encodeAnnounceRequest(
  connectionId: Uint8Array,
  transactionId: number,
  params: AnnounceParams,
): Uint8Array {
  checkConnectionId(connectionId);
  checkUint32('transaction id', transactionId);
  checkAnnounceParams(params);
  const out = new Uint8Array(ANNOUNCE_REQUEST_LENGTH);
  const v = view(out);
  out.set(connectionId, 0);
  v.setUint32(8, ACTION_ANNOUNCE);
  v.setUint32(12, transactionId);
  out.set(params.infoHash, 16);
  out.set(params.peerId, 36);
  v.setBigUint64(56, BigInt(params.downloaded));
  v.setBigUint64(64, BigInt(params.left));
  v.setBigUint64(72, BigInt(params.uploaded));
  v.setUint32(80, EVENT_CODES[params.event ?? 'none']);
  v.setUint32(84, 0); // ip: let the tracker use the packet's source address
  v.setUint32(88, params.key ?? 0);
  v.setInt32(92, params.numwant ?? -1); // -1: the tracker's default
  v.setUint16(96, params.port);
  return out;
}

export function encodeScrapeRequest(
  connectionId: Uint8Array,
  transactionId: number,
  infoHashes: readonly Uint8Array[],
): Uint8Array {
  checkConnectionId(connectionId);
  checkUint32('transaction id', transactionId);
  const out = new Uint8Array(SCRAPE_REQUEST_HEADER + 20 * infoHashes.length);
  const v = view(out);
  out.set(connectionId, 0);
  v.setUint32(8, ACTION_SCRAPE);
  v.setUint32(12, transactionId);
  infoHashes.forEach((hash, i) => {
    if (hash.length !== 20) throw new RangeError(`info-hash must be 20 bytes, got ${hash.length}`);
    out.set(hash, SCRAPE_REQUEST_HEADER + 20 * i);
  });
  return out;
}

/** Reads a client's packet (the tracker server's side); anything but a well-formed request is a protocol error. */
export function decodeRequest(packet: Uint8Array): UdpRequest {
  if (packet.length < CONNECT_LENGTH) {
    throw new TrackerProtocolError(`UDP tracker request of ${packet.length} bytes is too short`);
  }
  const v = view(packet);
  const action = v.getUint32(8);
  const transactionId = v.getUint32(12);
  if (action === ACTION_CONNECT) {
    if (v.getBigUint64(0) !== PROTOCOL_ID) {
      throw new TrackerProtocolError('connect request without the BEP 15 protocol id');
    }
    return { action: 'connect', transactionId };
  }
  const connectionId = packet.slice(0, 8);
  if (action === ACTION_ANNOUNCE) {
    if (packet.length < ANNOUNCE_REQUEST_LENGTH) {
      throw new TrackerProtocolError(`announce request of ${packet.length} bytes, expected ${ANNOUNCE_REQUEST_LENGTH}`);
    }
    const eventCode = v.getUint32(80);
    if (eventCode >= EVENT_BY_CODE.length) throw new TrackerProtocolError(`unknown announce event ${eventCode}`);
    const request: UdpAnnounceRequest = {
      action: 'announce',
      connectionId,
      transactionId,
      infoHash: packet.slice(16, 36),
      peerId: packet.slice(36, 56),
      downloaded: readCounter(v, 56),
      left: readCounter(v, 64),
      uploaded: readCounter(v, 72),
      ip: v.getUint32(84),
      key: v.getUint32(88),
      port: v.getUint16(96),
    };
    const event = EVENT_BY_CODE[eventCode];
    if (event !== undefined) request.event = event;
    const numwant = v.getInt32(92);
    if (numwant >= 0) request.numwant = numwant;
    return request;
  }
  if (action === ACTION_SCRAPE) {
    if ((packet.length - SCRAPE_REQUEST_HEADER) % 20 !== 0) {
      throw new TrackerProtocolError(`scrape request of ${packet.length} bytes is not 16 + 20n`);
    }
    const infoHashes: Uint8Array[] = [];
    for (let o = SCRAPE_REQUEST_HEADER; o < packet.length; o += 20) infoHashes.push(packet.slice(o, o + 20));
    return { action: 'scrape', connectionId, transactionId, infoHashes };
  }
  throw new TrackerProtocolError(`unknown UDP tracker action ${action}`);
}

export function encodeConnectResponse(transactionId: number, connectionId: Uint8Array): Uint8Array {
  checkConnectionId(connectionId);
  checkUint32('transaction id', transactionId);
  const out = new Uint8Array(CONNECT_LENGTH);
  const v = view(out);
  v.setUint32(0, ACTION_CONNECT);
  v.setUint32(4, transactionId);
  out.set(connectionId, 8);
  return out;
}

export function encodeAnnounceResponse(
  response: Omit<UdpAnnounceResponse, 'action'>,
  family: AddressFamily,
): Uint8Array {
  checkUint32('transaction id', response.transactionId);
  const peers = encodeCompactPeers(response.peers, family);
  const out = new Uint8Array(ANNOUNCE_RESPONSE_HEADER + peers.length);
  const v = view(out);
  v.setUint32(0, ACTION_ANNOUNCE);
  v.setUint32(4, response.transactionId);
  v.setInt32(8, response.interval);
  v.setInt32(12, response.leechers);
  v.setInt32(16, response.seeders);
  out.set(peers, ANNOUNCE_RESPONSE_HEADER);
  return out;
}

export function encodeScrapeResponse(transactionId: number, files: readonly UdpScrapeStats[]): Uint8Array {
  checkUint32('transaction id', transactionId);
  const out = new Uint8Array(8 + SCRAPE_RESPONSE_ENTRY * files.length);
  const v = view(out);
  v.setUint32(0, ACTION_SCRAPE);
  v.setUint32(4, transactionId);
  files.forEach((f, i) => {
    const o = 8 + SCRAPE_RESPONSE_ENTRY * i;
    v.setInt32(o, f.seeders);
    v.setInt32(o + 4, f.completed);
    v.setInt32(o + 8, f.leechers);
  });
  return out;
}

export function encodeErrorResponse(transactionId: number, message: string): Uint8Array {
  checkUint32('transaction id', transactionId);
  const text = new TextEncoder().encode(message);
  const out = new Uint8Array(8 + text.length);
  const v = view(out);
  v.setUint32(0, ACTION_ERROR);
  v.setUint32(4, transactionId);
  out.set(text, 8);
  return out;
}

function readCount(v: DataView, offset: number, name: string): number {
  const n = v.getInt32(offset);
  if (n < 0) throw new TrackerProtocolError(`UDP tracker sent a negative ${name} (${n})`);
  return n;
}

/**
 * Reads a tracker's packet (the client's side). `family` is the address family of the socket the announce
 * went over: BEP 15 answers IPv6 announces with 18-byte peer entries.
 */
export function decodeResponse(packet: Uint8Array, family: AddressFamily = 4): UdpResponse {
  if (packet.length < 8) throw new TrackerProtocolError(`UDP tracker packet of ${packet.length} bytes is too short`);
  const v = view(packet);
  const action = v.getUint32(0);
  const transactionId = v.getUint32(4);
  switch (action) {
    case ACTION_CONNECT:
      if (packet.length < CONNECT_LENGTH) {
        throw new TrackerProtocolError(`connect response of ${packet.length} bytes, expected 16`);
      }
      return { action: 'connect', transactionId, connectionId: packet.slice(8, 16) };
    case ACTION_ANNOUNCE:
      if (packet.length < ANNOUNCE_RESPONSE_HEADER) {
        throw new TrackerProtocolError(`announce response of ${packet.length} bytes is shorter than 20`);
      }
      return {
        action: 'announce',
        transactionId,
        interval: readCount(v, 8, 'interval'),
        leechers: readCount(v, 12, 'leecher count'),
        seeders: readCount(v, 16, 'seeder count'),
        peers: parseCompactPeers(packet.subarray(ANNOUNCE_RESPONSE_HEADER), family),
      };
    case ACTION_SCRAPE: {
      if ((packet.length - 8) % SCRAPE_RESPONSE_ENTRY !== 0) {
        throw new TrackerProtocolError(`scrape response of ${packet.length} bytes is not 8 + 12n`);
      }
      const files: UdpScrapeStats[] = [];
      for (let o = 8; o < packet.length; o += SCRAPE_RESPONSE_ENTRY) {
        files.push({
          seeders: readCount(v, o, 'seeder count'),
          completed: readCount(v, o + 4, 'completed count'),
          leechers: readCount(v, o + 8, 'leecher count'),
        });
      }
      return { action: 'scrape', transactionId, files };
    }
    case ACTION_ERROR:
      return { action: 'error', transactionId, message: new TextDecoder().decode(packet.subarray(8)) };
    default:
      throw new TrackerProtocolError(`unknown UDP tracker action ${action}`);
  }
}
