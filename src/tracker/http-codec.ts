/**
 * HTTP tracker protocol (BEP 3 announce, BEP 23 compact peers, BEP 7 `peers6`), as pure functions:
 * the client builds announce URLs and parses answers, our tracker server parses announce queries.
 */
import {
  BencodeError,
  BencodeTypeError,
  decode,
  getBytes,
  getInt,
  getList,
  getText,
  isDict,
} from '../bencode/index.js';
import type { BencodeDict, BencodeList } from '../bencode/index.js';
import { checkAnnounceParams } from './announce-params.js';
import { parseCompactPeers } from './compact-peers.js';
import { TrackerFailure, TrackerProtocolError } from './errors.js';
import type { AnnounceEvent, AnnounceParams, AnnounceResult, PeerAddress } from './types.js';

const HEX = '0123456789ABCDEF';

/** RFC 3986 unreserved characters: ALPHA / DIGIT / "-" / "." / "_" / "~". */
function isUnreserved(b: number): boolean {
  return (
    (b >= 0x41 && b <= 0x5a) ||
    (b >= 0x61 && b <= 0x7a) ||
    (b >= 0x30 && b <= 0x39) ||
    b === 0x2d ||
    b === 0x2e ||
    b === 0x5f ||
    b === 0x7e
  );
}

/**
 * Percent-encodes raw bytes one by one. Unreserved characters stay literal; everything else (space included)
 * becomes %XX, so no tracker can misread a "+" as a space.
 */
export function percentEncodeBytes(bytes: Uint8Array): string {
  let out = '';
  for (const b of bytes) {
    out += isUnreserved(b) ? String.fromCharCode(b) : `%${HEX[b >> 4]}${HEX[b & 0xf]}`;
  }
  return out;
}

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x41 && c <= 0x46) return c - 0x41 + 10;
  if (c >= 0x61 && c <= 0x66) return c - 0x61 + 10;
  return -1;
}

/** Decodes a query component to raw bytes, form-style ("+" is a space); a broken %-escape is a protocol error. */
export function percentDecodeBytes(text: string): Uint8Array {
  const src = Buffer.from(text, 'latin1');
  const out = new Uint8Array(src.length);
  let n = 0;
  for (let i = 0; i < src.length; i++) {
    const c = src[i];
    if (c === 0x25) {
      const hi = i + 2 < src.length ? hexValue(src[i + 1]) : -1;
      const lo = hi >= 0 ? hexValue(src[i + 2]) : -1;
      if (lo < 0) throw new TrackerProtocolError(`broken percent-escape at character ${i} of the query`);
      out[n++] = (hi << 4) | lo;
      i += 2;
    } else {
      out[n++] = c === 0x2b ? 0x20 : c;
    }
  }
  return out.slice(0, n);
}

export interface AnnounceUrlExtras {
  /** The `tracker id` an earlier answer from this tracker gave us (BEP 3): sent back as `trackerid`. */
  trackerId?: Uint8Array;
}

/**
 * The GET URL for an announce. We never send `ip`: the tracker uses the address the request comes from.
 * An announce URL that already has a query gets our parameters after "&"; a fragment is dropped.
 */
export function buildAnnounceUrl(announceUrl: string, params: AnnounceParams, extras: AnnounceUrlExtras = {}): string {
  checkAnnounceParams(params);
  const query = [
    `info_hash=${percentEncodeBytes(params.infoHash)}`,
    `peer_id=${percentEncodeBytes(params.peerId)}`,
    `port=${params.port}`,
    `uploaded=${params.uploaded}`,
    `downloaded=${params.downloaded}`,
    `left=${params.left}`,
    'compact=1',
  ];
  if (params.event !== undefined) query.push(`event=${params.event}`);
  if (params.numwant !== undefined) query.push(`numwant=${params.numwant}`);
  if (params.key !== undefined) query.push(`key=${params.key.toString(16).padStart(8, '0')}`);
  if (extras.trackerId !== undefined) query.push(`trackerid=${percentEncodeBytes(extras.trackerId)}`);

  const hash = announceUrl.indexOf('#');
  const base = hash >= 0 ? announceUrl.slice(0, hash) : announceUrl;
  const separator = !base.includes('?') ? '?' : base.endsWith('?') || base.endsWith('&') ? '' : '&';
  return `${base}${separator}${query.join('&')}`;
}

export interface HttpAnnounceResponse extends AnnounceResult {
  /** BEP 3 `tracker id`, to send back on later announces. */
  trackerId?: Uint8Array;
}

function nonNegative(dict: BencodeDict, key: string): number | undefined {
  const v = getInt(dict, key);
  if (v !== undefined && v < 0) throw new TrackerProtocolError(`"${key}" is negative (${v})`);
  return v;
}

function dictionaryPeers(list: BencodeList): PeerAddress[] {
  const peers: PeerAddress[] = [];
  for (const entry of list) {
    if (!isDict(entry)) throw new TrackerProtocolError('an entry of "peers" is not a dictionary');
    const host = getText(entry, 'ip');
    const port = getInt(entry, 'port');
    if (host === undefined || port === undefined) throw new TrackerProtocolError('a peer entry lacks "ip" or "port"');
    if (port < 0 || port > 0xffff) throw new TrackerProtocolError(`peer port ${port} is out of range`);
    if (port !== 0 && host !== '') peers.push({ host, port });
  }
  return peers;
}

/**
 * Reads an announce answer. `failure reason` becomes TrackerFailure; anything malformed becomes
 * TrackerProtocolError. `peers` may be compact (BEP 23) or a list of dictionaries; `peers6` adds IPv6 (BEP 7).
 */
export function parseAnnounceResponse(body: Uint8Array): HttpAnnounceResponse {
  let dict: BencodeDict;
  try {
    const value = decode(body).value;
    if (!isDict(value)) throw new TrackerProtocolError('announce answer is not a bencoded dictionary');
    dict = value;
  } catch (err) {
    if (err instanceof BencodeError) {
      throw new TrackerProtocolError(`announce answer is not valid bencode: ${err.message}`, { cause: err });
    }
    throw err;
  }
  try {
    const failure = getText(dict, 'failure reason');
    if (failure !== undefined) throw new TrackerFailure(failure);

    const interval = nonNegative(dict, 'interval');
    if (interval === undefined) throw new TrackerProtocolError('announce answer has no "interval"');
    const peers: PeerAddress[] = [];
    const rawPeers = dict.get('peers');
    if (rawPeers instanceof Uint8Array) peers.push(...parseCompactPeers(rawPeers, 4));
    else if (rawPeers !== undefined) peers.push(...dictionaryPeers(getList(dict, 'peers') as BencodeList));
    const peers6 = getBytes(dict, 'peers6');
    if (peers6 !== undefined) peers.push(...parseCompactPeers(peers6, 6));

    const result: HttpAnnounceResponse = { interval, peers };
    const minInterval = nonNegative(dict, 'min interval');
    if (minInterval !== undefined) result.minInterval = minInterval;
    const complete = nonNegative(dict, 'complete');
    if (complete !== undefined) result.complete = complete;
    const incomplete = nonNegative(dict, 'incomplete');
    if (incomplete !== undefined) result.incomplete = incomplete;
    const warning = getText(dict, 'warning message');
    if (warning !== undefined) result.warning = warning;
    const trackerId = getBytes(dict, 'tracker id');
    if (trackerId !== undefined) result.trackerId = trackerId.slice();
    return result;
  } catch (err) {
    if (err instanceof BencodeTypeError) {
      throw new TrackerProtocolError(`announce answer: ${err.message}`, { cause: err });
    }
    throw err;
  }
}

/** An announce as our tracker server reads it from the query string. */
export interface AnnounceQuery extends AnnounceParams {
  /** False only when the client sent compact=0 (BEP 23: compact is what we answer by default). */
  compact: boolean;
  /** `no_peer_id=1`: leave peer ids out of a non-compact answer. */
  noPeerId: boolean;
}

type QueryFields = Map<string, Uint8Array>;

function fieldText(fields: QueryFields, name: string): string | undefined {
  const raw = fields.get(name);
  return raw === undefined ? undefined : Buffer.from(raw).toString('latin1');
}

function parseCount(fields: QueryFields, name: string, fallback: number): number {
  const text = fieldText(fields, name);
  if (text === undefined) return fallback;
  if (!/^\d{1,20}$/.test(text)) throw new TrackerProtocolError(`"${name}" is not a non-negative integer`);
  // Clients without metadata send left=2^64-1; past 2^53 exact values no longer matter.
  return Math.min(Number(text), Number.MAX_SAFE_INTEGER);
}

const EVENTS: ReadonlyMap<string, AnnounceEvent | undefined> = new Map([
  ['started', 'started'],
  ['completed', 'completed'],
  ['stopped', 'stopped'],
  ['', undefined],
  ['empty', undefined],
  ['paused', undefined], // BEP 21: a paused peer stays in the swarm like a regular announce.
]);

/** Parses an HTTP announce's query string (without "?"); missing or malformed required fields are protocol errors. */
export function parseAnnounceQuery(query: string): AnnounceQuery {
  const fields: QueryFields = new Map();
  for (const part of query.split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const name = Buffer.from(percentDecodeBytes(eq < 0 ? part : part.slice(0, eq))).toString('latin1');
    if (!fields.has(name)) fields.set(name, percentDecodeBytes(eq < 0 ? '' : part.slice(eq + 1)));
  }
  const infoHash = fields.get('info_hash');
  if (infoHash?.length !== 20) throw new TrackerProtocolError('"info_hash" must be 20 bytes');
  const peerId = fields.get('peer_id');
  if (peerId?.length !== 20) throw new TrackerProtocolError('"peer_id" must be 20 bytes');
  const port = parseCount(fields, 'port', -1);
  if (port < 1 || port > 0xffff) throw new TrackerProtocolError('"port" must be 1..65535');
  const eventText = fieldText(fields, 'event') ?? '';
  if (!EVENTS.has(eventText)) throw new TrackerProtocolError(`unknown event "${eventText}"`);

  const result: AnnounceQuery = {
    infoHash,
    peerId,
    port,
    uploaded: parseCount(fields, 'uploaded', 0),
    downloaded: parseCount(fields, 'downloaded', 0),
    left: parseCount(fields, 'left', 0),
    compact: fieldText(fields, 'compact') !== '0',
    noPeerId: fieldText(fields, 'no_peer_id') === '1',
  };
  const event = EVENTS.get(eventText);
  if (event !== undefined) result.event = event;
  if (fields.has('numwant')) result.numwant = parseCount(fields, 'numwant', 0);
  return result;
}
