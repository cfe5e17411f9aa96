/** Errors a tracker exchange can end in. None of them is fatal to a torrent: the announcer turns them into warnings. */

/** The tracker answered with `failure reason` (BEP 3) or a BEP 15 error packet: it refuses the request. */
export class TrackerFailure extends Error {
  override name = 'TrackerFailure';
  constructor(
    /** The tracker's own words. */
    readonly reason: string,
  ) {
    super(`tracker refused the announce: ${reason}`);
  }
}

/** The tracker's answer does not follow the protocol (bad bencode, wrong lengths, missing fields). */
export class TrackerProtocolError extends Error {
  override name = 'TrackerProtocolError';
}

/** The tracker could not be reached or did not answer in time (network error, HTTP error status, timeout). */
export class TrackerRequestError extends Error {
  override name = 'TrackerRequestError';
}

/** The announce URL is not a tracker we can talk to (unknown scheme or unparsable URL). */
export class UnsupportedTrackerError extends Error {
  override name = 'UnsupportedTrackerError';
  constructor(
    readonly url: string,
    detail: string,
  ) {
    super(`cannot use tracker "${url}": ${detail}`);
  }
}
