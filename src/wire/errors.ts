/** The remote peer sent bytes that break the peer wire protocol (BEP 3 / BEP 10); the connection cannot continue. */
export class WireProtocolError extends Error {
  override name = 'WireProtocolError';
}
