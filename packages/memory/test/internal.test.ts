/**
 * `@mp/memory/internal` (the helpers sibling packages use) shares its modules with the public entry in
 * both builds: an error its code throws is an instance of the public MpError, from ESM and from CJS.
 */
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const dist = (file: string): string => JSON.stringify(join(import.meta.dirname, '..', 'dist', file));
const probe = (pub: string, internal: string): string => `
  const key = '@mp/test-internal-' + process.pid;
  internal.processSlot(key, 'a@1', 1, () => ({}));
  try { internal.processSlot(key, 'b@1', 2, () => ({})); console.log('no error'); }
  catch (e) { console.log(String(e instanceof ${pub}.MpError) + ' ' + e.code + ' ' + typeof internal.faultPoint + ' ' + typeof internal.loadAddon); }`;

describe('@mp/memory/internal', () => {
  it('CJS: internal.cjs and index.cjs share one MpError class', () => {
    const out = execFileSync(process.execPath, ['-e', `const pub = require(${dist('index.cjs')}); const internal = require(${dist('internal.cjs')});${probe('pub', 'internal')}`], { encoding: 'utf8' });
    expect(out.trim()).toBe('true EPROTO function function');
  });

  it('ESM: internal.js and index.js share one MpError class', () => {
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', `const pub = await import(${dist('index.js')}); const internal = await import(${dist('internal.js')});${probe('pub', 'internal')}`], { encoding: 'utf8' });
    expect(out.trim()).toBe('true EPROTO function function');
  });

  // DESIGN §12 / issue 14 #6: no test hook or addon plumbing in the public API. Each name here was a public
  // export once; it must be reachable only through the internal subpath.
  const internalOnly = ['loadAddon', 'faultPoint', 'armFaultPoints', 'sleepSync', 'log', 'processSlot', 'attachMemory',
    'detachMemory', 'memRegionSize', 'SEGMENT_CHUNK', 'checkOwnedFd', 'euid', 'processGone', 'processAlive', 'runCached', 'codeCacheStatus'];
  it.each(['index.js', 'index.cjs'])('the public %s exports none of the internal helpers; internal has them all', async (file) => {
    const load = (f: string): Promise<Record<string, unknown>> =>
      f.endsWith('.cjs') ? Promise.resolve(createRequire(import.meta.url)(join(import.meta.dirname, '..', 'dist', f)) as Record<string, unknown>)
        : import(join(import.meta.dirname, '..', 'dist', f)) as Promise<Record<string, unknown>>;
    const pub = await load(file);
    const internal = await load(file.replace('index', 'internal'));
    expect(internalOnly.filter((name) => name in pub)).toEqual([]);
    expect(internalOnly.filter((name) => !(name in internal))).toEqual([]);
    // The public API the README documents is still there.
    for (const name of ['MpError', 'memzone', 'futexWait', 'RobustLock', 'setLogger', 'setLogLevel', 'logEnabled', 'listenSeqpacket', 'openOwnedFile', 'hugepageInfo']) {
      expect(pub[name], name).toBeDefined();
    }
  });
});
