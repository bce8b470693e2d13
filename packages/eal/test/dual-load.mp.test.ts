/**
 * One group per process whatever copy loads it (DESIGN §12): init() through the ESM build and the group
 * used through the CommonJS build of @mp/eal, @mp/memory and @mp/ring — before the process-wide slot, the
 * CJS side threw ENOTCONN. @mp/eal's and @mp/memory's ESM entries load their CJS build (esmWrapper in
 * tsup.base.ts), so those two are one instance (sameInstance); @mp/ring's builds are still two.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { uniquePrefix } from '@mp/test-utils';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const pkgs = join(import.meta.dirname, '..', '..');
const dist = (pkg: string, file: string): string => JSON.stringify(join(pkgs, pkg, 'dist', file));

describe('ESM and CJS copies in one process', () => {
  it('share the attached group: init() via import, eal()/groupMemory()/Ring.create via require', async () => {
    const prefix = uniquePrefix('dl');
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', `
      import { createRequire } from 'node:module';
      const require = createRequire(import.meta.url);
      const esm = await import(${dist('eal', 'index.js')});
      const cjsEal = require(${dist('eal', 'index.cjs')});
      const cjsMemory = require(${dist('memory', 'internal.cjs')});
      const cjsRing = require(${dist('ring', 'index.cjs')});
      const e = esm.init(['--file-prefix=${prefix}', '--no-huge', '--no-telemetry']);
      const out = {
        sameEal: cjsEal.eal() === e,
        sameInstance: esm.init === cjsEal.init && esm.MpError === require(${dist('memory', 'index.cjs')}).MpError,
        sameMemory: cjsMemory.groupMemory() === e.memory,
      };
      const r = cjsRing.Ring.create('dual', 8);
      out.enq = r.enqueueBurst(new Uint32Array([7]));
      const dst = new Uint32Array(1);
      out.deq = (await import(${dist('ring', 'index.js')})).Ring.lookup('dual').dequeueBurst(dst);
      out.value = dst[0];
      cjsEal.eal().cleanup();
      out.afterCleanup = (() => { try { esm.eal(); return 'attached'; } catch (err) { return err.code; } })();
      console.log(JSON.stringify(out));`]);
    expect(JSON.parse(stdout.trim().split('\n').pop()!)).toEqual({ sameEal: true, sameInstance: true, sameMemory: true, enq: 1, deq: 1, value: 7, afterCleanup: 'ENOTCONN' });
  });
});
