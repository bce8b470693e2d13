/**
 * bridgeActions: rte_mp requests and messages between groups on different hosts, over NATS core
 * request/reply (no JetStream: a request is answered now or not at all, as in rte_mp).
 *
 * Subjects (`<p>` = `subjectPrefix`, default `mp.ipc`; an action name travels hex-encoded, so every
 * rte_mp name is a valid subject token):
 * ```
 * | subject              | who publishes             | payload / headers                                  |
 * | <p>.presence         | every bridge, every 1 s   | JSON { group, pid, names[] }; { group, bye: true } at close |
 * | <p>.hello            | a starting bridge         | (empty) — everyone answers by announcing at once    |
 * | <p>.act.<hex(name)>  | a requester               | param bytes; Mp-Group, Mp-Kind (req|msg), Mp-Timeout-Ms |
 * | (reply inbox)        | each serving bridge       | reply param; Mp-Group, Mp-Pid, Mp-Status (ok|error), Mp-Code, Mp-Message |
 * ```
 * A serving bridge hands each request to its own group with @mp/ipc (`request(msg, { to })`, by default
 * to its own process, whose handlers answer) and sends back what came: the reply, or the error reply
 * (the handler threw: `MpIpcRemoteError` there, {@link MpBridgeRemoteError} here), or the local error
 * (`ENOENT` no such action, `ETIMEDOUT`).
 * `nbSent` is the number of other groups that announced the action within the last `forgetMs` (so a
 * group that died a moment ago still counts, and its share of the request ends at the timeout, as a
 * silent DPDK peer does).
 */
import { EventEmitter } from 'node:events';
import { hostname } from 'node:os';
import { eal } from '@mp/eal';
import * as ipc from '@mp/ipc';
import type { MpMsg, MpReply, ReceivedMsg } from '@mp/ipc';
import { MpIpcRemoteError } from '@mp/ipc';
import { MpError } from '@mp/memory';
import { createInbox, headers } from '@nats-io/transport-node';
import type { Msg, NatsConnection, Subscription } from '@nats-io/transport-node';
import { intOption, nameOption, openConnection } from './connection.js';
import type { BridgeStatus, ConnectionOptions } from './connection.js';

const MAX_NAME = 63;
const MAX_PARAM = 256;

/** Options of {@link bridgeActions}. */
export interface ActionBridgeOptions extends ConnectionOptions {
  /** This group's name on the bus; default `<hostname>/<file prefix>`. Must be unique among the bridged groups. */
  group?: string;
  /** Subject prefix of the bus; default `mp.ipc`. Bridges with different prefixes never meet. */
  subjectPrefix?: string;
  /** Local destination of incoming requests and messages (a pid of this group); default this process. */
  to?: number;
  /** Presence announcement period in ms; default 1000. A group silent for 3 periods is forgotten. */
  announceMs?: number;
}

/** An error reply from a handler in another group: @mp/ipc's remote error, plus the group's name. */
export class MpBridgeRemoteError extends MpIpcRemoteError {
  /** The group (bus name) whose handler failed. */
  readonly group: string;
  constructor(action: string, group: string, peerPid: number, remoteCode: string, remoteMessage: string) {
    super(action, peerPid, remoteCode, remoteMessage);
    Object.defineProperty(this, 'name', { value: 'MpBridgeRemoteError' });
    this.group = group;
  }
}

/** Events of an action bridge. */
export interface ActionBridgeEvents {
  status: [BridgeStatus];
  /** A group appeared on the bus or left it (bye, or silent for 3 periods). */
  peer: [{ group: string; up: boolean; names: string[] }];
}

const hex = (s: string): string => Buffer.from(s, 'utf8').toString('hex');
const enc = new TextEncoder();

function checkMsg(msg: MpMsg, names: Set<string>): void {
  if (msg === null || typeof msg !== 'object' || typeof msg.name !== 'string') throw new MpError('EINVAL', 'a message needs a string name');
  if (!names.has(msg.name)) throw new MpError('EINVAL', `action '${msg.name}' is not bridged here (bridged: ${[...names].join(', ')})`);
  if (msg.fds !== undefined && msg.fds.length > 0) {
    throw new MpError('ENOTSUP', `action '${msg.name}': file descriptors cannot cross hosts (${msg.fds.length} given)`);
  }
  if (msg.param !== undefined && !(msg.param instanceof Uint8Array)) throw new MpError('EINVAL', `action '${msg.name}': param must be a Uint8Array`);
  if ((msg.param?.length ?? 0) > MAX_PARAM) throw new MpError('E2BIG', `action '${msg.name}': param of ${msg.param!.length} bytes (at most ${MAX_PARAM})`);
}

function validName(name: unknown): string {
  if (typeof name !== 'string' || name.length === 0 || name.includes('/') || name.includes('..') || /[\x00-\x1f\x7f]/.test(name)) {
    throw new MpError('EINVAL', `action name ${JSON.stringify(name)} is empty or has '/', '..' or control characters`);
  }
  if (enc.encode(name).length > MAX_NAME) throw new MpError('E2BIG', `action name '${name}' is over ${MAX_NAME} bytes`);
  return name;
}

/** A running action bridge (see {@link bridgeActions}). */
export class ActionBridge extends EventEmitter<ActionBridgeEvents> {
  private readonly peersSeen = new Map<string, { names: Set<string>; seen: number; pid: number }>();
  private readonly subs: Subscription[] = [];
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  /** @internal use {@link bridgeActions} */
  constructor(
    private readonly nc: NatsConnection,
    readonly names: ReadonlySet<string>,
    readonly group: string,
    private readonly prefix: string,
    private readonly to: number,
    private readonly announceMs: number,
  ) {
    super();
  }

  /** @internal */
  async start(): Promise<void> {
    const p = this.prefix;
    this.subs.push(this.nc.subscribe(`${p}.presence`, { callback: (_e, m) => this.onPresence(m) }));
    this.subs.push(this.nc.subscribe(`${p}.hello`, { callback: () => this.announce() }));
    for (const name of this.names) {
      this.subs.push(this.nc.subscribe(`${p}.act.${hex(name)}`, { callback: (_e, m) => void this.onAction(name, m) }));
    }
    await this.nc.flush();
    this.announce();
    this.nc.publish(`${p}.hello`);
    // Wait for the announcements the hello triggered (one round trip).
    await this.nc.flush();
    await new Promise((r) => setTimeout(r, 20));
    this.timer = setInterval(() => {
      this.announce();
      this.expire();
    }, this.announceMs);
    this.timer.unref();
  }

  private announce(): void {
    if (this.closed) return;
    this.nc.publish(`${this.prefix}.presence`, JSON.stringify({ group: this.group, pid: process.pid, names: [...this.names] }));
  }

  private expire(): void {
    const limit = Date.now() - 3 * this.announceMs;
    for (const [g, p] of this.peersSeen) {
      if (p.seen < limit) {
        this.peersSeen.delete(g);
        this.emit('peer', { group: g, up: false, names: [...p.names] });
      }
    }
  }

  private onPresence(m: Msg): void {
    let a: { group?: unknown; pid?: unknown; names?: unknown; bye?: unknown };
    try {
      a = m.json();
    } catch {
      return;
    }
    if (typeof a.group !== 'string' || a.group === this.group) return;
    if (a.bye === true) {
      const p = this.peersSeen.get(a.group);
      if (p) {
        this.peersSeen.delete(a.group);
        this.emit('peer', { group: a.group, up: false, names: [...p.names] });
      }
      return;
    }
    if (!Array.isArray(a.names)) return;
    const known = this.peersSeen.get(a.group);
    const names = new Set(a.names.filter((n): n is string => typeof n === 'string'));
    this.peersSeen.set(a.group, { names, seen: Date.now(), pid: typeof a.pid === 'number' ? a.pid : -1 });
    if (!known) this.emit('peer', { group: a.group, up: true, names: [...names] });
  }

  /** The other groups that announced `name` (bridged it) within the last 3 periods. */
  peers(name: string): string[] {
    const limit = Date.now() - 3 * this.announceMs;
    return [...this.peersSeen].filter(([, p]) => p.seen >= limit && p.names.has(name)).map(([g]) => g);
  }

  /** A request or message from another group: hand it to this group's ipc, answer with what came. */
  private async onAction(name: string, m: Msg): Promise<void> {
    const from = m.headers?.get('Mp-Group');
    if (from === this.group) return;
    const kind = m.headers?.get('Mp-Kind');
    const msg: MpMsg = { name, param: m.data };
    if (kind === 'msg') {
      try {
        ipc.sendMsg(msg, { to: this.to });
      } catch (err) {
        this.emit('status', { status: 'error', error: err as Error });
      }
      return;
    }
    if (!m.reply) return;
    const timeoutMs = Math.max(1, Number(m.headers?.get('Mp-Timeout-Ms') ?? 1000) || 1000);
    const h = headers();
    h.set('Mp-Group', this.group);
    let param: Uint8Array = new Uint8Array(0);
    try {
      const r = await ipc.request(msg, { to: this.to, timeoutMs });
      if (r.msgs.length > 0) {
        h.set('Mp-Status', 'ok');
        h.set('Mp-Pid', String(this.to));
        param = r.msgs[0]!.param;
      } else {
        const e = r.errors[0];
        h.set('Mp-Status', 'error');
        h.set('Mp-Pid', String(e?.peerPid ?? this.to));
        h.set('Mp-Code', e?.remoteCode ?? 'ETIMEDOUT');
        h.set('Mp-Message', (e?.remoteMessage ?? 'no reply').replace(/[\r\n]/g, ' '));
      }
    } catch (err) {
      const e = err as MpError & Partial<MpIpcRemoteError>;
      h.set('Mp-Status', 'error');
      h.set('Mp-Pid', String(e.peerPid ?? this.to));
      h.set('Mp-Code', e.remoteCode ?? e.code ?? 'EIO');
      h.set('Mp-Message', (e.remoteMessage ?? e.message).replace(/[\r\n]/g, ' '));
    }
    if (!this.closed) m.respond(param, { headers: h });
  }

  /**
   * Send `msg` to every other group that bridges its action (one-way).
   *
   * @returns the number of groups it was sent to
   * @throws {MpError} EINVAL — not a bridged action, bad message; E2BIG — param over 256 bytes; ENOTSUP — fds given
   * @see rte_mp_sendmsg
   */
  sendMsg(msg: MpMsg): number {
    checkMsg(msg, this.names as Set<string>);
    const targets = this.peers(msg.name);
    if (targets.length === 0) return 0;
    const h = headers();
    h.set('Mp-Group', this.group);
    h.set('Mp-Kind', 'msg');
    this.nc.publish(`${this.prefix}.act.${hex(msg.name)}`, msg.param ?? new Uint8Array(0), { headers: h });
    return targets.length;
  }

  /**
   * Request `msg` from every other group that bridges its action; resolves when all have answered or at
   * the timeout, with @mp/ipc's shape: `nbSent` groups asked, `nbReceived` replies (`msgs`), and the error
   * replies in `errors` (not counted in nbReceived). One group asked: its error reply rejects with
   * {@link MpBridgeRemoteError}, its silence with `ETIMEDOUT`.
   *
   * @throws {MpError} EINVAL — not a bridged action, bad message or timeout; E2BIG — param over 256 bytes; ENOTSUP — fds given (they cannot cross hosts)
   * @throws {MpError} ETIMEDOUT — one group asked and it did not answer in time
   * @throws {MpBridgeRemoteError} one group asked and its handler failed (its code, message, group and pid)
   * @see rte_mp_request_async
   */
  async request(msg: MpMsg, o: { timeoutMs?: number } = {}): Promise<MpReply> {
    checkMsg(msg, this.names as Set<string>);
    const timeoutMs = intOption('timeoutMs', o.timeoutMs, 1000, 1);
    const targets = new Set(this.peers(msg.name));
    const res: MpReply = { nbSent: targets.size, nbReceived: 0, msgs: [], errors: [] };
    if (targets.size === 0) return res;
    const inbox = createInbox();
    const answered = new Set<string>();
    await new Promise<void>((resolve) => {
      const sub = this.nc.subscribe(inbox, {
        callback: (_e, m) => {
          const g = m.headers?.get('Mp-Group') ?? '';
          if (!targets.has(g) || answered.has(g)) return;
          answered.add(g);
          if (m.headers?.get('Mp-Status') === 'ok') {
            res.msgs.push({ name: msg.name, param: m.data, fds: [] } satisfies ReceivedMsg);
            res.nbReceived++;
          } else {
            res.errors.push(new MpBridgeRemoteError(msg.name, g, Number(m.headers?.get('Mp-Pid') ?? -1), m.headers?.get('Mp-Code') ?? 'EIO', m.headers?.get('Mp-Message') ?? ''));
          }
          if (answered.size === targets.size) done();
        },
      });
      const t = setTimeout(done, timeoutMs);
      function done(): void {
        clearTimeout(t);
        sub.unsubscribe();
        resolve();
      }
      const h = headers();
      h.set('Mp-Group', this.group);
      h.set('Mp-Kind', 'req');
      h.set('Mp-Timeout-Ms', String(timeoutMs));
      this.nc.publish(`${this.prefix}.act.${hex(msg.name)}`, msg.param ?? new Uint8Array(0), { reply: inbox, headers: h });
    });
    if (res.nbSent === 1) {
      if (res.errors.length === 1) throw res.errors[0]!;
      if (res.nbReceived === 0) throw new MpError('ETIMEDOUT', `action '${msg.name}': group '${[...targets][0]}' did not answer in ${timeoutMs} ms`);
    }
    return res;
  }

  /** Leave the bus (others forget this group at once) and close the connection. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    try {
      this.nc.publish(`${this.prefix}.presence`, JSON.stringify({ group: this.group, bye: true }));
      await this.nc.drain();
    } catch {
      await this.nc.close().catch(() => undefined);
    }
  }
}

/**
 * Carry rte_mp requests and messages for actions `names` between this group and the other groups on the
 * bus (other hosts): requests from elsewhere are handed to this group's ipc (to `opts.to`, default this
 * process), and {@link ActionBridge.request} / {@link ActionBridge.sendMsg} reach the other groups.
 * Resolves once connected and the groups present have been heard from.
 *
 * @throws {MpError} EINVAL — empty or bad names, bad options; E2BIG — a name over 63 bytes
 * @throws {MpError} ENOTCONN — no server answered (addresses named) and `waitForServer` not set; no group attached and no `group` given
 */
export async function bridgeActions(names: string[], opts: ActionBridgeOptions): Promise<ActionBridge> {
  if (!Array.isArray(names) || names.length === 0) throw new MpError('EINVAL', 'bridgeActions needs a non-empty list of action names');
  const set = new Set(names.map(validName));
  if (opts === null || typeof opts !== 'object') throw new MpError('EINVAL', 'bridgeActions needs an options object');
  const prefix = nameOption('subjectPrefix', opts.subjectPrefix ?? 'mp.ipc');
  const announceMs = intOption('announceMs', opts.announceMs, 1000, 10);
  const to = intOption('to', opts.to, process.pid);
  const group = opts.group ?? `${hostname()}/${eal().filePrefix}`;
  ipc.start();
  const events = new EventEmitter<ActionBridgeEvents>();
  const nc = await openConnection({ ...opts, name: opts.name ?? `mp-actions-${group}` }, events);
  const bridge = new ActionBridge(nc, set, group, prefix, to, announceMs);
  events.on('status', (s) => bridge.emit('status', s));
  try {
    await bridge.start();
  } catch (err) {
    await nc.close().catch(() => undefined);
    throw err;
  }
  return bridge;
}
