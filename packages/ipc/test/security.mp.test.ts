/** Datagrams from another uid are dropped and logged (run one peer as `nobody`: the test runs as root). */
import { describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { chmodSync } from 'node:fs';
import { join } from 'node:path';
import { useAgents, useTempDir } from '@mp/test-utils';

const AGENT = join(import.meta.dirname, 'fixtures/agent.mjs');
const DIST = join(import.meta.dirname, '../dist/index.js');
const isRoot = process.getuid?.() === 0;
// Registered before the agents, so (after-hooks run last-registered first) agents die before their dirs go.
const runtimeDir = useTempDir('uid');
const spawnAgent = useAgents(AGENT);

/** A one-shot peer running as uid/gid 65534: sends a message and a request to the primary, prints JSON. */
function runAsNobody(dir: string): Promise<{ sent: number; request: { code?: string } }> {
  const script = `
    const ipc = await import(${JSON.stringify(DIST)});
    ipc.start({ runtimeDir: ${JSON.stringify(dir)}, procType: 'secondary' });
    const sent = ipc.sendMsg({ name: 'note', param: new TextEncoder().encode('from nobody') });
    let request;
    try { request = await ipc.request({ name: 'echo' }, { timeoutMs: 500 }); } catch (e) { request = { code: e.code }; }
    ipc.stop();
    console.log(JSON.stringify({ sent, request }));`;
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ['--input-type=module', '-e', script], { uid: 65534, gid: 65534, timeout: 20_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${err.message}\n${stderr}`));
      else resolve(JSON.parse(stdout.trim().split('\n').pop()!) as { sent: number; request: { code?: string } });
    });
  });
}

describe('credentials', () => {
  it.skipIf(!isRoot)(`a foreign-uid sender (nobody) is dropped and logged; same-uid peers still work${isRoot ? '' : ' (skipped: needs root to run a peer as uid 65534)'}`, async () => {
    // Test-only permissions: the group's dir and the primary's socket must be reachable by nobody.
    // A real group keeps its runtime dir 0700 and its sockets 0600.
    const dir = runtimeDir();
    chmodSync(dir, 0o777);
    const p = spawnAgent();
    const s = spawnAgent();
    const primaryPath = await p.call<string>('start', { runtimeDir: dir, procType: 'primary' });
    chmodSync(primaryPath, 0o666);
    await p.call('register', { name: 'note', mode: 'record' });
    await p.call('register', { name: 'echo', mode: 'echo' });
    const nobody = await runAsNobody(dir);
    expect(nobody.sent).toBe(1); // the kernel delivered it…
    expect(nobody.request.code).toBe('ETIMEDOUT'); // …and the primary dropped it: no reply, not even ENOENT
    expect(await p.call('received')).toEqual([]);
    expect(p.stderr.some((l) => /foreign sender uid 65534/.test(l))).toBe(true);
    await s.call('start', { runtimeDir: dir, procType: 'secondary' });
    expect(await s.call('request', { name: 'echo', text: 'root' })).toMatchObject({ ok: true, msgs: [{ text: `echo:root:${p.pid}` }] });
  });
});
