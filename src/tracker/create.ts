/** Picks the tracker client for an announce URL's scheme. */
import { UnsupportedTrackerError } from './errors.js';
import { HttpTracker } from './http-tracker.js';
import type { HttpTrackerOptions } from './http-tracker.js';
import { UdpTracker } from './udp-tracker.js';
import type { UdpTrackerOptions } from './udp-tracker.js';
import type { Tracker } from './types.js';

export interface CreateTrackerOptions {
  http?: HttpTrackerOptions;
  udp?: UdpTrackerOptions;
}

/** An HttpTracker for http(s)://, a UdpTracker for udp://; any other URL throws UnsupportedTrackerError. */
export function createTracker(url: string, options: CreateTrackerOptions = {}): Tracker {
  let protocol: string;
  try {
    protocol = new URL(url).protocol;
  } catch {
    throw new UnsupportedTrackerError(url, 'not a valid URL');
  }
  if (protocol === 'http:' || protocol === 'https:') return new HttpTracker(url, options.http);
  if (protocol === 'udp:') return new UdpTracker(url, options.udp);
  const scheme = protocol.slice(0, -1);
  throw new UnsupportedTrackerError(url, `the "${scheme}" scheme is not supported (use http, https or udp)`);
}
