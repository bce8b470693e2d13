/**
 * "Two hosts" for the tests: two network namespaces A and B joined by a veth pair (10.77.0.1 ↔
 * 10.77.0.2), each with its own clustered nats-server; with `three: true` a second server in B on
 * another port (a 3-server cluster, what the fault tests need for a quorum after a SIGKILL).
 */
import type { Netns } from '@mp/test-utils/netns';
import { startCluster } from './nats-servers.js';
import type { NatsServer } from './nats-servers.js';

export const IP_A = '10.77.0.1';
export const IP_B = '10.77.0.2';

export interface Hosts {
  a: Netns;
  b: Netns;
  servers: NatsServer[];
  /** Every client URL (all reachable from both namespaces over the veth). */
  urls: string[];
  /** URLs with the namespace's own server(s) first. */
  urlsA: string[];
  urlsB: string[];
}

export async function twoHosts(makeNs: (tag?: string) => Netns, { three = false } = {}): Promise<Hosts> {
  const a = makeNs('na');
  const b = makeNs('nb');
  a.veth('mpva', 'mpvb', b);
  a.run('ip', 'addr', 'add', `${IP_A}/24`, 'dev', 'mpva');
  b.run('ip', 'addr', 'add', `${IP_B}/24`, 'dev', 'mpvb');
  const specs = [
    { name: 'a1', host: IP_A, port: 4222, routePort: 6222, netns: a.name },
    { name: 'b1', host: IP_B, port: 4222, routePort: 6222, netns: b.name },
  ];
  if (three) specs.push({ name: 'b2', host: IP_B, port: 4223, routePort: 6223, netns: b.name });
  const servers = await startCluster(specs);
  const urls = servers.map((s) => s.url);
  return {
    a,
    b,
    servers,
    urls,
    urlsA: [...urls.filter((u) => u.includes(IP_A)), ...urls.filter((u) => !u.includes(IP_A))],
    urlsB: [...urls.filter((u) => u.includes(IP_B)), ...urls.filter((u) => !u.includes(IP_B))],
  };
}
