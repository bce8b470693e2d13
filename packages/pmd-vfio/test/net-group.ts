/**
 * What the kernel-interface tests share: af_packet and tap a group whose every process runs inside one
 * network namespace (IPv6 off there: no stray frames) with the net agent's pool; those and af_xdp the
 * waits on events (`after`, `until`).
 */
import { startGroup } from '@mp/test-utils';
import type { Agent, AgentEvent, Netns } from '@mp/test-utils';

/** A primary (with a pool of 16383 mbufs) and `nSec` secondaries (attached to it), all inside `ns`. */
export async function netGroup(
  agent: (env?: NodeJS.ProcessEnv, args?: string[], opts?: { netns?: string }) => Agent,
  ns: Netns,
  tag: string,
  nSec: number,
): Promise<{ p: Agent; s: Agent[] }> {
  ns.run('sysctl', '-qw', 'net.ipv6.conf.all.disable_ipv6=1');
  ns.run('sysctl', '-qw', 'net.ipv6.conf.default.disable_ipv6=1');
  const { p, s } = await startGroup((env) => agent(env, [], { netns: ns.name }), nSec, {
    tag,
    primaryArgs: ['-m', '256'],
    ready: (x, i) => x.call('pool', i < 0 ? { create: true, n: 16383 } : {}),
  });
  return { p, s };
}

/** The next event of `x` matching `pred` after the first `mark` events (one seen earlier does not count). */
export function after(x: Agent, mark: number, pred: (e: AgentEvent) => boolean): Promise<AgentEvent> {
  return x.waitEvent((e) => x.events.indexOf(e) >= mark && pred(e));
}

/** Poll `f` until it holds; past `ms`, fail naming `what`. */
export async function until(f: () => Promise<boolean>, what: string | (() => Promise<string>), ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await f())) if (Date.now() > deadline) throw new Error(`timed out waiting for ${typeof what === 'string' ? what : await what()}`);
}
