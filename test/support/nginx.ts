/**
 * A throwaway Debian nginx serving one folder on 127.0.0.1, for web seed interop tests. Runs unprivileged-
 * friendly: everything (config, pid, logs, temp dirs) lives in a temp prefix, no master process (so no user
 * switch even as root), in the foreground as our child.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { commandWorks, requireProgram } from './interop.js';
import { freePort } from './ports.js';

export const NGINX = '/usr/sbin/nginx';

export function needNginx(): string | false {
  return requireProgram('nginx', existsSync(NGINX) && commandWorks(NGINX, ['-v']), 'apt-get install nginx-light');
}

export interface NginxServer {
  /** http://127.0.0.1:<port>/ — the served folder's root. */
  url: string;
  stop(): Promise<void>;
}

/** nginx.conf strings are double-quoted; escape what would end them. */
function quote(path: string): string {
  return `"${path.replace(/["\\$]/g, '\\$&')}"`;
}

function config(prefix: string, root: string, port: number): string {
  return `daemon off;
master_process off;
worker_processes 1;
pid ${quote(join(prefix, 'nginx.pid'))};
error_log ${quote(join(prefix, 'error.log'))} warn;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path ${quote(join(prefix, 'client_body'))};
  proxy_temp_path ${quote(join(prefix, 'proxy'))};
  fastcgi_temp_path ${quote(join(prefix, 'fastcgi'))};
  uwsgi_temp_path ${quote(join(prefix, 'uwsgi'))};
  scgi_temp_path ${quote(join(prefix, 'scgi'))};
  default_type application/octet-stream;
  sendfile on;
  keepalive_timeout 30s;
  keepalive_requests 10000;
  server {
    listen 127.0.0.1:${port};
    server_name localhost;
    root ${quote(root)};
  }
}
`;
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}

/** Start nginx serving `root`. Retries on another port if the probed free port got taken meanwhile. */
export async function startNginx(root: string): Promise<NginxServer> {
  const prefix = await mkdtemp(join(tmpdir(), 'torrent-ts-nginx-'));
  try {
    for (let attempt = 1; ; attempt++) {
      const port = await freePort();
      const conf = join(prefix, 'nginx.conf');
      await writeFile(conf, config(prefix, root, port));
      const child = spawn(NGINX, ['-p', prefix, '-c', conf, '-e', join(prefix, 'error.log')], {
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let stderr = '';
      child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      let ready = false;
      for (let poll = 0; poll < 100 && child.exitCode === null && child.signalCode === null; poll++) {
        if (await canConnect(port)) {
          ready = true;
          break;
        }
        await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 50))]);
      }
      if (ready) {
        return {
          url: `http://127.0.0.1:${port}/`,
          async stop() {
            await stopProcess(child);
            await rm(prefix, { recursive: true, force: true });
          },
        };
      }
      await stopProcess(child);
      const log = await readFile(join(prefix, 'error.log'), 'utf8').catch(() => '');
      if (attempt >= 3) throw new Error(`nginx did not start: ${stderr}${log}`);
    }
  } catch (error) {
    await rm(prefix, { recursive: true, force: true });
    throw error;
  }
}
