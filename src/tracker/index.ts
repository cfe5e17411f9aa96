/** Trackers: HTTP (BEP 3/7/23) and UDP (BEP 15) clients, the BEP 12 announcer, and a small tracker server. */
export type { AnnounceEvent, AnnounceParams, AnnounceResult, PeerAddress, Tracker } from './types.js';
export { TrackerFailure, TrackerProtocolError, TrackerRequestError, UnsupportedTrackerError } from './errors.js';
export { createTracker } from './create.js';
export type { CreateTrackerOptions } from './create.js';
export { HttpTracker } from './http-tracker.js';
export type { HttpTrackerOptions } from './http-tracker.js';
export { UdpTracker, ConnectionIdCache, CONNECTION_ID_LIFETIME_MS } from './udp-tracker.js';
export type { UdpTrackerOptions } from './udp-tracker.js';
export { TrackerAnnouncer } from './announcer.js';
export type { AnnounceStats, AnnouncerTimers, TrackerAnnouncerOptions } from './announcer.js';
export { TrackerServer } from './server.js';
export type { TrackerServerOptions } from './server.js';
