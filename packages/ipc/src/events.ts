/**
 * Group events over IPC (DESIGN §2 item 5): the primary forwards its group events to every
 * secondary as `mp_eal_event` messages, and each process surfaces what it receives on its Eal
 * instance (`eal().on('proc-exit', …)`) through `Eal.surface`, which emits an event that arrives both
 * ways (@mp/eal's own table watch sees joins and deaths too) only once.
 */
import type { Eal, ProcessInfo } from '@mp/eal';
import { MpError } from '@mp/memory';
import { log } from '@mp/memory/internal';
import type { Channel } from './channel.js';
import { MP_MAX_PARAM_LEN } from './layout.js';

/** The action name of forwarded events (a valid DPDK action name; sent only inside @mp groups). */
export const EVENT_ACTION = 'mp_eal_event';
const MAX_PARAM = MP_MAX_PARAM_LEN;

function encodeEvent(event: string, args: unknown[]): Uint8Array {
  let json = JSON.stringify({ e: event, a: args });
  if (Buffer.byteLength(json) > MAX_PARAM && (event === 'proc-join' || event === 'proc-exit')) {
    // A long lcore list does not fit in 256 bytes: forward the rest.
    json = JSON.stringify({ e: event, a: args.map((x) => (typeof x === 'object' && x !== null ? { ...x, lcores: [] } : x)) });
  }
  const b = Buffer.from(json, 'utf8');
  if (b.byteLength > MAX_PARAM) throw new MpError('E2BIG', `event '${event}' is ${b.byteLength} bytes as JSON (at most ${MAX_PARAM})`);
  return new Uint8Array(b);
}

/** Broadcast one event to every secondary (the primary's side). Returns how many it reached. */
export function forward(ch: Channel, event: string, args: unknown[]): number {
  return ch.sendMsg({ name: EVENT_ACTION, param: encodeEvent(event, args) });
}

/** Wire a channel to its process's Eal: the primary forwards, every process surfaces. */
export function attachEal(ch: Channel, e: Eal): void {
  ch.internalAction(EVENT_ACTION, (msg) => {
    let ev: { e?: unknown; a?: unknown };
    try {
      ev = JSON.parse(Buffer.from(msg.param).toString('utf8')) as { e?: unknown; a?: unknown };
    } catch {
      log('warning', 'IPC', `a forwarded event was not JSON: dropped`);
      return;
    }
    if (typeof ev.e !== 'string' || !Array.isArray(ev.a)) return;
    const args = ev.a.map((x: unknown) =>
      typeof x === 'object' && x !== null && 'startTime' in x ? { ...(x as object), startTime: new Date((x as { startTime: string }).startTime) } : x,
    );
    if ((ev.e === 'proc-join' || ev.e === 'proc-exit') && (args[0] as ProcessInfo | undefined)?.pid === process.pid) return;
    e.surface(ev.e, ...args);
  });
  if (e.procType !== 'primary') return;
  const send = (event: string) => (info: ProcessInfo) => {
    if (ch.isClosed) return;
    try {
      forward(ch, event, [info]);
    } catch (err) {
      log('warning', 'IPC', `forwarding ${event}: ${(err as Error).message}`);
    }
  };
  const onJoin = send('proc-join');
  const onExit = send('proc-exit');
  e.on('proc-join', onJoin);
  e.on('proc-exit', onExit);
  ch.beforeClose = () => {
    e.off('proc-join', onJoin);
    e.off('proc-exit', onExit);
    // The primary is leaving: tell the secondaries now, before its pid is even gone.
    forward(ch, 'primary-exit', [process.pid]);
  };
}
