/** `torrent info <file.torrent> [--json]`: what a torrent holds, without downloading anything. */
import type { Metainfo } from '../metainfo/index.js';
import { loadMetainfo } from '../session/source.js';
import { formatBytes } from './units.js';

export interface InfoOptions {
  json?: boolean;
}

export function metainfoSummary(meta: Metainfo) {
  return {
    name: meta.name,
    infoHash: meta.infoHashHex,
    totalLength: meta.totalLength,
    pieceLength: meta.pieceLength,
    pieceCount: meta.pieceCount,
    private: meta.private,
    files: meta.files.filter((f) => !f.padding).map((f) => ({ path: f.path.join('/'), length: f.length })),
    trackers: meta.announceTiers,
    webSeeds: meta.webSeeds,
    comment: meta.comment,
    createdBy: meta.createdBy,
    creationDate: meta.creationDate?.toISOString(),
  };
}

export async function infoCommand(file: string, opts: InfoOptions, out: NodeJS.WritableStream): Promise<void> {
  const meta = await loadMetainfo(file);
  const s = metainfoSummary(meta);
  if (opts.json) {
    out.write(JSON.stringify(s) + '\n');
    return;
  }
  const lines = [
    `name:         ${s.name}`,
    `info-hash:    ${s.infoHash}`,
    `total size:   ${formatBytes(s.totalLength)} (${s.totalLength} bytes)`,
    `pieces:       ${s.pieceCount} x ${formatBytes(s.pieceLength)}`,
    `private:      ${s.private ? 'yes' : 'no'}`,
  ];
  if (s.comment) lines.push(`comment:      ${s.comment}`);
  if (s.createdBy) lines.push(`created by:   ${s.createdBy}`);
  if (s.creationDate) lines.push(`created:      ${s.creationDate}`);
  lines.push(`trackers:     ${s.trackers.length === 0 ? 'none' : ''}`);
  s.trackers.forEach((tier, i) => lines.push(`  tier ${i + 1}: ${tier.join(', ')}`));
  lines.push(`web seeds:    ${s.webSeeds.length === 0 ? 'none' : ''}`);
  for (const url of s.webSeeds) lines.push(`  ${url}`);
  lines.push(`files:        ${s.files.length}`);
  for (const f of s.files) lines.push(`  ${f.path}  (${formatBytes(f.length)})`);
  out.write(lines.join('\n') + '\n');
}
