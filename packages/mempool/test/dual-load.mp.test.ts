/**
 * One mempool state per process whatever copy loads it (DESIGN §12): a pool created through the ESM build
 * of @mp/mempool is the pool the CommonJS build's lookup and handles resolve to (an ESM app with a CJS
 * dependency loads both), and a copy with another state layout is refused at load with EPROTO.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { uniquePrefix } from '@mp/test-utils';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const pkgs = join(import.meta.dirname, '..', '..');
const dist = (pkg: string, file: string): string => JSON.stringify(join(pkgs, pkg, 'dist', file));

describe('ESM and CJS copies of @mp/mempool in one process', () => {
  it('share the open pools: create and alloc via import, lookup, free and alloc again via require', async () => {
    const prefix = uniquePrefix('mpdl');
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', `
      import { createRequire } from 'node:module';
      const require = createRequire(import.meta.url);
      const eal = await import(${dist('eal', 'index.js')});
      const esm = await import(${dist('mempool', 'index.js')});
      const cjs = require(${dist('mempool', 'index.cjs')});
      const e = eal.init(['--file-prefix=${prefix}', '--no-huge', '--no-telemetry', '-m', '64']);
      const pool = esm.pktmbufPoolCreate('dual', 63, { cacheSize: 0 });
      const out = { distinctCopies: esm.Mempool !== cjs.Mempool, samePool: cjs.Mempool.lookup('dual') === pool };
      const m = esm.Mbuf.alloc(pool);
      const at = esm.Mbuf.append(m, 4);
      esm.Mbuf.bytes(m)[at] = 42;
      // The handle made through ESM is read and freed through CJS.
      out.byte = cjs.Mbuf.bytes(m)[cjs.Mbuf.dataOffset(m)];
      cjs.Mbuf.free(m);
      out.avail = pool.availCount;
      e.cleanup();
      console.log(JSON.stringify(out));`]);
    expect(JSON.parse(stdout.trim().split('\n').pop()!)).toEqual({ distinctCopies: true, samePool: true, byte: 42, avail: 63 });
  });

  it('a copy whose state layout differs is refused at load with EPROTO naming both copies', async () => {
    const { stdout } = await run(process.execPath, ['-e', `
      Object.defineProperty(globalThis, Symbol.for('@mp/mempool'), { value: { layout: 99, owner: '@mp/mempool@9.0.0', state: {} } });
      try { require(${dist('mempool', 'index.cjs')}); console.log('loaded'); }
      catch (e) { console.log(e.code + ' ' + e.message); }`]);
    expect(stdout.trim()).toMatch(/^EPROTO .*@mp\/mempool@\d+\.\d+\.\d+ cannot share .*@mp\/mempool@9\.0\.0 holds it with layout version 99/);
  });
});
