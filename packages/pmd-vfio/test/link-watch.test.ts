/**
 * The link watch of net_af_packet / net_tap reads the interface without RTNL (SIOCGIFFLAGS), so it can
 * meet a change the kernel makes under RTNL half done: `ip link set down` clears netif_running (hiding
 * IFF_RUNNING) before IFF_UP, `ip link del` drops a veth's carrier before unlisting it. ifDown must
 * still name what happened — never "no carrier" for a link set down or deleted. Before ifState waited
 * for RTNL, 2–8 % of these reads did (and tap.mp's link-down test failed now and then).
 */
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { netnsUnavailable, useNetns } from '@mp/test-utils';

const RACE = join(import.meta.dirname, 'fixtures/if-state-race.mjs');
const netns = useNetns();
const why = netnsUnavailable();

describe.skipIf(why !== undefined)(`ifDown against a link changing under it${why ? ` — skipped: ${why}` : ''}`, () => {
  for (const [mode, reason] of [['down', 'interface vb is down'], ['del', 'interface vb is gone']] as const) {
    it(`100 times, a reader spinning on ifDown while \`ip\` ${mode === 'down' ? 'sets the veth down' : 'deletes the veth'} sees only "${reason}"`, () => {
      const ns = netns('lw');
      expect(JSON.parse(ns.run(process.execPath, RACE, mode, '100'))).toEqual({ [reason]: 100 });
    }, 120_000);
  }
});
