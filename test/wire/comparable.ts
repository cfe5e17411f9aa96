import type { WireMessage } from '../../src/wire/index.js';

/** A message with its byte fields as hex, so views, Buffers and Uint8Arrays compare equal in assertions. */
export function comparable(m: WireMessage): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(m).map(([k, v]) => [k, v instanceof Uint8Array ? Buffer.from(v).toString('hex') : v]),
  );
}
