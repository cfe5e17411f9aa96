/**
 * The BEP 10 extension handshake: extended message 0, a bencoded dictionary each side sends once, right after
 * the BitTorrent handshake, when both set the extension bit. Only the fields this client uses are modelled.
 */
import { type BencodeValue, bytesToText, decode, encode, isDict } from '../bencode/index.js';
import { WireProtocolError } from './errors.js';

/** The extended message id of the handshake itself (BEP 10). */
export const EXTENSION_HANDSHAKE_ID = 0;

export interface ExtensionHandshake {
  /** `m`: extension name → the message id the sender wants it sent with (0: not supported). */
  extensions: ReadonlyMap<string, number>;
  /**
   * `reqq`: requests the sender queues without dropping any. libtorrent sizes its request pipeline to a peer
   * by it, so a seeder that leaves it out gets the receiver's default of 500 (8 MiB in flight).
   */
  requestQueueLimit?: number;
  /** `v`: the sender's client name and version. */
  client?: string;
}

export function encodeExtensionHandshake(handshake: ExtensionHandshake): Uint8Array {
  return encode({ m: new Map(handshake.extensions), reqq: handshake.requestQueueLimit, v: handshake.client });
}

const positiveInt = (v: BencodeValue | undefined) => (typeof v === 'number' && v > 0 ? v : undefined);

/**
 * Reads a peer's handshake. Only a payload that is not a bencoded dictionary is an error: a field of the
 * wrong type is ignored, as other clients do, since their handshakes differ in the details.
 */
export function decodeExtensionHandshake(payload: Uint8Array): ExtensionHandshake {
  let root: BencodeValue;
  try {
    root = decode(payload).value;
  } catch (e) {
    throw new WireProtocolError(`malformed extension handshake: ${(e as Error).message}`, { cause: e });
  }
  if (!isDict(root)) throw new WireProtocolError('the extension handshake is not a dictionary');
  const extensions = new Map<string, number>();
  const m = root.get('m');
  if (isDict(m)) {
    for (const [name, id] of m) if (typeof id === 'number' && id >= 0 && id <= 255) extensions.set(name, id);
  }
  const v = root.get('v');
  return {
    extensions,
    requestQueueLimit: positiveInt(root.get('reqq')),
    client: v instanceof Uint8Array ? bytesToText(v) : undefined,
  };
}
