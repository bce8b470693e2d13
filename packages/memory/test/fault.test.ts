import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { processAlive, processGone, sleepSync } from '../dist/internal.js';

const internal = new URL('../dist/internal.js', import.meta.url).href;

function run(env: NodeJS.ProcessEnv, arm: boolean): ReturnType<typeof spawnSync> {
  const code =
    `${arm ? "globalThis[Symbol.for('@mp/test-faults')] = true;" : ''}` +
    `const { faultPoint } = await import(${JSON.stringify(internal)});` +
    `for (let i = 0; i < 5; i++) { faultPoint('p'); process.stdout.write(String(i)); }`;
  return spawnSync(process.execPath, ['--input-type=module', '-e', code], { env: { ...process.env, ...env }, encoding: 'utf8' });
}

describe('fault points', () => {
  it('an unarmed process ignores MP_TEST_CRASH (a stray variable never kills production code)', () => {
    const r = run({ MP_TEST_CRASH: 'p' }, false);
    expect(r.signal).toBeNull();
    expect(r.stdout).toBe('01234');
  });

  it('an armed process is killed at the named point, after MP_TEST_CRASH_AFTER passes', () => {
    const r = run({ MP_TEST_CRASH: 'p', MP_TEST_CRASH_AFTER: '2' }, true);
    expect(r.signal).toBe('SIGKILL');
    expect(r.stdout).toBe('01');
  });

  it('an armed process ignores other points', () => {
    const r = run({ MP_TEST_CRASH: 'q' }, true);
    expect(r.signal).toBeNull();
    expect(r.stdout).toBe('01234');
  });
});

describe('liveness', () => {
  it('this process is alive; an exited, reaped child is gone', () => {
    expect(processAlive(process.pid)).toBe(true);
    const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
    expect(processGone(Number(r.stdout))).toBe(true);
  });

  it('a zombie (exited, not reaped: kill(pid, 0) still succeeds) is gone', () => {
    // libuv reaps children from the event loop; while this test blocks the loop, the exited child stays a zombie.
    const child = spawn('true');
    const pid = child.pid!;
    const state = (): string => {
      const st = readFileSync(`/proc/${pid}/stat`, 'latin1');
      return st.charAt(st.lastIndexOf(')') + 2);
    };
    const deadline = Date.now() + 10_000;
    while (state() !== 'Z' && Date.now() < deadline) sleepSync(1);
    expect(state()).toBe('Z');
    expect(() => process.kill(pid, 0)).not.toThrow();
    expect(processGone(pid)).toBe(true);
    expect(processAlive(pid)).toBe(false);
  });
});
