/**
 * How a running torrent is shown: one live line on a terminal (cli-progress), a plain line every few
 * seconds when output is not a terminal, newline-delimited JSON events with --json, nothing with --quiet.
 */
import cliProgress from 'cli-progress';
import type { TorrentStats } from '../session/torrent.js';
import { formatBytes, formatDuration, formatRate } from './units.js';

export type ProgressMode = 'tty' | 'plain' | 'json' | 'quiet';

export interface ProgressView {
  /** Shows the stats; throttled per mode unless `final` (the run is ending: always shown). */
  update(stats: TorrentStats, final?: boolean): void;
  event(name: string, fields?: Record<string, unknown>): void;
  warning(message: string): void;
  stop(): void;
}

export function chooseProgressMode(opts: { json?: boolean; quiet?: boolean }, stream: NodeJS.WriteStream): ProgressMode {
  if (opts.json) return 'json';
  if (opts.quiet) return 'quiet';
  return stream.isTTY ? 'tty' : 'plain';
}

/** The words of the progress line, shared by the live bar and the plain lines. */
export function describeStats(s: TorrentStats): string {
  if (s.state === 'checking') return `checking existing data`;
  const parts = [
    `${(s.progress * 100).toFixed(1)}%`,
    `${formatBytes(s.verifiedBytes)}/${formatBytes(s.totalBytes)}`,
    `down ${formatRate(s.downloadRate)}`,
  ];
  if (s.webSeeds > 0) parts.push(`web ${formatRate(s.webSeedRate)}`);
  if (s.uploaded > 0 || s.state === 'seeding') parts.push(`up ${formatRate(s.uploadRate)}`);
  parts.push(`peers ${s.peers}${s.seeds > 0 ? ` (${s.seeds} seed${s.seeds === 1 ? '' : 's'})` : ''}`);
  if (s.state === 'seeding') parts.push(`uploaded ${formatBytes(s.uploaded)}`);
  else parts.push(`eta ${formatDuration(s.etaSeconds)}`);
  return parts.join('  ');
}

export function createProgressView(mode: ProgressMode, name: string, out: NodeJS.WriteStream, err: NodeJS.WriteStream): ProgressView {
  switch (mode) {
    case 'tty':
      return new LiveLine(name, out);
    case 'plain':
      return new PlainLines(name, out, err);
    case 'json':
      return new JsonEvents(out);
    case 'quiet':
      return { update: () => undefined, event: () => undefined, warning: () => undefined, stop: () => undefined };
  }
}

class LiveLine implements ProgressView {
  private readonly bars: cliProgress.MultiBar;
  private readonly bar: cliProgress.SingleBar;

  constructor(name: string, stream: NodeJS.WriteStream) {
    this.bars = new cliProgress.MultiBar(
      {
        stream,
        format: `{name} {bar} {line}`,
        barsize: 20,
        hideCursor: true,
        clearOnComplete: false,
        stopOnComplete: false,
        fps: 5,
        autopadding: true,
      },
      cliProgress.Presets.shades_classic,
    );
    this.bar = this.bars.create(1000, 0, { name: truncate(name, 30), line: 'starting' });
  }

  update(s: TorrentStats): void {
    this.bar.update(Math.round(s.progress * 1000), { line: describeStats(s) });
  }

  event(name: string, fields?: Record<string, unknown>): void {
    if (name === 'start') this.bars.log(`listening for peers on port ${fields?.port}\n`);
  }

  warning(message: string): void {
    this.bars.log(`warning: ${message}\n`);
  }

  stop(): void {
    this.bars.stop();
  }
}

/** Not a terminal: a line every PLAIN_INTERVAL_MS, never carriage returns. */
const PLAIN_INTERVAL_MS = 5_000;

class PlainLines implements ProgressView {
  private readonly throttle = new Throttle(PLAIN_INTERVAL_MS);
  constructor(
    private readonly name: string,
    private readonly out: NodeJS.WriteStream,
    private readonly err: NodeJS.WriteStream,
  ) {}

  update(s: TorrentStats, final = false): void {
    if (!this.throttle.due(final)) return;
    this.out.write(`${this.name}: ${describeStats(s)}\n`);
  }

  event(name: string, fields?: Record<string, unknown>): void {
    if (name === 'start') this.out.write(`${this.name}: listening for peers on port ${fields?.port}\n`);
    if (name === 'done') this.out.write(`${this.name}: complete, every piece verified (${fields?.verifiedBytes} bytes)\n`);
  }

  warning(message: string): void {
    this.err.write(`warning: ${message}\n`);
  }

  stop(): void {}
}

class JsonEvents implements ProgressView {
  private readonly throttle = new Throttle(1000);
  constructor(private readonly out: NodeJS.WriteStream) {}

  private write(obj: Record<string, unknown>): void {
    this.out.write(JSON.stringify({ time: new Date().toISOString(), ...obj }) + '\n');
  }

  update(s: TorrentStats, final = false): void {
    if (!this.throttle.due(final)) return;
    this.write({ event: 'progress', ...s });
  }

  event(name: string, fields: Record<string, unknown> = {}): void {
    this.write({ event: name, ...fields });
  }

  warning(message: string): void {
    this.write({ event: 'warning', message });
  }

  stop(): void {}
}

/** At most one output per interval, except the final one. */
class Throttle {
  private lastAt = 0;
  constructor(private readonly intervalMs: number) {}

  due(final: boolean): boolean {
    const now = Date.now();
    if (!final && now - this.lastAt < this.intervalMs) return false;
    this.lastAt = now;
    return true;
  }
}

function truncate(s: string, n: number): string {
  return s.length <= n ? s : `${s.slice(0, n - 1)}…`;
}
