/**
 * Network namespaces for the packet tests: each test makes its own namespaces, veth pairs and taps and
 * deletes them (never the host's interfaces). Needs root and `ip` (iproute2). No vitest here, so benches
 * and scripts import it too (`@mp/test-utils/netns`); `useNetns` (per-test cleanup) lives in index.ts.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';

/** A network namespace this process created. */
export interface Netns {
  /** Its name (`ip netns exec <name> …`). */
  readonly name: string;
  /** Run `cmd args…` inside the namespace; returns stdout. Throws with stderr on a non-zero exit. */
  run(cmd: string, ...args: string[]): string;
  /** `ip link add a type veth peer name b` inside this namespace (or with `b` in `peerNs`), both up. */
  veth(a: string, b: string, peerNs?: Netns): void;
  /** An IFF_MULTI_QUEUE tap `name` inside this namespace, up. */
  tap(name: string): void;
  /** Set a link up or down. */
  link(name: string, up: boolean): void;
  /** Delete the namespace (and every link in it). Idempotent. */
  del(): void;
}

/** Why namespace tests cannot run here, or undefined when they can. */
export function netnsUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root';
  if (!existsSync('/usr/sbin/ip') && !existsSync('/sbin/ip') && !existsSync('/usr/bin/ip')) return 'needs iproute2 (ip)';
  return undefined;
}

function ip(...args: string[]): string {
  return execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Create a namespace named `mp<tag><pid><random>` with `lo` up. */
export function createNetns(tag = 'ns'): Netns {
  const name = `mp${tag}${process.pid}${randomBytes(3).toString('hex')}`;
  ip('netns', 'add', name);
  let gone = false;
  const ns: Netns = {
    name,
    run: (cmd, ...args) => ip('netns', 'exec', name, cmd, ...args),
    veth(a, b, peerNs) {
      ip('-n', name, 'link', 'add', a, 'type', 'veth', 'peer', 'name', b, ...(peerNs ? ['netns', peerNs.name] : []));
      ip('-n', name, 'link', 'set', a, 'up');
      ip('-n', peerNs ? peerNs.name : name, 'link', 'set', b, 'up');
    },
    tap(tapName) {
      ip('-n', name, 'tuntap', 'add', 'mode', 'tap', 'multi_queue', 'name', tapName);
      ip('-n', name, 'link', 'set', tapName, 'up');
    },
    link(linkName, up) {
      ip('-n', name, 'link', 'set', linkName, up ? 'up' : 'down');
    },
    del() {
      if (gone) return;
      gone = true;
      try {
        ip('netns', 'del', name);
      } catch {
        // already gone
      }
    },
  };
  try {
    ip('-n', name, 'link', 'set', 'lo', 'up');
  } catch (err) {
    ns.del();
    throw err;
  }
  return ns;
}
