/** `torrent create <file-or-folder> -o out.torrent …`: hash the content on every core and write a .torrent. */
import { writeFile } from 'node:fs/promises';
import cliProgress from 'cli-progress';
import { createTorrent } from '../creation/index.js';
import { InputError } from './failure.js';
import { formatBytes } from './units.js';

export interface CreateCommandOptions {
  output: string;
  announce?: string[];
  tier?: boolean;
  webSeed?: string[];
  pieceLength?: string;
  private?: boolean;
  comment?: string;
  date?: boolean;
  pad?: boolean;
  includeHidden?: boolean;
  threads?: number;
  quiet?: boolean;
  json?: boolean;
}

/** "262144", "256k", "1M", "auto". */
function parsePieceLength(text: string | undefined): number | 'auto' {
  if (text === undefined || text === 'auto') return 'auto';
  const m = /^(\d+)\s*([kKmM]?)(i?[bB])?$/.exec(text);
  if (!m) throw new InputError(`--piece-length ${text}: expected a size such as 256k, 1M or auto`);
  return Number(m[1]) * (m[2] === '' ? 1 : /k/i.test(m[2]) ? 1024 : 1024 * 1024);
}

export async function createCommand(input: string, opts: CreateCommandOptions, out: NodeJS.WriteStream): Promise<void> {
  // Each --announce is its own tier; a comma-separated value, or --tier, puts URLs in one tier (BEP 12).
  const urls = (opts.announce ?? []).map((a) => a.split(',').map((u) => u.trim()).filter(Boolean));
  const tiers = opts.tier ? [urls.flat()].filter((t) => t.length > 0) : urls;
  const showBar = out.isTTY && !opts.quiet && !opts.json;
  const bar = showBar ? new cliProgress.SingleBar({ format: 'hashing {bar} {percentage}% {value_h}/{total_h}', hideCursor: true }, cliProgress.Presets.shades_classic) : undefined;
  let started = false;
  const created = await createTorrent(input, {
    tiers,
    webSeeds: opts.webSeed,
    pieceLength: parsePieceLength(opts.pieceLength),
    private: opts.private,
    comment: opts.comment,
    noDate: opts.date === false,
    pad: opts.pad,
    includeHidden: opts.includeHidden,
    threads: opts.threads,
    onProgress: (hashed, total) => {
      if (!bar) return;
      if (!started) {
        bar.start(total, 0, { value_h: formatBytes(0), total_h: formatBytes(total) });
        started = true;
      }
      bar.update(hashed, { value_h: formatBytes(hashed), total_h: formatBytes(total) });
    },
  }).finally(() => bar?.stop());
  await writeFile(opts.output, created.torrent);
  const { meta } = created;
  if (opts.json) {
    out.write(JSON.stringify({ output: opts.output, name: meta.name, infoHash: meta.infoHashHex, totalLength: meta.totalLength, pieceLength: meta.pieceLength, pieceCount: meta.pieceCount }) + '\n');
  } else if (!opts.quiet) {
    out.write(`created ${opts.output}: ${meta.name}, ${formatBytes(meta.totalLength)} in ${meta.pieceCount} pieces of ${formatBytes(meta.pieceLength)}, info-hash ${meta.infoHashHex}\n`);
  }
}
