import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger, silentLogger, type LogFn, type Logger } from '../../src/log/index.js';
import { Client } from '../../src/session/client.js';

test('a silent logger is the shared no-op one, children included', async () => {
  const logger = await createLogger();
  assert.equal(logger, silentLogger);
  assert.equal(logger.child({ torrent: 'x' }), silentLogger);
  logger.warn({ piece: 1 }, 'dropped');
});

test('a logger with a file appends JSON lines at its level and above', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'torrent-ts-log-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'nested', 'run.log');
  const logger = await createLogger({ level: 'info', file });
  logger.debug('below the level');
  logger.child({ torrent: 'demo' }).warn({ piece: 7 }, 'piece failed its hash check');
  logger.info('listening');
  const lines = (await readFile(file, 'utf8')).trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
  assert.deepEqual(
    lines.map(({ level, msg, torrent, piece }) => ({ level, msg, torrent, piece })),
    [
      { level: 40, msg: 'piece failed its hash check', torrent: 'demo', piece: 7 },
      { level: 30, msg: 'listening', torrent: undefined, piece: undefined },
    ],
  );
});

test('a Client logs through any logger with pino methods', async (t) => {
  const lines: { level: string; fields: unknown; message?: string }[] = [];
  const capture = (level: string): LogFn =>
    ((fields: object | string, message?: string) => {
      if (typeof fields === 'string') lines.push({ level, fields: {}, message: fields });
      else lines.push({ level, fields, message });
    }) as LogFn;
  const logger: Logger = { error: capture('error'), warn: capture('warn'), info: capture('info'), debug: capture('debug'), child: () => logger };
  const client = new Client({ port: 0, listenHost: '127.0.0.1', logger });
  t.after(() => client.destroy());
  const port = await client.listen();
  assert.deepEqual(lines, [{ level: 'info', fields: { port }, message: 'listening for peers' }]);
});
