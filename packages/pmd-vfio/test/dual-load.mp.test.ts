/**
 * One ethdev state per process whatever copy loads it (DESIGN §12): a port probed through the ESM build of
 * @mp/pmd-vfio is the Port the CommonJS build attaches (an ESM app with a CJS dependency loads both), the
 * drivers are registered once per name, frames sent through one copy arrive through the other, and a copy
 * with another state layout is refused at load with EPROTO.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { uniquePrefix } from '@mp/test-utils';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const pkgs = join(import.meta.dirname, '..', '..');
const dist = (pkg: string, file: string): string => JSON.stringify(join(pkgs, pkg, 'dist', file));

describe('ESM and CJS copies of @mp/pmd-vfio in one process', () => {
  it('share the ports: probe and tx via import, attach and rx via require', async () => {
    const prefix = uniquePrefix('pvdl');
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', `
      import { createRequire } from 'node:module';
      const require = createRequire(import.meta.url);
      const eal = await import(${dist('eal', 'index.js')});
      const mempool = await import(${dist('mempool', 'index.js')});
      const esm = await import(${dist('pmd-vfio', 'index.js')});
      const cjs = require(${dist('pmd-vfio', 'index.cjs')});
      const e = eal.init(['--file-prefix=${prefix}', '--no-huge', '--no-telemetry', '-m', '64']);
      const pool = mempool.pktmbufPoolCreate('p', 255, { cacheSize: 0 });
      const p = esm.ethdev.probe('net_ring0');
      const out = { distinctCopies: esm.Port !== cjs.Port, samePort: cjs.ethdev.attach('net_ring0') === p };
      p.configure(1, 1);
      p.rxQueueSetup(0, 64, pool);
      p.txQueueSetup(0, 64);
      p.start();
      const h = new Uint32Array(4);
      mempool.Mbuf.allocBulk(pool, h, 4);
      for (let i = 0; i < 4; i++) mempool.Mbuf.bytes(h[i])[mempool.Mbuf.append(h[i], 60)] = 10 + i;
      out.sent = p.txBurst(0, h, 4);
      const q = cjs.ethdev.attach(0);
      const r = new Uint32Array(8);
      out.got = q.rxBurst(0, r, 8);
      out.first = [...r.subarray(0, out.got)].map((m) => mempool.Mbuf.bytes(m)[mempool.Mbuf.dataOffset(m)]);
      mempool.Mbuf.freeBulk(r, out.got);
      out.stats = cjs.ethdev.attach(0).stats().opackets;
      p.stop();
      p.close();
      e.cleanup();
      console.log(JSON.stringify(out));`]);
    expect(JSON.parse(stdout.trim().split('\n').pop()!)).toEqual({ distinctCopies: true, samePort: true, sent: 4, got: 4, first: [10, 11, 12, 13], stats: 4 });
  });

  it('a copy whose state layout differs is refused at load with EPROTO naming both copies', async () => {
    const { stdout } = await run(process.execPath, ['-e', `
      Object.defineProperty(globalThis, Symbol.for('@mp/pmd-vfio'), { value: { layout: 99, owner: '@mp/pmd-vfio@9.0.0', state: {} } });
      try { require(${dist('pmd-vfio', 'index.cjs')}); console.log('loaded'); }
      catch (e) { console.log(e.code + ' ' + e.message); }`]);
    expect(stdout.trim()).toMatch(/^EPROTO .*@mp\/pmd-vfio@\d+\.\d+\.\d+ cannot share .*@mp\/pmd-vfio@9\.0\.0 holds it with layout version 99/);
  });
});
