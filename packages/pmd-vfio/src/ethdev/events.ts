/**
 * Link events in every process (DPDK raises RTE_ETH_EVENT_INTR_LSC in the primary only). The process
 * that saw the change — a driver's control plane, in the primary or a secondary — announces it: the
 * primary forwards it over @mp/ipc to every secondary (`forwardEvent`), a secondary asks the primary
 * to (`mp_ethdev_link`). Each process surfaces it once on its Eal: `eal().on('link-up' | 'link-down')`.
 */
import { eal } from '@mp/eal';
import * as ipc from '@mp/ipc';
import { log } from '@mp/memory/internal';
import { pmdState } from '../state.js';

/** What a `link-up` / `link-down` event carries. */
export interface LinkEvent {
  port: number;
  name: string;
  status: 'up' | 'down';
  speed: number;
  /** Why the link went down (a memif peer's disconnect reason, …). */
  reason?: string;
}

export const LINK_ACTION = 'mp_ethdev_link';
const once = pmdState.once;

/** Make sure this process can forward link events (the primary) and receives them (everyone). */
export function wireLinkEvents(): void {
  if (once.linkEvents) return;
  once.linkEvents = true;
  ipc.start();
  if (eal().procType !== 'primary') return;
  ipc.actionRegister(LINK_ACTION, (msg) => {
    try {
      const ev = JSON.parse(Buffer.from(msg.param).toString('utf8')) as LinkEvent;
      publish(ev);
    } catch (err) {
      log('warning', 'ETHDEV', `a link event from a secondary was not JSON: ${(err as Error).message}`);
    }
  });
}

function publish(ev: LinkEvent): void {
  const name = ev.status === 'up' ? 'link-up' : 'link-down';
  eal().surface(name, ev);
  try {
    ipc.forwardEvent(name, ev);
  } catch (err) {
    log('warning', 'ETHDEV', `forwarding ${name} of port ${ev.port}: ${(err as Error).message}`);
  }
}

/** Announce a link change to the whole group. */
export function announceLink(ev: LinkEvent): void {
  try {
    wireLinkEvents();
    if (eal().procType === 'primary') {
      publish(ev);
    } else {
      eal().surface(ev.status === 'up' ? 'link-up' : 'link-down', ev);
      ipc.sendMsg({ name: LINK_ACTION, param: new Uint8Array(Buffer.from(JSON.stringify(ev))) });
    }
  } catch (err) {
    log('warning', 'ETHDEV', `announcing the link of port ${ev.port}: ${(err as Error).message}`);
  }
}
