/**
 * What loading the library costs: no HTTP library besides Node's own (undici alone took about 110 ms of CPU),
 * and no logger until one is asked for (pino and its streams took about 20 ms).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

test('importing the library loads neither undici nor pino', async () => {
  const entry = new URL('../../src/index.js', import.meta.url).href;
  // Packages imported from ESM but written as CommonJS (undici, pino, http-parser-js) land in the CommonJS
  // module cache.
  const script = `
    import { createRequire } from 'node:module';
    await import(${JSON.stringify(entry)});
    const packages = Object.keys(createRequire(import.meta.url).cache).map((file) => /node_modules\\/([^/]+)/.exec(file)?.[1]);
    console.log(JSON.stringify([...new Set(packages.filter(Boolean))]));
  `;
  const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script]);
  const packages: string[] = JSON.parse(stdout);
  assert.ok(packages.includes('http-parser-js'), `the check sees CommonJS packages: ${stdout}`);
  assert.ok(!packages.includes('undici'), `loaded: ${stdout}`);
  assert.ok(!packages.includes('pino'), `loaded: ${stdout}`);
});
