#!/usr/bin/env node
/** The `torrent` command: a thin front end over the library's Client. */
import { Command, CommanderError } from 'commander';
import { describeError, exitCodeFor, ExitCode } from './failure.js';
import { infoCommand } from './info.js';

const program = new Command('torrent')
  .description('Download, seed and create BitTorrent torrents')
  .option('--verbose', 'show debug logs and stack traces')
  .option('--log-file <path>', 'write structured JSON logs to this file')
  .showHelpAfterError()
  .exitOverride();

let verbose = false;
program.hook('preAction', (cmd) => {
  verbose = Boolean(cmd.opts().verbose);
});

program
  .command('info')
  .description('show what a .torrent file holds')
  .argument('<file.torrent>')
  .option('--json', 'print one JSON object')
  .action((file: string, opts: { json?: boolean }) => infoCommand(file, opts, process.stdout));

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
