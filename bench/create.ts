/**
 * Torrent creation speed: our createTorrent against mktorrent on the same file, in the same run.
 *
 *   BENCH_CREATE_SIZE_MIB  size of the generated file (default 4096)
 *   BENCH_RUNS             runs of each tool, alternating which goes first (default 3)
 *
 * The file is written just before timing, so both tools mostly read from the page cache: this measures
 * hashing throughput, not the disk. Both use every core (mktorrent defaults to one thread per core).
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { autoPieceLength, createTorrent } from '../src/creation/index.js';
import { parseMetainfo } from '../src/metainfo/index.js';
import { MiB, writePseudoRandomFile } from './support/payload.js';
import { median } from './support/report.js';

const sizeMiB = Number(process.env.BENCH_CREATE_SIZE_MIB ?? 4096);
const runs = Number(process.env.BENCH_RUNS ?? 3);
const ANNOUNCE = 'http://127.0.0.1:1/announce';

/** Runs mktorrent under bash's `time` and returns its CPU seconds (user + system, all threads). */
function runMktorrent(args: string[]): Promise<number> {
  const quoted = args.map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(' ');
  const script = `TIMEFORMAT='cpu %U %S'; time mktorrent ${quoted} >/dev/null 2>&1`;
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-c', script], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('exit', (code) => {
      const cpu = /cpu ([\d.]+) ([\d.]+)/.exec(stderr);
      if (code !== 0 || cpu === null) reject(new Error(`mktorrent exited ${code}: ${stderr}`));
      else resolve(Number(cpu[1]) + Number(cpu[2]));
    });
  });
}

/** CPU seconds this process has used so far, worker threads included. */
function processCpuSeconds(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1e6;
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'torrent-ts-bench-create-'));
  try {
    const file = join(dir, 'bench.bin');
    const bytes = sizeMiB * MiB;
    const pieceLength = autoPieceLength(bytes);
    console.log(`writing ${sizeMiB} MiB to ${file} ...`);
    writePseudoRandomFile(file, bytes);
    console.log(`piece length ${pieceLength / 1024} KiB, ${runs} runs each, ${availableParallelism()} cores`);

    const ours: number[] = [];
    const theirs: number[] = [];
    const ourCpu: number[] = [];
    const theirCpu: number[] = [];
    let ourHash = '';
    let theirHash = '';
    const timeOurs = async () => {
      const cpuStart = processCpuSeconds();
      const start = performance.now();
      const { meta } = await createTorrent(file, { pieceLength, noDate: true, announce: [ANNOUNCE] });
      ours.push((performance.now() - start) / 1000);
      ourCpu.push(processCpuSeconds() - cpuStart);
      ourHash = meta.infoHashHex;
    };
    const timeMktorrent = async () => {
      const out = join(dir, 'mk.torrent');
      await rm(out, { force: true });
      const start = performance.now();
      const cpu = await runMktorrent(['-l', String(Math.log2(pieceLength)), '-a', ANNOUNCE, '-o', out, file]);
      theirs.push((performance.now() - start) / 1000);
      theirCpu.push(cpu);
      theirHash = parseMetainfo(await readFile(out)).infoHashHex;
    };
    for (let i = 0; i < runs; i++) {
      if (i % 2 === 0) {
        await timeOurs();
        await timeMktorrent();
      } else {
        await timeMktorrent();
        await timeOurs();
      }
    }

    const row = (name: string, times: number[], cpu: number[]) => {
      const m = median(times);
      const list = times.map((s) => s.toFixed(2)).join(', ');
      console.log(
        `${name.padEnd(11)} median ${m.toFixed(2)} s  ${(sizeMiB / m).toFixed(0)} MiB/s  ` +
          `cpu ${median(cpu).toFixed(2)} s  (wall per run: ${list})`,
      );
    };
    row('torrent.ts', ours, ourCpu);
    row('mktorrent', theirs, theirCpu);
    const ratio = median(ours) / median(theirs);
    const cpuRatio = median(ourCpu) / median(theirCpu);
    console.log(`torrent.ts / mktorrent: wall time ${ratio.toFixed(2)}x, cpu time ${cpuRatio.toFixed(2)}x`);
    console.log(`info-hash ${ourHash === theirHash ? 'identical' : `DIFFERS (${ourHash} vs ${theirHash})`}`);
    if (ourHash !== theirHash) process.exitCode = 1;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
