/**
 * Builds the native multi-lane SHA-1 (native/sha1-lanes.c, binding.gyp) with the node-gyp that npm ships, as
 * `npm install` would build any addon. It is optional: without a C compiler or Node's headers, torrent
 * creation hashes with node:crypto, so a failed build says so in one line and the install goes on.
 */
import { spawnSync } from 'node:child_process';

const nodeGyp = process.env.npm_config_node_gyp;
if (nodeGyp === undefined) {
  console.warn('torrent.ts: not run by npm (no node-gyp given): the native SHA-1 is not built; node:crypto hashes instead');
  process.exit(0);
}
const build = spawnSync(process.execPath, [nodeGyp, 'rebuild'], { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
if (build.status !== 0) {
  const why = (build.error?.message ?? build.stderr ?? '').trim().split('\n').filter((line) => /error/i.test(line)).at(0) ?? `exit ${build.status}`;
  console.warn(`torrent.ts: the native SHA-1 was not built (${why}); torrent creation hashes with node:crypto instead`);
}
