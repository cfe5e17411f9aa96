/** Why a peer connection failed to open or was closed. */
export type PeerConnectionErrorCode =
  /** TCP connect failed (refused, unreachable…); `cause` holds the socket error. */
  | 'connect-failed'
  | 'connect-timeout'
  /** The remote did not complete its handshake in time. */
  | 'handshake-timeout'
  /** Outgoing: the remote answered for a different torrent. */
  | 'info-hash-mismatch'
  /** Incoming: the remote asked for a torrent we do not serve. */
  | 'unknown-info-hash'
  /** The remote's peer id is our own: we connected to ourselves (trackers often list us). */
  | 'self-connection'
  /** The remote broke the wire protocol; `cause` is usually a WireProtocolError. */
  | 'protocol'
  /** Nothing received for longer than the idle timeout (BEP 3: peers drop after ~2 minutes of silence). */
  | 'idle-timeout'
  | 'socket-error'
  | 'closed-by-peer'
  /** A listener for our events threw; the connection is closed rather than left half-processed. */
  | 'handler-error'
  /** Closed locally by destroy(reason). */
  | 'destroyed';

export class PeerConnectionError extends Error {
  override name = 'PeerConnectionError';
  constructor(
    readonly code: PeerConnectionErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
