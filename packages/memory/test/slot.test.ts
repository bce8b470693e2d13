/** The process-wide state slot: one state per key whatever copy asks, and EPROTO on a layout mismatch. */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MpError } from '../dist/index.js';
import { processSlot } from '../dist/internal.js';

const pkgDir = join(import.meta.dirname, '..');

describe('processSlot', () => {
  it('hands every caller of one key and layout the same state object, created once', () => {
    const key = `@mp/test-slot-${process.pid}-a`;
    let created = 0;
    const a = processSlot(key, '@mp/x@1.0.0', 1, () => ({ n: ++created }));
    const b = processSlot(key, '@mp/x@1.1.0', 1, () => ({ n: ++created }));
    expect(b).toBe(a);
    expect(created).toBe(1);
    expect((globalThis as unknown as Record<symbol, { state: unknown }>)[Symbol.for(key)]!.state).toBe(a);
  });

  it('refuses a copy with another layout version with EPROTO naming both copies and both layouts', () => {
    const key = `@mp/test-slot-${process.pid}-b`;
    processSlot(key, '@mp/x@0.3.0', 2, () => ({}));
    let err: unknown;
    try {
      processSlot(key, '@mp/x@0.2.1', 1, () => ({}));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(MpError);
    expect((err as MpError).code).toBe('EPROTO');
    expect((err as MpError).message).toContain('@mp/x@0.3.0');
    expect((err as MpError).message).toContain('@mp/x@0.2.1');
    expect((err as MpError).message).toMatch(/layout version 2, this copy uses 1/);
  });

  it('a copy of @mp/memory whose state layout differs is refused at load (EPROTO, both named)', () => {
    // Another copy got there first with layout 99: loading this one must fail, not misread its state.
    const out = execFileSync(process.execPath, ['-e', `
      Object.defineProperty(globalThis, Symbol.for('@mp/memory'), { value: { layout: 99, owner: '@mp/memory@9.0.0', state: {} } });
      try { require(${JSON.stringify(join(pkgDir, 'dist', 'index.cjs'))}); console.log('loaded'); }
      catch (e) { console.log(e.code + ' ' + e.message); }`], { encoding: 'utf8' });
    expect(out).toMatch(/^EPROTO /);
    expect(out).toMatch(/@mp\/memory@\d+\.\d+\.\d+ cannot share .*@mp\/memory@9\.0\.0 holds it with layout version 99/);
  });
});
