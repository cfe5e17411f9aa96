export { Sha1Pool, Sha1PoolError, Sha1Stream, sharedBuffers, type Sha1PoolOptions } from './sha1-pool.js';
export { copyInto, diskReadBuffer, SharedBufferPool } from './shared-buffers.js';
export { finishLanes, MAX_SHA1_LANES, SHA1_BLOCK, sha1Lanes, type Sha1Lanes } from './sha1-lanes.js';
