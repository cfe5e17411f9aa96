/**
 * Runs Debian's opentracker on loopback for interop tests. The Debian build only serves whitelisted
 * info-hashes, so each instance gets its own temp root with a whitelist. As root, opentracker chroots into
 * that root and drops to `nobody`; as anyone else it just changes into it. Either way the whitelist path in
 * the config is relative to the root.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { get } from 'node:http';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { requireProgram } from './interop.js';

export const OPENTRACKER = '/usr/bin/opentracker';

export function needOpentracker(): string | false {
  return requireProgram('opentracker', existsSync(OPENTRACKER), 'apt-get install opentracker');
}

export interface RunningOpentracker {
  /** http://127.0.0.1:<port>/announce */
  httpUrl: string;
  /** udp://127.0.0.1:<port> */
  udpUrl: string;
  stop(): Promise<void>;
}

/** A port that is free for both TCP and UDP right now (opentracker binds both on one port). */
async function freeTcpUdpPort(): Promise<number> {
  for (;;) {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    const udp = createSocket('udp4');
    const udpFree = await new Promise<boolean>((resolve) => {
      udp.once('error', () => resolve(false));
      udp.bind(port, '127.0.0.1', () => resolve(true));
    });
    await new Promise<void>((resolve) => udp.close(() => resolve()));
    await new Promise<void>((resolve) => server.close(() => resolve()));
    if (udpFree) return port;
  }
}

function httpGet(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = get(url, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve(Buffer.concat(chunks).toString('latin1')));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.setTimeout(2000, () => req.destroy(new Error('timeout')));
  });
}

async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
  await exited;
  clearTimeout(timer);
}

/** A hash that is whitelisted only so we can tell when opentracker has loaded its whitelist. */
const PROBE_HASH = 'ffeeddccbbaa99887766554433221100ffeeddcc';

/** Starts opentracker on 127.0.0.1 serving the given info-hashes; stop() kills it and removes its files. */
export async function startOpentracker(infoHashes: readonly Uint8Array[]): Promise<RunningOpentracker> {
  const root = await mkdtemp(join(tmpdir(), 'torrent-ts-opentracker-'));
  // The chroot root must stay readable after the drop to `nobody`.
  await chmod(root, 0o755);
  const whitelist = [...infoHashes.map((h) => Buffer.from(h).toString('hex')), PROBE_HASH].join('\n') + '\n';
  await writeFile(join(root, 'whitelist'), whitelist, { mode: 0o644 });
  let lastError = '';
  try {
    for (let attempt = 0; attempt < 5; attempt++) {
      const port = await freeTcpUdpPort();
      const config = join(root, 'opentracker.conf');
      await writeFile(
        config,
        [
          `listen.tcp_udp 127.0.0.1:${port}`,
          'access.whitelist whitelist',
          `tracker.rootdir ${root}`,
          'tracker.user nobody',
          '',
        ].join('\n'),
        { mode: 0o644 },
      );
      const child = spawn(OPENTRACKER, ['-f', config], { stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
      const base = `http://127.0.0.1:${port}`;
      const probeHash = PROBE_HASH.replace(/../g, '%$&');
      const probe = `${base}/announce?info_hash=${probeHash}&peer_id=-TS0000-probeprobepr&port=1&left=0&event=stopped`;
      for (let i = 0; i < 100 && child.exitCode === null; i++) {
        const answer = await httpGet(probe).catch(() => '');
        if (answer.includes('interval')) {
          return {
            httpUrl: `${base}/announce`,
            udpUrl: `udp://127.0.0.1:${port}`,
            stop: async () => {
              await stopProcess(child);
              await rm(root, { recursive: true, force: true });
            },
          };
        }
        await sleep(50);
      }
      await stopProcess(child);
      lastError = stderr.trim() || `no answer on port ${port}`;
    }
  } catch (err) {
    await rm(root, { recursive: true, force: true });
    throw err;
  }
  await rm(root, { recursive: true, force: true });
  throw new Error(`opentracker did not start: ${lastError}`);
}
