/**
 * Bencode (BEP 3), strict.
 *
 *   integer     i<decimal>e        no leading zeros, no "-0"
 *   byte string <length>:<bytes>   stays raw bytes (Uint8Array), never decoded as text
 *   list        l<values>e
 *   dictionary  d<key><value>...e  keys are byte strings; we hold them as "binary" strings
 *                                   (one char per byte, latin1), so sorting them sorts raw bytes
 *
 * The decoder records the byte span of every list, dictionary and byte string it produces, so a caller
 * can hash a value exactly as it appeared on the wire (the info-hash is SHA-1 of the raw `info` bytes).
 */

export type BencodeValue = number | Uint8Array | BencodeList | BencodeDict;
export type BencodeList = BencodeValue[];
export type BencodeDict = Map<string, BencodeValue>;

/** Nesting deeper than this is refused, so hostile input cannot overflow the stack. */
export const MAX_DEPTH = 256;

export class BencodeError extends Error {
  override name = 'BencodeError';
  constructor(
    message: string,
    /** Byte offset in the input where the problem was found. */
    readonly offset: number,
  ) {
    super(`${message} at byte ${offset}`);
  }
}

export interface Span {
  start: number;
  end: number;
}

export interface DecodeResult {
  value: BencodeValue;
  /** Offset just past the value. */
  end: number;
  /** The exact input span of a list, dictionary or byte string produced by this decode. */
  spanOf(value: BencodeValue): Span | undefined;
}

const CH_i = 0x69;
const CH_l = 0x6c;
const CH_d = 0x64;
const CH_e = 0x65;
const CH_colon = 0x3a;
const CH_minus = 0x2d;
const CH_0 = 0x30;
const CH_9 = 0x39;

const latin1 = new TextDecoder('latin1');

class Decoder {
  pos: number;
  readonly spans = new WeakMap<object, Span>();
  constructor(
    readonly buf: Uint8Array,
    start: number,
  ) {
    this.pos = start;
  }

  value(depth: number): BencodeValue {
    const { buf } = this;
    if (this.pos >= buf.length) throw new BencodeError('unexpected end of input', this.pos);
    const c = buf[this.pos];
    if (c === CH_i) return this.integer();
    if (c >= CH_0 && c <= CH_9) return this.bytes();
    if (depth >= MAX_DEPTH) throw new BencodeError(`nesting deeper than ${MAX_DEPTH}`, this.pos);
    if (c === CH_l) return this.list(depth);
    if (c === CH_d) return this.dict(depth);
    throw new BencodeError(`unexpected byte 0x${c.toString(16).padStart(2, '0')}`, this.pos);
  }

  integer(): number {
    const { buf } = this;
    const start = this.pos;
    let p = start + 1;
    let negative = false;
    if (buf[p] === CH_minus) {
      negative = true;
      p++;
    }
    const digitsStart = p;
    while (p < buf.length && buf[p] >= CH_0 && buf[p] <= CH_9) p++;
    if (p >= buf.length) throw new BencodeError('unterminated integer', start);
    if (buf[p] !== CH_e) throw new BencodeError('invalid character in integer', p);
    const digits = p - digitsStart;
    if (digits === 0) throw new BencodeError('empty integer', start);
    if (buf[digitsStart] === CH_0 && digits > 1) throw new BencodeError('integer with leading zero', start);
    if (negative && buf[digitsStart] === CH_0) throw new BencodeError('negative zero', start);
    if (digits > 16) throw new BencodeError('integer too large', start);
    let n = 0;
    for (let i = digitsStart; i < p; i++) n = n * 10 + (buf[i] - CH_0);
    if (!Number.isSafeInteger(n)) throw new BencodeError('integer too large', start);
    this.pos = p + 1;
    return negative ? -n : n;
  }

  /** Reads `<len>:` and returns the payload's [start, end). */
  stringBounds(): Span {
    const { buf } = this;
    const start = this.pos;
    let p = start;
    let len = 0;
    while (p < buf.length && buf[p] >= CH_0 && buf[p] <= CH_9) {
      len = len * 10 + (buf[p] - CH_0);
      p++;
      if (p - start > 15) throw new BencodeError('string length too large', start);
    }
    if (p >= buf.length) throw new BencodeError('unterminated string length', start);
    if (buf[p] !== CH_colon) throw new BencodeError('expected ":" after string length', p);
    if (buf[start] === CH_0 && p - start > 1) throw new BencodeError('string length with leading zero', start);
    const dataStart = p + 1;
    if (len > buf.length - dataStart) {
      throw new BencodeError(`string length ${len} runs past the end of input`, start);
    }
    this.pos = dataStart + len;
    return { start: dataStart, end: dataStart + len };
  }

  bytes(): Uint8Array {
    const start = this.pos;
    const b = this.stringBounds();
    const out = this.buf.subarray(b.start, b.end);
    this.spans.set(out, { start, end: this.pos });
    return out;
  }

  list(depth: number): BencodeList {
    const start = this.pos;
    this.pos++;
    const out: BencodeList = [];
    for (;;) {
      if (this.pos >= this.buf.length) throw new BencodeError('unterminated list', start);
      if (this.buf[this.pos] === CH_e) break;
      out.push(this.value(depth + 1));
    }
    this.pos++;
    this.spans.set(out, { start, end: this.pos });
    return out;
  }

  dict(depth: number): BencodeDict {
    const start = this.pos;
    this.pos++;
    const out: BencodeDict = new Map();
    let previous: string | undefined;
    for (;;) {
      if (this.pos >= this.buf.length) throw new BencodeError('unterminated dictionary', start);
      const c = this.buf[this.pos];
      if (c === CH_e) break;
      if (c < CH_0 || c > CH_9) throw new BencodeError('dictionary key is not a byte string', this.pos);
      const keyPos = this.pos;
      const kb = this.stringBounds();
      const key = latin1.decode(this.buf.subarray(kb.start, kb.end));
      // BEP 3 requires sorted keys; real torrents sometimes break this, so we only refuse duplicates,
      // which would make the meaning ambiguous.
      if (key === previous || out.has(key)) throw new BencodeError(`duplicate dictionary key`, keyPos);
      previous = key;
      if (this.buf[this.pos] === CH_e) throw new BencodeError('dictionary key without a value', this.pos);
      out.set(key, this.value(depth + 1));
    }
    this.pos++;
    this.spans.set(out, { start, end: this.pos });
    return out;
  }
}

/** Decodes one value starting at `offset`, allowing bytes after it (BEP 9 metadata messages need this). */
export function decodePrefix(buf: Uint8Array, offset = 0): DecodeResult {
  const d = new Decoder(buf, offset);
  const value = d.value(0);
  return {
    value,
    end: d.pos,
    spanOf: (v) => (typeof v === 'number' ? undefined : d.spans.get(v)),
  };
}

/** Decodes a whole buffer holding exactly one value; trailing bytes are an error. */
export function decode(buf: Uint8Array): DecodeResult {
  const r = decodePrefix(buf, 0);
  if (r.end !== buf.length) throw new BencodeError('trailing data after value', r.end);
  return r;
}

/** Values the encoder accepts: text becomes UTF-8 bytes, plain objects become dictionaries. */
export type EncodableValue =
  | number
  | string
  | Uint8Array
  | EncodableValue[]
  | Map<string, EncodableValue>
  | { [key: string]: EncodableValue | undefined };

const utf8 = new TextEncoder();

/** Encodes a value; dictionary keys (binary strings) are written sorted as raw bytes; undefined entries are left out. */
export function encode(value: EncodableValue): Uint8Array {
  const parts: Uint8Array[] = [];
  let total = 0;
  const push = (b: Uint8Array) => {
    parts.push(b);
    total += b.length;
  };
  const pushText = (s: string) => push(utf8.encode(s));
  const walk = (v: EncodableValue, depth: number) => {
    if (depth > MAX_DEPTH) throw new RangeError(`cannot encode nesting deeper than ${MAX_DEPTH}`);
    if (typeof v === 'number') {
      if (!Number.isSafeInteger(v)) throw new RangeError(`cannot bencode non-integer ${v}`);
      pushText(`i${v}e`);
    } else if (typeof v === 'string') {
      const b = utf8.encode(v);
      pushText(`${b.length}:`);
      push(b);
    } else if (v instanceof Uint8Array) {
      pushText(`${v.length}:`);
      push(v);
    } else if (Array.isArray(v)) {
      pushText('l');
      for (const item of v) walk(item, depth + 1);
      pushText('e');
    } else {
      const entries: [string, EncodableValue][] =
        v instanceof Map
          ? [...v.entries()]
          : Object.entries(v).filter((e): e is [string, EncodableValue] => e[1] !== undefined);
      entries.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
      pushText('d');
      for (const [k, item] of entries) {
        const kb = Buffer.from(k, 'latin1');
        pushText(`${kb.length}:`);
        push(kb);
        walk(item, depth + 1);
      }
      pushText('e');
    }
  };
  walk(value, 0);
  const out = new Uint8Array(total);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/* Typed accessors for reading decoded documents: each names the field in its error. */

export class BencodeTypeError extends Error {
  override name = 'BencodeTypeError';
}

export function isDict(v: BencodeValue | undefined): v is BencodeDict {
  return v instanceof Map;
}

export function getDict(d: BencodeDict, key: string): BencodeDict | undefined {
  const v = d.get(key);
  if (v === undefined) return undefined;
  if (!(v instanceof Map)) throw new BencodeTypeError(`"${key}" is not a dictionary`);
  return v;
}

export function getList(d: BencodeDict, key: string): BencodeList | undefined {
  const v = d.get(key);
  if (v === undefined) return undefined;
  if (!Array.isArray(v)) throw new BencodeTypeError(`"${key}" is not a list`);
  return v;
}

export function getInt(d: BencodeDict, key: string): number | undefined {
  const v = d.get(key);
  if (v === undefined) return undefined;
  if (typeof v !== 'number') throw new BencodeTypeError(`"${key}" is not an integer`);
  return v;
}

export function getBytes(d: BencodeDict, key: string): Uint8Array | undefined {
  const v = d.get(key);
  if (v === undefined) return undefined;
  if (!(v instanceof Uint8Array)) throw new BencodeTypeError(`"${key}" is not a byte string`);
  return v;
}

const utf8Decoder = new TextDecoder('utf-8');

/** A byte string read as UTF-8 text (invalid sequences become U+FFFD). */
export function getText(d: BencodeDict, key: string): string | undefined {
  const b = getBytes(d, key);
  return b === undefined ? undefined : utf8Decoder.decode(b);
}

export function bytesToText(b: Uint8Array): string {
  return utf8Decoder.decode(b);
}
