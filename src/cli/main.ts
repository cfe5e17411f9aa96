#!/usr/bin/env -S node --max-semi-space-size=4
/**
 * The `torrent` command: a thin front end over the library's Client.
 *
 * Run with a small young generation (4 MiB semi-spaces, Node's default is 16): peak memory stays far lower
 * than with the default. 1 MiB saved another 8 to 10 MiB of RSS but cost twice the scavenging time, about 5%
 * of a download's CPU.
 */
import { readFileSync } from 'node:fs';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
// Each command's module is loaded when the command runs: `create` and `info` then start without loading
// the whole client (HTTP, logging, sessions).
import type { CreateCommandOptions } from './create.js';
import { describeError, exitCodeFor, ExitCode } from './failure.js';
import type { TransferOptions } from './transfer.js';
import { parseDuration, parseSize } from './units.js';

const collect = (value: string, previous: string[] = []) => [...previous, value];
const asArgument =
  <T>(parse: (text: string) => T) =>
  (text: string): T => {
    try {
      return parse(text);
    } catch (err) {
      throw new InvalidArgumentError((err as Error).message);
    }
  };
const ratio = asArgument((text: string) => {
  const n = Number(text);
  if (!(n > 0)) throw new RangeError(`not a ratio: "${text}" (use e.g. 1.5)`);
  return n;
});
const threadCount = asArgument((text: string) => {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1 || n > 64) throw new RangeError(`not a thread count: "${text}" (use 1 to 64)`);
  return n;
});

/** From the package's own package.json (dist/src/cli/ or dist/bundle/cli/ → the package root). */
const { version } = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };

const program = new Command('torrent')
  .description('Download, seed and create BitTorrent torrents')
  .version(version, '-V, --version', 'print the version')
  .option('--verbose', 'show debug logs and stack traces')
  .option('--log-file <path>', 'write structured JSON logs to this file')
  .showHelpAfterError()
  .exitOverride();

let verbose = false;
program.hook('preAction', (cmd) => {
  verbose = Boolean(cmd.opts().verbose);
});

/** Options shared by download and seed. */
function transferOptions(cmd: Command): Command {
  return cmd
    .option('--peer <host:port>', 'connect to this peer too (repeatable)', collect)
    .option('--port <n>', 'port to accept peers on (default 6881, the next free one if taken)')
    .option('--listen-host <address>', 'address to accept peers on (default all)')
    .option('--max-peers <n>', 'most peer connections (default 50)')
    .option('--limit-down <rate>', 'download limit, e.g. 2M (bytes/s)', asArgument(parseSize))
    .option('--limit-up <rate>', 'upload limit, e.g. 500k (bytes/s)', asArgument(parseSize))
    .option('--no-trackers', "do not announce to the torrent's trackers")
    .option('--state-dir <dir>', 'where resume data is kept')
    .option('--quiet', 'print nothing but errors')
    .option('--json', 'print newline-delimited JSON events');
}

transferOptions(
  program
    .command('download')
    .description('download a torrent, verifying every piece')
    .argument('<file.torrent>')
    .option('-o, --output <dir>', 'folder to download into', '.')
    .option('--no-web-seeds', "do not use the torrent's web seeds (BEP 19)")
    .option('--seed', 'keep seeding after the download completes (until Ctrl-C or a limit)')
    .option('--seed-ratio <r>', 'with --seed: stop after uploading r times the torrent size', ratio)
    .option('--seed-time <duration>', 'with --seed: stop after seeding this long, e.g. 30m', asArgument(parseDuration))
    .addOption(new Option('--timeout <seconds>', 'give up when no peer is found for this long; 0 waits forever').default(120).argParser(asArgument(parseDuration))),
).action(async (file: string, opts: TransferOptions & { output: string }) => {
  // The threads boot on the other cores while this one loads the rest of the code.
  (await import('../storage/threads.js')).prestartStorageThreads();
  const { runTransfer } = await import('./transfer.js');
  process.exitCode = await runTransfer(file, opts.output, 'download', { ...opts, ...program.opts() });
});

transferOptions(
  program
    .command('seed')
    .description('seed a torrent from the folder that holds its data')
    .argument('<file.torrent>')
    .option('-d, --dir <dir>', 'folder that holds the data (as download -o wrote it)', '.')
    .option('--seed-ratio <r>', 'stop after uploading r times the torrent size', ratio)
    .option('--seed-time <duration>', 'stop after seeding this long, e.g. 2h', asArgument(parseDuration)),
).action(async (file: string, opts: TransferOptions & { dir: string }) => {
  const { runTransfer } = await import('./transfer.js');
  process.exitCode = await runTransfer(file, opts.dir, 'seed', { ...opts, timeout: 0, webSeeds: false, ...program.opts() });
});

program
  .command('create')
  .description('create a .torrent from a file or folder')
  .argument('<file-or-folder>')
  .requiredOption('-o, --output <file.torrent>', 'where to write the .torrent')
  .option('--announce <url>', 'tracker URL, its own tier; comma-separate URLs for one tier (repeatable)', collect)
  .option('--tier', 'put every --announce URL in one tier')
  .option('--web-seed <url>', 'web seed URL (BEP 19, repeatable)', collect)
  .option('--piece-length <size>', 'piece length (e.g. 256k, 1M) or auto', 'auto')
  .option('--private', 'private torrent (BEP 27)')
  .option('--comment <text>', 'comment')
  .option('--no-date', 'leave out the creation date (same input, same bytes)')
  .option('--pad', 'align files to pieces with padding files (BEP 47)')
  .option('--include-hidden', 'include hidden files and OS junk files')
  .option('--threads <n>', 'threads hashing, this one included (default: one per core)', threadCount)
  .option('--quiet', 'print nothing but errors')
  .option('--json', 'print one JSON object')
  .action(async (input: string, opts: CreateCommandOptions) => {
    const { createCommand } = await import('./create.js');
    await createCommand(input, opts, process.stdout);
  });

program
  .command('info')
  .description('show what a .torrent file holds')
  .argument('<file.torrent>')
  .option('--json', 'print one JSON object')
  .action(async (file: string, opts: { json?: boolean }) => {
    const { infoCommand } = await import('./info.js');
    await infoCommand(file, opts, process.stdout);
  });

program
  .command('demo')
  .description(`download a generated sample from a seeder through a tracker, all on 127.0.0.1, and verify every byte`)
  .action(async () => {
    const { runDemo } = await import('./demo.js');
    process.exitCode = await runDemo(process.stdout);
  });

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    // Commander has already printed its message (or the help text).
    process.exitCode = err.exitCode === 0 ? ExitCode.ok : ExitCode.badInput;
  } else {
    process.stderr.write(`torrent: ${describeError(err, verbose)}\n`);
    process.exitCode = exitCodeFor(err);
  }
}
