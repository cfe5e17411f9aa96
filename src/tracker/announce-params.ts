/** Checks shared by the HTTP and UDP announce encoders: bad values here are programming errors, not tracker trouble. */
import type { AnnounceParams } from './types.js';

function checkCounter(name: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(`${name} must be a non-negative integer, got ${value}`);
  }
}

/** Throws RangeError unless every field fits both wire formats (BEP 3 query, BEP 15 packet). */
export function checkAnnounceParams(params: AnnounceParams): void {
  if (params.infoHash.length !== 20) throw new RangeError(`info-hash must be 20 bytes, got ${params.infoHash.length}`);
  if (params.peerId.length !== 20) throw new RangeError(`peer id must be 20 bytes, got ${params.peerId.length}`);
  if (!Number.isInteger(params.port) || params.port < 0 || params.port > 0xffff) {
    throw new RangeError(`port must be 0..65535, got ${params.port}`);
  }
  checkCounter('uploaded', params.uploaded);
  checkCounter('downloaded', params.downloaded);
  checkCounter('left', params.left);
  const { numwant, key } = params;
  if (numwant !== undefined && (!Number.isInteger(numwant) || numwant < 0 || numwant > 0x7fffffff)) {
    throw new RangeError(`numwant must be 0..2^31-1, got ${numwant}`);
  }
  if (key !== undefined && (!Number.isInteger(key) || key < 0 || key > 0xffffffff)) {
    throw new RangeError(`key must be a 32-bit unsigned integer, got ${key}`);
  }
}
