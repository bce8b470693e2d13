/**
 * Eal.onCleanup: packages built on the group (@mp/ipc) close what they hold before the group goes,
 * without replacing Eal.cleanup. Run in a fresh process each (one init() per process).
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { uniquePrefix } from '@mp/test-utils';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const dist = JSON.stringify(join(import.meta.dirname, '..', 'dist', 'index.js'));

async function script(body: string): Promise<string[]> {
  const prefix = uniquePrefix('ch');
  const { stdout } = await run(process.execPath, ['--input-type=module', '-e', `
    const { init } = await import(${dist});
    const e = init(['--file-prefix=${prefix}', '--no-huge', '--no-telemetry']);
    const seen = [];
    ${body}`]);
  return stdout.trim().split('\n');
}

describe('Eal.onCleanup', () => {
  it('runs hooks newest first, before the slot goes, once; a throwing hook does not stop the others; a removed one never runs', async () => {
    const out = await script(`
      e.onCleanup(() => seen.push('first:' + e.processes().some((p) => p.pid === process.pid)));
      e.onCleanup(() => { throw new Error('hook says no'); });
      const off = e.onCleanup(() => seen.push('removed'));
      e.onCleanup(() => seen.push('last'));
      off(); off();
      e.cleanup();
      e.cleanup();
      console.log(JSON.stringify(seen));
      console.log(typeof Object.getOwnPropertyDescriptor(e, 'cleanup'));`);
    expect(JSON.parse(out[0]!)).toEqual(['last', 'first:true']);
    expect(out[1]).toBe('undefined'); // nobody replaced the method
  });

  it('runs hooks at process exit too (cleanup() runs then)', async () => {
    const out = await script(`e.onCleanup(() => console.log('hook at exit'));`);
    expect(out).toEqual(['hook at exit']);
  });

  it('refuses a non-function with EINVAL', async () => {
    const out = await script(`try { e.onCleanup(42); console.log('accepted'); } catch (err) { console.log(err.code); } e.cleanup();`);
    expect(out).toEqual(['EINVAL']);
  });
});
