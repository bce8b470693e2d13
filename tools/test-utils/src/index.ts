/**
 * Test fixtures every `*.mp.test.ts` uses: agents (spawn-a-secondary, see agent-host.ts), unique group
 * prefixes and their cleanup, network namespaces.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
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
