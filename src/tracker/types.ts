/** What every tracker client (HTTP, UDP) takes and returns. */

/** BEP 3 announce events; a regular re-announce sends none. */
export type AnnounceEvent = 'started' | 'completed' | 'stopped';

export interface AnnounceParams {
  /** 20-byte SHA-1 info-hash. */
  infoHash: Uint8Array;
  /** 20-byte peer id. */
  peerId: Uint8Array;
  /** Port we accept peer connections on. */
  port: number;
  uploaded: number;
  downloaded: number;
  left: number;
  event?: AnnounceEvent;
  /** How many peers we would like; the tracker's default when left out. */
  numwant?: number;
  /** Random 32-bit value that identifies us to the tracker across IP changes (BEP 3 `key`, BEP 15 key). */
  key?: number;
}

export interface PeerAddress {
  /** IPv4 dotted quad, IPv6 text, or (non-compact HTTP answers) a host name. */
  host: string;
  port: number;
}

export interface AnnounceResult {
  /** Seconds until the tracker wants the next regular announce. */
  interval: number;
  /** Seconds the tracker asks us to wait at least between announces. */
  minInterval?: number;
  peers: PeerAddress[];
  /** Seeders. */
  complete?: number;
  /** Leechers. */
  incomplete?: number;
  /** `warning message`: the announce worked but the tracker has something to say. */
  warning?: string;
}

export interface Tracker {
  readonly url: string;
  announce(params: AnnounceParams, signal?: AbortSignal): Promise<AnnounceResult>;
}
