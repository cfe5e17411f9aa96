/** BEP 19 web seeds: HTTP mirrors of a torrent's files as a piece source. */
export { parseWebSeedList, webSeedFileUrls, encodePathSegment, type WebSeedList } from './url.js';
export { WebSeed, parseRetryAfter, type WebSeedOptions } from './webseed.js';
export { createWebSeedConnections } from './transport.js';
export {
  WebSeedSource,
  systemClock,
  type WebSeedClock,
  type WebSeedSourceEvents,
  type WebSeedSourceOptions,
  type WebSeedState,
} from './source.js';
export {
  WebSeedError,
  WebSeedHttpError,
  WebSeedFileMissingError,
  WebSeedBusyError,
  WebSeedRangeError,
  WebSeedTimeoutError,
  WebSeedConnectionError,
  WebSeedShortBodyError,
  WebSeedRedirectError,
  WebSeedUnavailableError,
} from './errors.js';
