/**
 * The link of a kernel interface, watched by the process that probed the port (net_af_packet, net_tap):
 * up = IFF_UP and IFF_RUNNING on the interface of the probed ifindex. A change becomes a link event in
 * every process (PortContext.setLink); the interface disappearing (or a new one taking its name) is a
 * link-down naming it. The watch is an unref'd timer: it never keeps the prober alive, and stops itself
 * once the port's entry is freed (the port closed from any process).
 */
import { MpError } from '@mp/memory';
import { log } from '@mp/memory/internal';
import { netBinding } from '../binding.js';
import { PS_FREE, PORT } from '../ethdev/layout.js';
import { PortTable } from '../ethdev/table.js';
import type { PortContext } from './driver.js';

/** How often the prober looks at the interface, ms. */
export const LINK_POLL_MS = 50;
/** The speed reported while up (veth and tap report none we could trust). */
export const LINK_SPEED_MBPS = 10_000;

/**
 * Why an interface is not usable now, or undefined when it is up and running. The state read is never
 * a change half made: when the flags say not up and running, ifState reads them again after waiting
 * for RTNL (a link set down is never taken for one without carrier, nor a deleted one for one down).
 */
export function ifDown(iface: string, ifindex: number, fd: number): string | undefined {
  try {
    const s = netBinding.ifState(iface, fd);
    if (s.ifindex !== ifindex) return `interface ${iface} was replaced (ifindex ${ifindex} → ${s.ifindex})`;
    if (!s.up) return `interface ${iface} is down`;
    if (!s.running) return `interface ${iface} has no carrier`;
    return undefined;
  } catch (err) {
    if ((err as { code?: string }).code === 'ENODEV') return `interface ${iface} is gone`;
    return `interface ${iface}: ${(err as Error).message}`;
  }
}

/**
 * Watch `iface` for the port of `ctx` (in the prober): writes `upWord` (1 up, 0 down) in the driver
 * words and announces changes. `onGone` runs once the port's entry is freed. Returns the stop function.
 */
export function watchLink(ctx: PortContext, upWord: number, iface: string, ifindex: number, fd: () => number, onGone: () => void): () => void {
  const t = PortTable.get(false);
  const gen = t.u32[t.w(ctx.id, PORT.portGen)]!;
  const check = (): void => {
    if (t.state(ctx.id) === PS_FREE || t.u32[t.w(ctx.id, PORT.portGen)] !== gen) {
      stop();
      onGone();
      return;
    }
    const why = ifDown(iface, ifindex, fd());
    const up = why === undefined;
    if ((Atomics.load(ctx.words, upWord) === 1) === up) return;
    Atomics.store(ctx.words, upWord, up ? 1 : 0);
    log('info', 'ETHDEV', `port ${ctx.id} ('${ctx.name}'): ${why ?? `interface ${iface} is up`}`);
    ctx.setLink(up, up ? LINK_SPEED_MBPS : 0, why);
  };
  const timer = setInterval(check, LINK_POLL_MS);
  timer.unref();
  const stop = (): void => clearInterval(timer);
  // The first state now (probe runs under the table lock; setLink only writes the entry and sends).
  const why = ifDown(iface, ifindex, fd());
  Atomics.store(ctx.words, upWord, why === undefined ? 1 : 0);
  ctx.setLink(why === undefined, why === undefined ? LINK_SPEED_MBPS : 0, why);
  return stop;
}

/** ENODEV naming the interface (probe of an unknown one). */
export function noSuchIface(driver: string, iface: string, cause: unknown): MpError {
  return new MpError('ENODEV', `${driver}: no interface '${iface}' in this network namespace`, { cause });
}
