/**
 * The group's runtime dir: where it is, which names in it belong to the group, and the safe file rules
 * (DESIGN §5, @mp/memory's files.ts) applied to it.
 *
 * - Default places: `/var/run/mp/<prefix>` (root), `$XDG_RUNTIME_DIR/mp/<prefix>`, else
 *   `/tmp/mp-<uid>/<prefix>`. Every component from `/var/run/mp`, `$XDG_RUNTIME_DIR` or `/tmp/mp-<uid>`
 *   down is created by us 0700 or checked (not a link, ours, not group/world writable).
 * - `--runtime-dir` (absolute): the directory itself, and any parent this call had to create, are checked
 *   the same way; parents that exist already are the caller's choice and are not examined.
 * - The group creates, and ever deletes, only the names {@link GROUP_ENTRY} matches; a directory holding
 *   anything else is refused at init (a `--runtime-dir=$HOME` deletes nothing). A directory is removed
 *   only if the group created it, with rmdir.
 */
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { MpError, ensureOwnedDir, fromSystemError, lstatOwned, removeOwned } from '@mp/memory';
import { euid, log } from '@mp/memory/internal';

/** The names a group creates in its runtime dir: its config, @mp/ipc's sockets, telemetry sockets. */
export const GROUP_ENTRY = /^(config|mp_socket(_\d+_[0-9a-f]+)?|dpdk_telemetry\.v2(:\d+)?)$/;
export const CONFIG_NAME = 'config';

/**
 * `os.tmpdir()` on Linux — `$TMPDIR`, `$TMP`, `$TEMP`, else `/tmp`, without a trailing slash — without
 * loading node:os (≈ 0.6 ms of every attach, packages/eal/README.md).
 */
export function tmpDir(): string {
  const p = process.env.TMPDIR || process.env.TMP || process.env.TEMP || '/tmp';
  return p.length > 1 && p.endsWith('/') ? p.slice(0, -1) : p;
}

/** Where a group's runtime dir is and from which component down the group answers for it. */
export interface RuntimeDirPlan {
  dir: string;
  /** The first component checked (and created when missing). */
  from: string;
  /** True for the default places: the directory sits under @mp's own base, so the group owns it. */
  managed: boolean;
}

/** @see RuntimeDirPlan */
export function runtimeDirPlan(prefix: string, explicit: string | undefined): RuntimeDirPlan {
  if (explicit !== undefined) return { dir: explicit, from: explicit, managed: false };
  const uid = euid();
  if (uid === 0) return { dir: join('/var/run/mp', prefix), from: '/var/run/mp', managed: true };
  const xdg = process.env.XDG_RUNTIME_DIR;
  if (xdg && xdg.startsWith('/')) return { dir: join(xdg, 'mp', prefix), from: xdg, managed: true };
  const base = join(tmpDir(), `mp-${uid}`);
  return { dir: join(base, prefix), from: base, managed: true };
}

/**
 * Create (primary) or check (secondary) the runtime dir. Returns true when this call created the
 * directory itself.
 *
 * @throws {MpError} EPERM — a component is a link, not ours, group/world writable, or not accessible
 * @throws {MpError} ENOENT — `create` is false and the directory does not exist
 */
export function prepareRuntimeDir(plan: RuntimeDirPlan, create: boolean): boolean {
  let from = plan.from;
  if (!plan.managed && create) {
    // Parents of an explicit dir that exist are the caller's; the ones we create are ours and checked.
    while (from !== '/' && lstatOwnedOrMissing(dirname(from))) from = dirname(from);
  }
  const created = ensureOwnedDir(plan.dir, from, create);
  return created.includes(plan.dir);
}

/** True when `path` does not exist (a component to create); false when it exists, whatever it is. */
function lstatOwnedOrMissing(path: string): boolean {
  try {
    return lstatOwned(path, 'dir') === undefined;
  } catch {
    return false;
  }
}

/**
 * Refuse a runtime dir holding anything the group did not make: names {@link GROUP_ENTRY} does not
 * match (EINVAL, named), or group names that are links or not ours (EPERM, named with their owner).
 *
 * @throws {MpError} EINVAL — foreign entries; EPERM — a group name that is not ours; ENOENT — no such dir
 */
export function checkEntries(dir: string): void {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (err) {
    throw fromSystemError(err, `reading runtime dir ${dir}`);
  }
  const foreign = names.filter((n) => !GROUP_ENTRY.test(n));
  if (foreign.length > 0) {
    const shown = foreign.slice(0, 5).map((n) => `'${n}'`).join(', ');
    throw new MpError(
      'EINVAL',
      `runtime dir ${dir} holds entries that are not a group's (${shown}${foreign.length > 5 ? `, and ${foreign.length - 5} more` : ''}); ` +
        `a group deletes what it creates there, so it needs a directory of its own (an empty or new --runtime-dir)`,
    );
  }
  for (const n of names) lstatOwned(join(dir, n), n === CONFIG_NAME ? 'file' : 'socket');
}

/**
 * Remove the group's names from its runtime dir (never anything else, never recursively), the config
 * last unless `keepConfig`, then the directory itself when `removeDir` (rmdir: only if empty).
 */
export function removeEntries(dir: string, o: { keepConfig: boolean; removeDir: boolean }): void {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  for (const n of names) {
    if (n === CONFIG_NAME || !GROUP_ENTRY.test(n)) continue;
    const r = removeOwned(join(dir, n), 'socket');
    if (r.why !== undefined) log('warning', 'EAL', `left ${r.why}`);
  }
  if (o.keepConfig) return;
  const r = removeOwned(join(dir, CONFIG_NAME), 'file');
  if (r.why !== undefined) log('warning', 'EAL', `left ${r.why}`);
  if (o.removeDir) removeOwned(dir, 'dir');
}
