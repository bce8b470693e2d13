/**
 * Warnings a peer can provoke (malformed datagrams, unknown actions, lost batches): the first few of
 * each kind, then one in 1000 — a flood must not flood stderr. The counts are process-wide (one
 * slot shared by an ESM and a CJS copy of @mp/ipc in one process).
 */
import { log, processSlot } from '@mp/memory/internal';

const counts = (): Map<string, number> => processSlot('@mp/ipc/warnings', '@mp/ipc', 1, () => new Map<string, number>());

/** Log `message` unless this kind (quoted names and numbers folded) was logged often already. */
export function warnLimited(kind: string, message: string): void {
  const warnCounts = counts();
  const key = kind.replace(/'[^']*'/g, "'…'").replace(/-?\d+/g, 'N');
  const n = (warnCounts.get(key) ?? 0) + 1;
  if (warnCounts.size > 1000) warnCounts.clear();
  warnCounts.set(key, n);
  if (n <= 5 || n % 1000 === 0) log('warning', 'IPC', `${message}${n > 5 ? ` (${n} so far)` : ''}`);
}

/** A datagram dropped (rate-limited warning). */
export function logDrop(reason: string, detail: string): void {
  warnLimited(`drop ${reason}`, `dropped a datagram: ${reason}${detail}`);
}
