/**
 * One channel per process whatever copy of @mp/ipc loads it (DESIGN §12): the ESM and the CommonJS
 * builds in one process share the open channel (its state lives in @mp/memory's processSlot), so an
 * app whose dependencies mix the two never binds two sockets.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { uniquePrefix } from '@mp/test-utils';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const pkgs = join(import.meta.dirname, '..', '..');
const dist = (pkg: string, file: string): string => JSON.stringify(join(pkgs, pkg, 'dist', file));

describe('ESM and CJS copies of @mp/ipc in one process', () => {
  it('share one channel: started through import, used through require (and back)', async () => {
    const prefix = uniquePrefix('ipdl');
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', `
      import { createRequire } from 'node:module';
      const require = createRequire(import.meta.url);
      const { init } = await import(${dist('eal', 'index.js')});
      const esm = await import(${dist('ipc', 'index.js')});
      const cjs = require(${dist('ipc', 'index.cjs')});
      init(['--file-prefix=${prefix}', '--no-huge', '--no-telemetry']);
      const ch = esm.start();
      const out = { same: cjs.channel() === ch, again: cjs.start() === ch };
      cjs.actionRegister('dl', (msg) => ({ name: msg.name, param: new Uint8Array([7]) }));
      out.sync = esm.requestSync({ name: 'dl' }, { to: process.pid }).msgs[0].param[0];
      out.async = (await cjs.request({ name: 'dl' }, { to: process.pid })).msgs[0].param[0];
      cjs.stop();
      out.closed = ch.isClosed;
      console.log(JSON.stringify(out));
      process.exit(0);`]);
    expect(JSON.parse(stdout.trim().split('\n').pop()!)).toEqual({ same: true, again: true, sync: 7, async: 7, closed: true });
  });
});
