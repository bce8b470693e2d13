/**
 * One set of attached tables per process whatever copy of @mp/hash loads it (processSlot): a table
 * created through the ESM build is the same handle when attached through the CommonJS build.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { uniquePrefix } from '@mp/test-utils';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const pkgs = join(import.meta.dirname, '..', '..');
const dist = (pkg: string, file: string): string => JSON.stringify(join(pkgs, pkg, 'dist', file));

describe('ESM and CJS copies of @mp/hash in one process', () => {
  it('share the attached tables: create via import, findExisting via require returns the same handle', async () => {
    const prefix = uniquePrefix('hdl');
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', `
      import { createRequire } from 'node:module';
      const require = createRequire(import.meta.url);
      const eal = await import(${dist('eal', 'index.js')});
      const esm = await import(${dist('hash', 'index.js')});
      const cjs = require(${dist('hash', 'index.cjs')});
      eal.init(['--file-prefix=${prefix}', '--no-huge', '--no-telemetry']);
      const h = esm.Hash.create('dual', { entries: 64, keyLen: 4 });
      h.add(new Uint8Array([1, 2, 3, 4]), 42);
      const c = cjs.Hash.findExisting('dual');
      const out = { distinctClasses: esm.Hash !== cjs.Hash, same: c === h, data: c.lookupData(new Uint8Array([1, 2, 3, 4])) };
      h.free();
      out.afterFree = cjs.Hash.find('dual') === undefined;
      eal.eal().cleanup();
      console.log(JSON.stringify(out));`]);
    expect(JSON.parse(stdout.trim().split('\n').pop()!)).toEqual({ distinctClasses: true, same: true, data: 42, afterFree: true });
  });
});
