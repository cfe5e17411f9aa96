/** Creating a torrent failed: unusable input (empty, unreadable, unsafe names) or invalid options. */
export class CreateTorrentError extends Error {
  override name = 'CreateTorrentError';

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}
