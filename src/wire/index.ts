/** Peer wire protocol codec (BEP 3 handshake and messages, BEP 10 extended frames): pure, no I/O. */
export { WireProtocolError } from './errors.js';
export {
  PROTOCOL_STRING,
  HANDSHAKE_LENGTH,
  HANDSHAKE_INFO_HASH_END,
  type Handshake,
  defaultReserved,
  supportsExtensionProtocol,
  encodeHandshake,
  checkHandshakeStart,
  decodeHandshake,
} from './handshake.js';
export {
  BLOCK_SIZE,
  MessageId,
  PIECE_HEADER_LENGTH,
  type BlockRange,
  type WireMessage,
  type WireMessageType,
  encodeMessage,
  encodePieceHeader,
  encodeRequests,
} from './messages.js';
export {
  EXTENSION_HANDSHAKE_ID,
  type ExtensionHandshake,
  decodeExtensionHandshake,
  encodeExtensionHandshake,
} from './extension-handshake.js';
export { DEFAULT_MAX_MESSAGE_LENGTH, type FrameDecoderOptions, FrameDecoder } from './frame-decoder.js';
