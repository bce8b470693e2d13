/**
 * Test fixtures every `*.mp.test.ts` uses: agents (spawn-a-secondary, see agent-host.ts), unique group
 * prefixes and their cleanup, network namespaces.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect } from 'vitest';

export { Agent, spawnAgent } from './agent-host.js';
export type { Reply, AgentEvent, AgentOptions } from './agent-host.js';
import { Agent } from './agent-host.js';
import type { AgentOptions } from './agent-host.js';

export { createNetns, netnsUnavailable } from './netns.js';
export type { Netns } from './netns.js';
import { createNetns } from './netns.js';
import type { Netns } from './netns.js';

/** A namespace maker for one test file: every namespace it made is deleted after each test. */
export function useNetns(): (tag?: string) => Netns {
  const live: Netns[] = [];
  afterEach(() => {
    for (const ns of live.splice(0)) ns.del();
  });
  return (tag) => {
    const ns = createNetns(tag);
    live.push(ns);
    return ns;
  };
}

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

/** What `fn` throws, or undefined when it returns (for asserting on the error's class and message). */
export function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  return undefined;
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
  /** Spawner of the secondaries when it is not `spawn`'s (e.g. outside the primary's network namespace). */
  spawnSecondary?: (env?: NodeJS.ProcessEnv) => Agent;
  /** More parameters of every process's `init` op (e.g. `{ ipcOpts }`). */
  params?: Record<string, unknown>;
  /** More parameters of secondary i's `init` op, over {@link params}. */
  secondaryParams?: Array<Record<string, unknown>>;
  /**
   * Run on each process right after its `init`, before the next one starts (index -1: the primary),
   * e.g. to create a pool in the primary and look it up in each secondary.
   */
  ready?: (a: Agent, index: number) => Promise<unknown>;
}

/**
 * Start a group the way every multi-process test does: a primary agent, then `n` secondaries, each
 * answering the `init` op with `{ args, ...params }` (the fixture calls `init(args)` of @mp/eal), one
 * after the other (each secondary's `ready` done before the next starts). `spawn` is the file's
 * {@link useAgents} spawner, so every agent is killed after the test.
 */
export async function startGroup(
  spawn: (env?: NodeJS.ProcessEnv) => Agent,
  n: number,
  o: StartGroupOptions = {},
): Promise<StartedGroup> {
  const prefix = o.prefix ?? uniquePrefix(o.tag ?? 'g');
  const common = [`--file-prefix=${prefix}`, ...(o.args ?? ['--no-huge'])];
  const p = spawn(o.primaryEnv ?? {});
  const primaryInit = await p.call('init', { ...o.params, args: [...common, '--proc-type=primary', ...(o.primaryArgs ?? [])] });
  await o.ready?.(p, -1);
  const s: Agent[] = [];
  for (let i = 0; i < n; i++) {
    const a = (o.spawnSecondary ?? spawn)(o.secondaryEnv?.[i] ?? {});
    s.push(a);
    await a.call('init', { ...o.params, ...o.secondaryParams?.[i], args: [...common, '--proc-type=secondary', ...(o.secondaryArgs ?? [])] });
    await o.ready?.(a, i);
  }
  return { prefix, p, s, primaryInit };
}
