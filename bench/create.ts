/**
 * Torrent creation speed: against mktorrent on the same file, in the same run, both our library call
 * (createTorrent in this process) and our command (`torrent create`, Node's start-up included).
 *
 *   BENCH_CREATE_SIZE_MIB  size of the generated file (default 4096)
 *   BENCH_RUNS             runs of each, rotating which goes first (default 3)
 *
 * The file is written just before timing, so every run mostly reads from the page cache: this measures
 * hashing throughput, not the disk. All use every core (mktorrent defaults to one thread per core). The
 * two commands are measured alike by bench/support/measure.py (wall time and CPU of the process).
 */
import { readFile, rm } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { autoPieceLength, createTorrent } from '../src/creation/index.js';
import { parseMetainfo } from '../src/metainfo/index.js';
import { type Invocation, ourCreate } from './support/clients.js';
import { MiB, writePseudoRandomFile } from './support/payload.js';
import { makeTempDir, removeTempDir, runMeasured } from './support/processes.js';
import { median, runOrder } from './support/report.js';

const sizeMiB = Number(process.env.BENCH_CREATE_SIZE_MIB ?? 4096);
const runs = Number(process.env.BENCH_RUNS ?? 3);
const ANNOUNCE = 'http://127.0.0.1:1/announce';
const TIMEOUT_S = 600;

/** CPU seconds this process has used so far, worker threads included. */
function processCpuSeconds(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1e6;
}

type Creator = 'library' | 'command' | 'mktorrent';

async function main(): Promise<void> {
  const dir = await makeTempDir('torrent-ts-bench-create-');
  try {
    const file = join(dir, 'bench.bin');
    const bytes = sizeMiB * MiB;
    const pieceLength = autoPieceLength(bytes);
    console.log(`writing ${sizeMiB} MiB to ${file} ...`);
    writePseudoRandomFile(file, bytes);
    console.log(`piece length ${pieceLength / 1024} KiB, ${runs} runs each, ${availableParallelism()} cores`);

    const wall = new Map<Creator, number[]>();
    const cpu = new Map<Creator, number[]>();
    const infoHashes = new Map<Creator, string>();
    const record = (who: Creator, wallS: number, cpuS: number, infoHash: string) => {
      wall.set(who, [...(wall.get(who) ?? []), wallS]);
      cpu.set(who, [...(cpu.get(who) ?? []), cpuS]);
      infoHashes.set(who, infoHash);
    };
    const runCommand = async (who: Creator, invocation: (out: string) => Invocation) => {
      const out = join(dir, `${who}.torrent`);
      await rm(out, { force: true });
      const { command, args } = invocation(out);
      const measured = await runMeasured(command, args, TIMEOUT_S);
      if (measured.failure !== null) throw new Error(`${who} failed: ${measured.failure}`);
      record(who, measured.wallS, measured.cpuS, parseMetainfo(await readFile(out)).infoHashHex);
    };
    const measure: Record<Creator, () => Promise<void>> = {
      library: async () => {
        const cpuStart = processCpuSeconds();
        const start = performance.now();
        const { meta } = await createTorrent(file, { pieceLength, noDate: true, announce: [ANNOUNCE] });
        record('library', (performance.now() - start) / 1000, processCpuSeconds() - cpuStart, meta.infoHashHex);
      },
      command: () => runCommand('command', (out) => ourCreate(file, out, pieceLength, ANNOUNCE)),
      mktorrent: () =>
        runCommand('mktorrent', (out) => ({
          command: 'mktorrent',
          args: ['-l', String(Math.log2(pieceLength)), '-a', ANNOUNCE, '-o', out, file],
        })),
    };
    const creators: Creator[] = ['library', 'command', 'mktorrent'];
    for (let run = 0; run < runs; run++) {
      for (const who of runOrder(creators, run)) await measure[who]();
    }

    const labels: Record<Creator, string> = { library: 'createTorrent()', command: 'torrent create', mktorrent: 'mktorrent' };
    for (const who of creators) {
      const m = median(wall.get(who)!);
      const list = wall.get(who)!.map((s) => s.toFixed(2)).join(', ');
      console.log(
        `${labels[who].padEnd(16)} median ${m.toFixed(2)} s  ${(sizeMiB / m).toFixed(0)} MiB/s  ` +
          `cpu ${median(cpu.get(who)!).toFixed(2)} s  (wall per run: ${list})`,
      );
    }
    const theirs = median(wall.get('mktorrent')!);
    const theirCpu = median(cpu.get('mktorrent')!);
    for (const who of ['library', 'command'] as const) {
      console.log(
        `${labels[who]} / mktorrent: wall time ${(median(wall.get(who)!) / theirs).toFixed(2)}x, ` +
          `cpu time ${(median(cpu.get(who)!) / theirCpu).toFixed(2)}x`,
      );
    }
    const hashes = new Set(infoHashes.values());
    console.log(`info-hash ${hashes.size === 1 ? 'identical' : `DIFFERS (${[...infoHashes].map(([w, h]) => `${w} ${h}`).join(', ')})`}`);
    if (hashes.size !== 1) process.exitCode = 1;
  } finally {
    await removeTempDir(dir);
  }
}

await main();
