/**
 * @mp/ipc's telemetry commands (DPDK has none for rte_mp): `/mp/ipc/info` — this process's socket,
 * inbox, registered actions and pending requests — and `/mp/ipc/stats`, its message counters. They
 * answer null while the channel has not started; looking never starts it.
 */
import { telemetry } from '@mp/eal';
import type { Channel } from './channel.js';

export function registerIpcTelemetry(current: () => Channel | undefined): void {
  const open = (): Channel => {
    const ch = current();
    if (ch === undefined || ch.isClosed) throw new Error('ipc not started');
    return ch;
  };
  telemetry.register('/mp/ipc/info', 'IPC socket, inbox, actions and pending requests of this process. No parameters', () => {
    const ch = open();
    return { socket: ch.path, proc_type: ch.procType, has_inbox: ch.hasInbox, actions: ch.actionNames, pending_requests: ch.pendingRequests };
  });
  telemetry.register('/mp/ipc/stats', 'IPC message counters of this process. No parameters', () => {
    const s = open().stats;
    return { sent_inbox: s.inboxSends, sent_socket: s.socketSends, wakes: s.wakes, received_inbox: s.inboxReceived };
  });
}
