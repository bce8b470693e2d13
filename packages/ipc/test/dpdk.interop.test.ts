/**
 * Wire compatibility with a real DPDK 22.11 process (Debian's libdpdk): a small C primary
 * (test/dpdk/peer.c) built here, and @mp secondaries pointed at its runtime dir.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { hugepageInfo } from '@mp/memory';
import { spawnAgent, uniquePrefix } from '@mp/test-utils';
import type { Agent } from '@mp/test-utils';
import { WIRE } from '../src/layout.js';

const AGENT = join(import.meta.dirname, 'fixtures/agent.mjs');

function dpdkFlags(): { cflags: string[]; libs: string[] } | undefined {
  try {
    const cflags = execFileSync('pkg-config', ['--cflags', 'libdpdk'], { encoding: 'utf8' }).trim().split(/\s+/).filter(Boolean);
    const libs = execFileSync('pkg-config', ['--libs', 'libdpdk'], { encoding: 'utf8' }).trim().split(/\s+/).filter(Boolean);
    execFileSync('gcc', ['--version'], { stdio: 'ignore' });
    return { cflags, libs };
  } catch {
    return undefined;
  }
}
const flags = dpdkFlags();

/** A hugetlbfs mount with free pages (.ci/run makes one as root): DPDK's dynamic memory needs one. */
const hugeMount = ((): string | undefined => {
  const info = hugepageInfo();
  return info.mounts.find((m) => info.sizes.some((s) => s.pageSize === m.pageSize && s.free >= 16))?.path;
})();

/** Build the DPDK peer into a fresh temp dir (removed after the test). */
function buildPeer(): { dir: string; bin: string } {
  const dir = mkdtempSync(join(tmpdir(), 'mp-dpdk-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const bin = join(dir, 'peer');
  execFileSync('gcc', ['-O2', '-Wall', ...flags!.cflags, join(import.meta.dirname, 'dpdk/peer.c'), ...flags!.libs, '-o', bin]);
  return { dir, bin };
}

/** The DPDK peer: a line-oriented child. */
class DpdkPeer {
  readonly child: ChildProcessWithoutNullStreams;
  readonly lines: string[] = [];
  private waiters: Array<{ re: RegExp; resolve: (l: string) => void }> = [];
  constructor(bin: string, args: string[]) {
    this.child = spawn(bin, args, { stdio: 'pipe' });
    const take = (l: string): void => {
      this.lines.push(l);
      for (let i = this.waiters.length - 1; i >= 0; i--) {
        if (this.waiters[i]!.re.test(l)) this.waiters.splice(i, 1)[0]!.resolve(l);
      }
    };
    createInterface({ input: this.child.stdout }).on('line', take);
    createInterface({ input: this.child.stderr }).on('line', (l) => this.lines.push(`[stderr] ${l}`));
  }
  /** The first line (seen or future) matching re. */
  wait(re: RegExp, ms = 15_000): Promise<string> {
    const seen = this.lines.find((l) => re.test(l));
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`DPDK peer: no line matching ${re} in ${ms} ms:\n${this.lines.join('\n')}`)), ms);
      this.waiters.push({ re, resolve: (l) => (clearTimeout(t), resolve(l)) });
    });
  }
  async cmd(line: string, re: RegExp): Promise<string> {
    const before = this.lines.length;
    this.child.stdin.write(`${line}\n`);
    for (;;) {
      const l = await this.wait(re);
      if (this.lines.indexOf(l) >= before) return l;
      this.lines.splice(this.lines.indexOf(l), 1, `(seen) ${l}`);
    }
  }
}

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const c of cleanups.splice(0).reverse()) c();
});

describe.skipIf(!flags)(`DPDK 22.11 interop${flags ? '' : ' (skipped: libdpdk not found by pkg-config — apt-get install dpdk-dev libdpdk-dev)'}`, () => {
  it('an @mp secondary and a real DPDK primary exchange messages, requests, replies and fds', async () => {
    const { bin } = buildPeer();
    const prefix = uniquePrefix('dpdk');
    const peer = new DpdkPeer(bin, ['-l', '0', '--no-huge', '-m', '64', '--no-pci', `--file-prefix=${prefix}`, '--log-level=lib.eal:warning']);
    const agents: Agent[] = [];
    cleanups.push(() => {
      peer.child.kill('SIGKILL');
      for (const a of agents) a.child.kill('SIGKILL');
      rmSync(`/var/run/dpdk/${prefix}`, { recursive: true, force: true });
    });
    const ready = await peer.wait(/^READY /);
    const runtimeDir = ready.slice('READY '.length);

    // The C compiler's struct rte_mp_msg is layout.ts's (shifted by mp_msg_internal's int type).
    const sizes = (await peer.cmd('sizes', /^SIZES /)).split(' ').slice(1).map(Number);
    expect(sizes).toEqual([WIRE.sizeofRteMpMsg, WIRE.name - 4, WIRE.lenParam - 4, WIRE.numFds - 4, WIRE.param - 4, WIRE.fds - 4]);

    const a = spawnAgent(AGENT);
    const b = spawnAgent(AGENT);
    agents.push(a, b);
    for (const x of [a, b]) {
      await x.call('start', { runtimeDir, procType: 'secondary' });
      await x.call('register', { name: 'mp_echo', mode: 'echo' });
      await x.call('register', { name: 'mp_note', mode: 'record' });
    }

    // @mp → DPDK: request/reply (async and sync), with an fd, and one-way messages.
    expect(await a.call('request', { name: 'dpdk_echo', text: 'hello' })).toMatchObject({ ok: true, nbSent: 1, nbReceived: 1, msgs: [{ text: 'dpdk:hello:' }] });
    expect(await a.call('requestSync', { name: 'dpdk_echo', text: 'sync' })).toMatchObject({ ok: true, msgs: [{ text: 'dpdk:sync:' }] });
    expect(await a.call('request', { name: 'dpdk_echo', text: 'fd', memfdText: 'memfd text from @mp' })).toMatchObject({ msgs: [{ text: 'dpdk:fd:memfd text from @mp' }] });
    // Two at once with one name: DPDK answers without @mp's request id; matched as DPDK does.
    expect(await a.call('twoAtOnce', { name: 'dpdk_echo' })).toEqual(['dpdk:100:', 'dpdk:10:']);
    expect(await a.call('send', { name: 'dpdk_note', text: 'note1' })).toBe(1);
    await peer.wait(/^NOTE note1 num_fds=0 fd= from=/);
    await a.call('send', { name: 'dpdk_note', text: 'note2', memfdText: 'fd for dpdk' });
    await peer.wait(/^NOTE note2 num_fds=1 fd=fd for dpdk/);
    // DPDK semantics for an action it lacks: silence until the timeout (an @mp peer would answer ENOENT).
    expect(await a.call('request', { name: 'dpdk_missing', timeoutMs: 300 })).toMatchObject({ ok: false, code: 'ETIMEDOUT' });

    // DPDK → @mp: rte_mp_request_sync broadcast to both @mp secondaries, rte_mp_sendmsg with and without fd.
    const rep = await peer.cmd('req mp_echo hi', /^REPLY /);
    const [, ret, sent, got] = rep.split(' ');
    expect([ret, sent, got]).toEqual(['0', '2', '2']);
    expect(rep).toContain(`[echo:hi:${a.pid}]`);
    expect(rep).toContain(`[echo:hi:${b.pid}]`);
    expect(await peer.cmd('sendmsg mp_note plain', /^SENT /)).toMatch(/^SENT 0/);
    for (const x of [a, b]) expect(await x.waitEvent((e) => e.event === 'msg' && e.text === 'plain')).toMatchObject({ fdTexts: [], isRequest: false });
    expect(await peer.cmd('sendfd mp_note withfd', /^SENT /)).toMatch(/^SENT 0/);
    for (const x of [a, b]) expect(await x.waitEvent((e) => e.event === 'msg' && e.text === 'withfd')).toMatchObject({ fdTexts: ['withfd'] });

    // The DPDK peer's IPC thread is still alive after all of it (it dies on any malformed datagram).
    expect(await b.call('request', { name: 'dpdk_echo', text: 'still there' })).toMatchObject({ msgs: [{ text: 'dpdk:still there:' }] });
  });

  it.skipIf(!hugeMount)(
    `a DPDK primary with dynamic memory (hugepages${hugeMount ? '' : ' — skipped: no hugetlbfs mount with ≥ 16 free pages; .ci/run makes one as root'}) and @mp secondaries attached: its memory-map syncs (mp_malloc_sync) are answered, so its allocation succeeds and it exits promptly`,
    async () => {
      const { bin } = buildPeer();
      const prefix = uniquePrefix('dpdkm');
      const peer = new DpdkPeer(bin, ['-l', '0', `--huge-dir=${hugeMount}`, '--no-pci', `--file-prefix=${prefix}`, '--log-level=lib.eal:warning']);
      const agents: Agent[] = [];
      cleanups.push(() => {
        peer.child.kill('SIGKILL');
        for (const a of agents) a.child.kill('SIGKILL');
        rmSync(`/var/run/dpdk/${prefix}`, { recursive: true, force: true });
        for (const f of readdirSync(hugeMount!)) if (f.startsWith(prefix)) rmSync(join(hugeMount!, f), { force: true });
      });
      const runtimeDir = (await peer.wait(/^READY /)).slice('READY '.length);
      for (let i = 0; i < 2; i++) {
        const a = spawnAgent(AGENT);
        agents.push(a);
        await a.call('start', { runtimeDir, procType: 'secondary' });
        // Known to the primary (it lists secondaries by their sockets): a round trip proves it.
        expect(await a.call('request', { name: 'dpdk_echo', text: `s${i}` })).toMatchObject({ ok: true, msgs: [{ text: `dpdk:s${i}:` }] });
      }
      // rte_malloc maps new pages and asks every secondary to sync (rte_mp_request_sync, 5 s): a
      // secondary that does not answer makes it roll the allocation back and fail; rte_free asks again.
      const m = await peer.cmd('malloc 8', /^MALLOC /);
      expect(m).toMatch(/^MALLOC ok /);
      const t0 = performance.now();
      peer.child.stdin.write('quit\n');
      const [code] = (await once(peer.child, 'exit')) as [number | null];
      const exitMs = performance.now() - t0;
      expect(code).toBe(0);
      // DPDK's own words when a secondary leaves a sync unanswered (malloc_mp.c, eal_common_proc.c).
      expect(peer.lines.filter((l) => /Fail to recv reply|Not all secondaries|Could not send sync request|failed to synchronize/.test(l))).toEqual([]);
      expect(exitMs).toBeLessThan(4000); // unanswered, each sync waits out 5 s
    },
    60_000,
  );
});
