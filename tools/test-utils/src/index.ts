/**
 * The spawn-a-secondary fixture every `*.mp.test.ts` uses: a real `node` child running a script that
 * speaks line-delimited JSON — commands on stdin, replies and events on stdout.
 */
import { spawn } from 'node:child_process';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterEach, expect } from 'vitest';

export interface Reply {
  id: number;
  ok: boolean;
  value?: unknown;
  code?: string;
  message?: string;
}

export interface AgentEvent {
  event: string;
  [k: string]: unknown;
}

/** Where an agent runs. */
export interface AgentOptions {
  /** A network namespace name (see {@link createNetns}). */
  netns?: string;
}

export { createNetns, useNetns, netnsUnavailable } from './netns.js';
export type { Netns } from './netns.js';

const created = new Set<string>();

/**
 * A unique file prefix for one test (groups of different tests never meet). It is remembered, so
 * {@link removeCreatedGroups} can delete what its groups leave behind when their processes were killed.
 */
export function uniquePrefix(tag = 't'): string {
  const prefix = `${tag}${process.pid}_${randomBytes(4).toString('hex')}`;
  created.add(prefix);
  return prefix;
}

/** Directories where a group's runtime files or segment files may live. */
function groupDirs(): { runtime: string[]; segments: string[] } {
  const uid = process.getuid?.() ?? 0;
  const runtime = ['/var/run/mp', '/var/run/dpdk', join(tmpdir(), `mp-${uid}`)];
  if (process.env.XDG_RUNTIME_DIR) runtime.push(join(process.env.XDG_RUNTIME_DIR, 'mp'), join(process.env.XDG_RUNTIME_DIR, 'dpdk'));
  const segments = ['/dev/shm'];
  try {
    for (const line of readFileSync('/proc/mounts', 'utf8').split('\n')) {
      const [, path, type] = line.split(' ');
      if (type === 'hugetlbfs' && path) segments.push(path);
    }
  } catch {
    // no /proc
  }
  return { runtime, segments };
}

/**
 * Delete the runtime dir and segment files of group `prefix` (@mp's or DPDK's naming): what a group
 * whose processes were SIGKILLed leaves behind. Only for groups a test made.
 */
export function removeGroupFiles(prefix: string): void {
  const { runtime, segments } = groupDirs();
  for (const dir of runtime) rmSync(join(dir, prefix), { recursive: true, force: true });
  for (const dir of segments) {
    try {
      for (const f of readdirSync(dir)) if (f.startsWith(`${prefix}map_`)) rmSync(join(dir, f), { force: true });
    } catch {
      // not readable
    }
  }
}

/** {@link removeGroupFiles} for every prefix {@link uniquePrefix} handed out in this process. */
export function removeCreatedGroups(): void {
  for (const p of created) removeGroupFiles(p);
  created.clear();
}

export class Agent {
  readonly child: ChildProcessWithoutNullStreams;
  readonly events: AgentEvent[] = [];
  readonly stderr: string[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (r: Reply) => void; reject: (e: Error) => void }>();
  private readonly eventWaiters: Array<{ pred: (e: AgentEvent) => boolean; resolve: (e: AgentEvent) => void }> = [];
  private exitInfo: { code: number | null; signal: NodeJS.Signals | null } | undefined;

  /** `opts.netns`: run the agent inside that network namespace (`ip netns exec`, which keeps the pid). */
  constructor(script: string, args: string[] = [], env: NodeJS.ProcessEnv = {}, opts: AgentOptions = {}) {
    const argv = [script, ...args];
    this.child =
      opts.netns === undefined
        ? spawn(process.execPath, argv, { env: { ...process.env, ...env }, stdio: 'pipe' })
        : spawn('ip', ['netns', 'exec', opts.netns, process.execPath, ...argv], { env: { ...process.env, ...env }, stdio: 'pipe' });
    createInterface({ input: this.child.stdout }).on('line', (line) => this.onLine(line));
    createInterface({ input: this.child.stderr }).on('line', (line) => this.stderr.push(line));
    this.exited = new Promise((resolve) => {
      this.child.on('exit', (code, signal) => {
        this.exitInfo = { code, signal };
        for (const p of this.pending.values()) {
          p.reject(new Error(`agent ${this.pid} exited (${code ?? signal}) before replying; stderr:\n${this.stderr.join('\n')}`));
        }
        this.pending.clear();
        resolve(this.exitInfo);
      });
    });
  }

  get pid(): number {
    return this.child.pid!;
  }

  private onLine(line: string): void {
    let msg: Reply | AgentEvent;
    try {
      msg = JSON.parse(line) as Reply | AgentEvent;
    } catch {
      this.stderr.push(`[stdout] ${line}`);
      return;
    }
    if ('event' in msg) {
      this.events.push(msg);
      for (let i = this.eventWaiters.length - 1; i >= 0; i--) {
        const w = this.eventWaiters[i]!;
        if (w.pred(msg)) {
          this.eventWaiters.splice(i, 1);
          w.resolve(msg);
        }
      }
      return;
    }
    const p = this.pending.get(msg.id);
    if (p) {
      this.pending.delete(msg.id);
      p.resolve(msg);
    }
  }

  /** Send a command; resolve with the whole reply (ok or not). */
  request(op: string, params: Record<string, unknown> = {}, timeoutMs = 30_000): Promise<Reply> {
    if (this.exitInfo) return Promise.reject(new Error(`agent ${this.pid} has exited; stderr:\n${this.stderr.join('\n')}`));
    const id = this.nextId++;
    return new Promise<Reply>((resolve, reject) => {
      const t = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`agent ${this.pid}: '${op}' got no reply in ${timeoutMs} ms; stderr:\n${this.stderr.join('\n')}`));
      }, timeoutMs);
      this.pending.set(id, {
        resolve: (r) => {
          clearTimeout(t);
          resolve(r);
        },
        reject: (e) => {
          clearTimeout(t);
          reject(e);
        },
      });
      this.child.stdin.write(`${JSON.stringify({ id, op, ...params })}\n`);
    });
  }

  /** Send a command that must succeed; resolve with its value. */
  async call<T = unknown>(op: string, params: Record<string, unknown> = {}, timeoutMs?: number): Promise<T> {
    const r = await this.request(op, params, timeoutMs);
    if (!r.ok) throw new Error(`agent ${this.pid}: '${op}' failed: ${r.code} ${r.message}`);
    return r.value as T;
  }

  /** Resolve with the first event (already seen or future) matching `pred`. */
  waitEvent(pred: (e: AgentEvent) => boolean, timeoutMs = 10_000): Promise<AgentEvent> {
    const seen = this.events.find(pred);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const w = { pred, resolve: (e: AgentEvent) => (clearTimeout(t), resolve(e)) };
      const t = setTimeout(() => {
        const i = this.eventWaiters.indexOf(w);
        if (i >= 0) this.eventWaiters.splice(i, 1);
        reject(new Error(`agent ${this.pid}: no matching event in ${timeoutMs} ms; events: ${JSON.stringify(this.events)}`));
      }, timeoutMs);
      this.eventWaiters.push(w);
    });
  }

  kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (!this.exitInfo) this.child.kill(signal);
    return this.exited;
  }

  /** Ask the agent to exit cleanly (stdin closes), then wait. */
  async close(): Promise<void> {
    if (!this.exitInfo) this.child.stdin.end();
    const t = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
    await this.exited;
    clearTimeout(t);
  }
}

/**
 * A spawner of agents running `script` for one test file: every agent it made is SIGKILLed after each
 * test (register once, at the top of the file).
 */
export function useAgents(script: string): (env?: NodeJS.ProcessEnv, args?: string[], opts?: AgentOptions) => Agent {
  const live: Agent[] = [];
  afterEach(async () => {
    await Promise.all(live.splice(0).map((a) => a.kill('SIGKILL')));
  });
  return (env = {}, args = [], opts = {}) => {
    const a = new Agent(script, args, env, opts);
    live.push(a);
    return a;
  };
}

/**
 * The `code` of the MpError `fn` throws, or undefined when it returns. Anything thrown that is not an
 * MpError fails the test.
 */
export function mpErrorCode(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    expect((err as Error).name, String(err)).toBe('MpError');
    return (err as { code: string }).code;
  }
  return undefined;
}

/** Spawn an agent running `script` (a .mjs file speaking the protocol). */
export function spawnAgent(script: string, args: string[] = [], env: NodeJS.ProcessEnv = {}, opts: AgentOptions = {}): Agent {
  return new Agent(script, args, env, opts);
}

/** Files whose names start with `prefix` in `dir` (to prove nothing stale stays behind). */
export function filesWithPrefix(dir: string, prefix: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).filter((f) => f.startsWith(prefix));
}

/** True when `path` exists. */
export function exists(path: string): boolean {
  try {
    statSync(path);
    return true;
  } catch {
    return false;
  }
}

const tempDirs = new Set<string>();

/**
 * A fresh directory `<tmpdir>/mp-<tag>-XXXXXX`, deleted (recursively) when the test file's tests are
 * done — by the per-file setup, also when a test failed.
 */
export function tempDir(tag: string): string {
  const dir = mkdtempSync(join(tmpdir(), `mp-${tag}-`));
  tempDirs.add(dir);
  return dir;
}

/** Delete every {@link tempDir} of this process (the per-file setup calls it after all tests). */
export function removeTempDirs(): void {
  for (const d of tempDirs) rmSync(d, { recursive: true, force: true });
  tempDirs.clear();
}

/** A {@link tempDir} maker whose directories are deleted after each test (register at the top of a file). */
export function useTempDir(tag: string): () => string {
  const mine: string[] = [];
  afterEach(() => {
    for (const d of mine.splice(0)) {
      rmSync(d, { recursive: true, force: true });
      tempDirs.delete(d);
    }
  });
  return () => {
    const d = tempDir(tag);
    mine.push(d);
    return d;
  };
}

/** A primary and its secondaries, all agents that answered `init`. */
export interface StartedGroup {
  prefix: string;
  /** The primary. */
  p: Agent;
  /** The secondaries, in start order. */
  s: Agent[];
  /** The primary's `init` reply value (e.g. `{ runtimeDir }`). */
  primaryInit: unknown;
}

/** Options of {@link startGroup}. */
export interface StartGroupOptions {
  /** File prefix; default a fresh {@link uniquePrefix} of `tag`. */
  prefix?: string;
  /** Tag of the generated prefix (default 'g'). */
  tag?: string;
  /** EAL arguments every process gets after `--file-prefix` (default `['--no-huge']`). */
  args?: string[];
  /** Extra arguments of the primary only (e.g. `['-m', '512']`). */
  primaryArgs?: string[];
  /** Extra arguments of the secondaries only. */
  secondaryArgs?: string[];
  /** Environment of secondary i (e.g. a fault point). */
  secondaryEnv?: NodeJS.ProcessEnv[];
  /** Environment of the primary. */
  primaryEnv?: NodeJS.ProcessEnv;
}

/**
 * Start a group the way every multi-process test does: a primary agent, then `n` secondaries, each
 * answering the `init` op with `{ args }` (the fixture calls `init(args)` of @mp/eal). `spawn` is the
 * file's {@link useAgents} spawner, so every agent is killed after the test.
 */
export async function startGroup(
  spawn: (env?: NodeJS.ProcessEnv) => Agent,
  n: number,
  o: StartGroupOptions = {},
): Promise<StartedGroup> {
  const prefix = o.prefix ?? uniquePrefix(o.tag ?? 'g');
  const common = [`--file-prefix=${prefix}`, ...(o.args ?? ['--no-huge'])];
  const p = spawn(o.primaryEnv ?? {});
  const primaryInit = await p.call('init', { args: [...common, '--proc-type=primary', ...(o.primaryArgs ?? [])] });
  const s: Agent[] = [];
  for (let i = 0; i < n; i++) {
    const a = spawn(o.secondaryEnv?.[i] ?? {});
    await a.call('init', { args: [...common, '--proc-type=secondary', ...(o.secondaryArgs ?? [])] });
    s.push(a);
  }
  return { prefix, p, s, primaryInit };
}
