/**
 * One handle per thread and ring, whichever copy of @mp/ring hands it out (DESIGN §12): an ESM and a CJS
 * copy in one process share the handle cache through @mp/memory's processSlot. Two handles of one thread
 * would share one participant entry (its reservation records) with separate state — so the CJS copy must
 * return the handle the ESM copy made, not a second one.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { uniquePrefix } from '@mp/test-utils';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const pkgs = join(import.meta.dirname, '..', '..');
const dist = (pkg: string, file: string): string => JSON.stringify(join(pkgs, pkg, 'dist', file));

/** Run `body` in a fresh node (ESM), with `esm`/`cjs` bound to the two builds of @mp/ring; last stdout line as JSON. */
async function child(body: string, pre = ''): Promise<unknown> {
  const { stdout } = await run(process.execPath, ['--input-type=module', '-e', `
    import { createRequire } from 'node:module';
    const require = createRequire(import.meta.url);
    ${pre}
    const eal = await import(${dist('eal', 'index.js')});
    const esm = await import(${dist('ring', 'index.js')});
    const cjs = require(${dist('ring', 'index.cjs')});
    const e = eal.init(['--file-prefix=${uniquePrefix('rdl')}', '--no-huge', '--no-telemetry']);
    try { ${body} } finally { e.cleanup(); }`]);
  return JSON.parse(stdout.trim().split('\n').pop()!);
}

describe('an ESM and a CJS copy of @mp/ring in one process', () => {
  it('hand out the same handle per ring (one participant entry), whichever copy created or looks it up', async () => {
    const out = await child(`
      const a = esm.Ring.create('dual', 64, { elemSize: 8 });
      const b = cjs.Ring.create('dual2', 64, { elemSize: 8 });
      const entries = (r) => r.dump().split('\\n').filter((l) => l.includes('participant')).length;
      const src = new Uint32Array([5, 6]);
      const dst = new Uint32Array(2);
      console.log(JSON.stringify({
        twoBuilds: esm.Ring !== cjs.Ring,
        cjsLookup: cjs.Ring.lookup('dual') === a,
        cjsFind: cjs.Ring.find('dual') === a,
        esmLookup: esm.Ring.lookup('dual2') === b,
        entries: entries(a),
        moved: cjs.Ring.lookup('dual').enqueueBulk(src) + esm.Ring.lookup('dual').dequeueBulk(dst),
        value: dst[1],
        missing: [esm.Ring.find('none'), cjs.Ring.find('none')].map(String),
      }));`);
    expect(out).toEqual({
      twoBuilds: true,
      cjsLookup: true,
      cjsFind: true,
      esmLookup: true,
      entries: 1,
      moved: 2,
      value: 6,
      missing: ['undefined', 'undefined'],
    });
  });

  it('a copy whose state layout differs is refused with EPROTO naming both', async () => {
    const out = await child(
      `let code; let message;
      try { esm.Ring.create('v', 64); } catch (err) { code = err.code; message = err.message; }
      console.log(JSON.stringify({ code, message }));`,
      `Object.defineProperty(globalThis, Symbol.for('@mp/ring'), { value: { layout: 99, owner: '@mp/ring@9.9.9', state: {} } });`,
    );
    expect(out).toMatchObject({ code: 'EPROTO' });
    expect((out as { message: string }).message).toMatch(/@mp\/ring@9\.9\.9.*99.*uses 1/);
  });
});
