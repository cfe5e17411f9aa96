/** Typed storage failures: every disk error leaves this module as a StorageError a user can act on. */

export class StorageError extends Error {
  override name = 'StorageError';
  constructor(
    message: string,
    /**
     * The errno code (ENOSPC, EDQUOT, EIO, EACCES, EPERM, EROFS, ENOENT, ...), or one of our own:
     * ESHORT (a file ends before the data asked for), ECLOSED (storage already closed).
     */
    readonly code: string,
    /** The absolute path involved, when there is one. */
    readonly path?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** A file path from the metainfo that would land outside the download folder (or is otherwise unusable). */
export class StoragePathError extends StorageError {
  override name = 'StoragePathError';
  constructor(message: string, path?: string) {
    super(message, 'EPATH', path);
  }
}

/** True for errors meaning "the data is not on disk" (as opposed to the disk failing). */
export function isMissingData(err: unknown): boolean {
  return err instanceof StorageError && (err.code === 'ENOENT' || err.code === 'ESHORT');
}

type Action = 'reading' | 'writing' | 'opening' | 'creating' | 'resizing' | 'checking';

/** Wraps a Node fs error in a StorageError whose message says what happened and what to do about it. */
export function toStorageError(err: unknown, action: Action, file: string): StorageError {
  if (err instanceof StorageError) return err;
  const code = (err as NodeJS.ErrnoException | undefined)?.code ?? 'EUNKNOWN';
  let message: string;
  switch (code) {
    case 'ENOSPC':
      message = `disk full ${action} ${file}: free some space, then resume the torrent`;
      break;
    case 'EDQUOT':
      message = `disk quota exceeded ${action} ${file}: free some space or raise the quota, then resume`;
      break;
    case 'EIO':
      message = `I/O error ${action} ${file}: the disk may be failing or was disconnected`;
      break;
    case 'EACCES':
    case 'EPERM':
      message = `permission denied ${action} ${file}: check the ownership and permissions of the download folder`;
      break;
    case 'EROFS':
      message = `read-only file system ${action} ${file}: choose a writable download folder`;
      break;
    case 'ENOENT':
      message = `${file} is missing`;
      break;
    case 'ENOTDIR':
    case 'EISDIR':
    case 'EEXIST':
      message = `cannot use ${file}: a file or folder with a conflicting name is in the way`;
      break;
    case 'EMFILE':
    case 'ENFILE':
      message = `too many open files ${action} ${file}: lower maxOpenFiles or raise the system limit (ulimit -n)`;
      break;
    default:
      message = `${action} ${file} failed: ${(err as Error | undefined)?.message ?? String(err)}`;
  }
  return new StorageError(message, code, file, { cause: err });
}
