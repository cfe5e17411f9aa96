/** Collecting per-run samples and printing medians, per-run values and ratios as plain-text tables. */
import { MiB } from './payload.js';

/** How much of each failure's text (reason and the process's output) the final list repeats. */
const FAILURE_TEXT = 1500;

export function median(values: number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** One run: the wall time of the transfer, and the CPU and peak memory of the measured process. */
export interface Sample {
  wallS: number;
  cpuS: number;
  peakRssKiB: number;
}

interface Summary {
  ok: number;
  attempted: number;
  wallS: number;
  mibPerS: number;
  cpuS: number;
  peakRssMiB: number;
}

function pad(text: string, width: number, left = false): string {
  return left ? text.padEnd(width) : text.padStart(width);
}

function fixed(value: number, digits: number): string {
  return Number.isFinite(value) ? value.toFixed(digits) : '-';
}

export class Results {
  private readonly samples = new Map<string, Sample[]>();
  private readonly attempts = new Map<string, number>();
  private readonly failures: string[] = [];

  /**
   * @param payloadBytes  the bytes each run transfers (for MiB/s)
   * @param measuredWhat  what the CPU and RSS columns belong to, e.g. "downloader process"
   */
  constructor(
    private readonly clients: string[],
    private readonly payloadBytes: number,
    private readonly measuredWhat: string,
  ) {
    for (const client of clients) {
      this.samples.set(client, []);
      this.attempts.set(client, 0);
    }
  }

  /** Records a good run and prints it at once, so a long benchmark shows progress. */
  add(client: string, run: number, sample: Sample): void {
    this.attempts.set(client, (this.attempts.get(client) ?? 0) + 1);
    this.samples.get(client)!.push(sample);
    const rate = this.payloadBytes / MiB / sample.wallS;
    console.log(`  run ${run} ${client}: ${sample.wallS.toFixed(2)} s, ${rate.toFixed(1)} MiB/s, CPU ${sample.cpuS.toFixed(2)} s`);
  }

  /** Records a failed run and says so at once (the full reason is printed again with the table). */
  fail(client: string, run: number, reason: string): void {
    this.attempts.set(client, (this.attempts.get(client) ?? 0) + 1);
    this.failures.push(`${client} run ${run}: ${reason}`);
    console.log(`  run ${run} ${client}: FAILED (${reason.split('\n')[0].slice(0, 200)})`);
  }

  get failed(): boolean {
    return this.failures.length > 0;
  }

  summary(client: string): Summary {
    const runs = this.samples.get(client) ?? [];
    const wallS = median(runs.map((s) => s.wallS));
    return {
      ok: runs.length,
      attempted: this.attempts.get(client) ?? 0,
      wallS,
      mibPerS: median(runs.map((s) => this.payloadBytes / MiB / s.wallS)),
      cpuS: median(runs.map((s) => s.cpuS)),
      peakRssMiB: median(runs.map((s) => s.peakRssKiB / 1024)),
    };
  }

  /** Prints the table of medians, the per-run values, `numerator / denominator` ratios, and failures. */
  print(title: string, ratios: Array<[numerator: string, denominator: string]>): void {
    const nameWidth = Math.max(12, ...this.clients.map((c) => c.length + 2));
    console.log(`\n${title}`);
    console.log(`medians; CPU s and peak RSS are of the ${this.measuredWhat}`);
    console.log(
      `${pad('client', nameWidth, true)}${pad('ok', 6)}${pad('wall s', 9)}${pad('MiB/s', 9)}${pad('CPU s', 9)}${pad('RSS MiB', 9)}`,
    );
    for (const client of this.clients) {
      const s = this.summary(client);
      console.log(
        `${pad(client, nameWidth, true)}${pad(`${s.ok}/${s.attempted}`, 6)}${pad(fixed(s.wallS, 2), 9)}` +
          `${pad(fixed(s.mibPerS, 1), 9)}${pad(fixed(s.cpuS, 2), 9)}${pad(fixed(s.peakRssMiB, 1), 9)}`,
      );
    }
    if (ratios.length > 0) {
      const ratioWidth = Math.max(...ratios.map(([a, b]) => `${a} / ${b}`.length + 2));
      console.log(`\n${pad('ratio', ratioWidth, true)}${pad('MiB/s', 9)}${pad('CPU s', 9)}${pad('RSS', 9)}`);
      console.log(`${pad('', ratioWidth)}${pad('(>1 faster)', 9)}  (<1 uses less)`);
      for (const [a, b] of ratios) {
        const x = this.summary(a);
        const y = this.summary(b);
        console.log(
          `${pad(`${a} / ${b}`, ratioWidth, true)}${pad(fixed(x.mibPerS / y.mibPerS, 2), 9)}` +
            `${pad(fixed(x.cpuS / y.cpuS, 2), 9)}${pad(fixed(x.peakRssMiB / y.peakRssMiB, 2), 9)}`,
        );
      }
    }
    console.log('\nper run (wall s / CPU s / RSS MiB):');
    for (const client of this.clients) {
      const runs = this.samples.get(client)!;
      const list = runs.map((s) => `${s.wallS.toFixed(2)}/${s.cpuS.toFixed(2)}/${(s.peakRssKiB / 1024).toFixed(0)}`);
      console.log(`  ${pad(client, nameWidth, true)}${list.join('  ') || '-'}`);
    }
    if (this.failures.length > 0) {
      console.log('\nFAILED runs:');
      for (const failure of this.failures) {
        console.log(`  ${failure.length > FAILURE_TEXT ? `${failure.slice(0, FAILURE_TEXT)} …` : failure}`);
      }
    }
  }
}

/** `clients` rotated by `run`, so no client is always first (or always right after another). */
export function runOrder<T>(clients: T[], run: number): T[] {
  const shift = run % clients.length;
  return [...clients.slice(shift), ...clients.slice(0, shift)];
}
