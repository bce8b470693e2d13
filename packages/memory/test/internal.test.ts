/**
 * `@mp/memory/internal` (the helpers sibling packages use) shares its modules with the public entry in
 * both builds: an error its code throws is an instance of the public MpError, from ESM and from CJS.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const dist = (file: string): string => JSON.stringify(join(import.meta.dirname, '..', 'dist', file));
const probe = (pub: string, internal: string): string => `
  const key = '@mp/test-internal-' + process.pid;
  internal.processSlot(key, 'a@1', 1, () => ({}));
  try { internal.processSlot(key, 'b@1', 2, () => ({})); console.log('no error'); }
  catch (e) { console.log(String(e instanceof ${pub}.MpError) + ' ' + e.code + ' ' + typeof internal.crashPoint + ' ' + typeof internal.loadAddon); }`;

describe('@mp/memory/internal', () => {
  it('CJS: internal.cjs and index.cjs share one MpError class', () => {
    const out = execFileSync(process.execPath, ['-e', `const pub = require(${dist('index.cjs')}); const internal = require(${dist('internal.cjs')});${probe('pub', 'internal')}`], { encoding: 'utf8' });
    expect(out.trim()).toBe('true EPROTO function function');
  });

  it('ESM: internal.js and index.js share one MpError class', () => {
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', `const pub = await import(${dist('index.js')}); const internal = await import(${dist('internal.js')});${probe('pub', 'internal')}`], { encoding: 'utf8' });
    expect(out.trim()).toBe('true EPROTO function function');
  });
});
