/** Peer wire connections (BEP 3) over TCP: handshake exchange, message stream, flags, keep-alives. */
export { PeerConnectionError, type PeerConnectionErrorCode } from './errors.js';
export {
  DEFAULT_CONNECT_TIMEOUT_MS,
  DEFAULT_HANDSHAKE_TIMEOUT_MS,
  DEFAULT_IDLE_TIMEOUT_MS,
  DEFAULT_KEEP_ALIVE_INTERVAL_MS,
  PeerConnection,
  acceptHandshake,
  type AcceptOptions,
  type ConnectOptions,
  type HandshakeAnswer,
  type PeerConnectionEvents,
  type PeerConnectionOptions,
} from './connection.js';
