/**
 * Queue descriptors from the primary to a secondary, any number of them. DPDK's rte_mp carries at
 * most 8 fds per message (RTE_MP_MAX_FD_NUM), which is why its net_tap hands a secondary at most 8
 * queues. Here the primary answers per chunk: a secondary asks for chunk 0, learns how many
 * descriptors the port has, and asks for each further chunk of ≤ 8 until it holds them all.
 *
 * Wire (@mp/ipc action `mp_<driver>_fds`, one request and one reply per chunk):
 * ```
 * request param  JSON { "port": <portId>, "chunk": <k> }
 * reply   param  JSON { "port": <portId>, "chunk": <k>, "total": <n>, "gen": <g> }
 *         fds    descriptors k·8 … min(n, k·8 + 8) - 1 of the port, in queue order
 * ```
 * `gen` changes whenever the set the primary serves changes (counted per served list); a secondary
 * that sees `total` or `gen` move between chunks drops what it got and starts again.
 */
import { closeSync } from 'node:fs';
import * as ipc from '@mp/ipc';
import { MpError } from '@mp/memory';

/** Descriptors per message: RTE_MP_MAX_FD_NUM. */
export const FDS_PER_CHUNK = ipc.MP_MAX_FD_NUM;
/** How long a secondary waits for each chunk by default, ms. */
export const FDS_TIMEOUT_MS = 5000;

interface Served {
  fds: () => readonly number[];
  /** Bumped when the list served for this port is replaced. */
  gen: number;
}

/** Per driver: the ports this process serves. */
const served = new Map<string, Map<number, Served>>();
let nextGen = 1;

const actionOf = (driver: string): string => `mp_${driver}_fds`;

interface ChunkReq {
  port: number;
  chunk: number;
}
interface ChunkRep extends ChunkReq {
  total: number;
  gen: number;
}

function checkArgs(fn: string, driver: string, portId: number): void {
  if (typeof driver !== 'string' || !/^[a-z][a-z0-9_]{0,40}$/.test(driver)) throw new MpError('EINVAL', `${fn}: driver '${String(driver)}' is not a driver name (a-z, 0-9, _; ≤ 41 characters)`);
  if (!Number.isInteger(portId) || portId < 0 || portId > 0xffff) throw new MpError('EINVAL', `${fn}: port id ${String(portId)} is not an integer in 0..65535`);
}

/**
 * Serve the descriptors of port `portId` of `driver` to the group's processes (in the process that
 * holds them, the primary). `fds()` is read at every request, so it may change as queues come and go.
 * The action `mp_<driver>_fds` is registered once per process and driver; `close()` stops serving the
 * port (and unregisters the action when no port of the driver is left). Serving a port again replaces
 * its list.
 *
 * @throws {MpError} EINVAL — a driver name or port id that is not one
 * @throws {MpError} ENOTCONN — @mp/ipc cannot start (init() from @mp/eal has not run)
 */
export function serveQueueFds(driver: string, portId: number, fds: () => readonly number[]): { close(): void } {
  checkArgs('serveQueueFds', driver, portId);
  if (typeof fds !== 'function') throw new MpError('EINVAL', 'serveQueueFds: fds must be a function returning the descriptors');
  let ports = served.get(driver);
  if (ports === undefined) {
    ports = new Map();
    const mine = ports;
    ipc.start();
    ipc.actionRegister(actionOf(driver), (msg) => {
      let req: ChunkReq;
      try {
        req = JSON.parse(Buffer.from(msg.param).toString('utf8')) as ChunkReq;
      } catch {
        throw new MpError('EINVAL', `${actionOf(driver)}: the request is not JSON`);
      }
      const s = mine.get(req.port);
      if (s === undefined) throw new MpError('ENODEV', `${driver} port ${req.port} is not served by pid ${process.pid}`);
      const all = s.fds();
      const total = all.length;
      const chunks = Math.max(1, Math.ceil(total / FDS_PER_CHUNK));
      if (!Number.isInteger(req.chunk) || req.chunk < 0 || req.chunk >= chunks) throw new MpError('EINVAL', `${driver} port ${req.port}: chunk ${String(req.chunk)} is not in 0..${chunks - 1}`);
      const rep: ChunkRep = { port: req.port, chunk: req.chunk, total, gen: s.gen };
      return { name: actionOf(driver), param: new Uint8Array(Buffer.from(JSON.stringify(rep))), fds: all.slice(req.chunk * FDS_PER_CHUNK, req.chunk * FDS_PER_CHUNK + FDS_PER_CHUNK) };
    });
    served.set(driver, ports);
  }
  const entry: Served = { fds, gen: nextGen++ };
  ports.set(portId, entry);
  const owner = ports;
  return {
    close(): void {
      if (owner.get(portId) !== entry) return;
      owner.delete(portId);
      if (owner.size === 0 && served.get(driver) === owner) {
        served.delete(driver);
        try {
          ipc.actionUnregister(actionOf(driver));
        } catch {
          // the channel is closed already
        }
      }
    },
  };
}

/** One chunk's answer: parsed, or a typed error. */
function parseReply(driver: string, portId: number, chunk: number, m: ipc.ReceivedMsg | undefined, errors: readonly Error[], timeoutMs: number): { rep: ChunkRep; fds: number[] } {
  if (m === undefined) throw errors[0] ?? new MpError('ETIMEDOUT', `${driver} port ${portId}: no answer for queue descriptors (chunk ${chunk}) in ${timeoutMs} ms`);
  let rep: ChunkRep;
  try {
    rep = JSON.parse(Buffer.from(m.param).toString('utf8')) as ChunkRep;
  } catch {
    closeAll(m.fds);
    throw new MpError('EPROTO', `${driver} port ${portId}: the answer for chunk ${chunk} is not JSON`);
  }
  const want = Math.min(FDS_PER_CHUNK, rep.total - chunk * FDS_PER_CHUNK);
  if (rep.port !== portId || rep.chunk !== chunk || m.fds.length !== Math.max(0, want)) {
    closeAll(m.fds);
    throw new MpError('EPROTO', `${driver} port ${portId}: chunk ${chunk} came back as port ${rep.port} chunk ${rep.chunk} with ${m.fds.length} descriptors (${Math.max(0, want)} expected)`);
  }
  return { rep, fds: m.fds };
}

function closeAll(fds: readonly number[]): void {
  for (const fd of fds) {
    try {
      closeSync(fd);
    } catch {
      // closed already
    }
  }
}

/** Tries before a list that keeps changing under the requester is given up. */
const ATTEMPTS = 4;

/**
 * Collect the descriptors of port `portId` of `driver` from the primary (in a secondary): one request
 * per chunk of ≤ 8 until all arrived. The caller owns them (new descriptors in this process, in the
 * primary's order).
 *
 * @throws {MpError} (rejects) EINVAL — a driver name or port id that is not one
 * @throws {MpError} (rejects) ETIMEDOUT — the primary did not answer a chunk within `timeoutMs` (default 5000)
 * @throws {MpIpcRemoteError} (rejects) ENODEV — the primary serves no such port
 * @throws {MpError} (rejects) EPROTO — an answer that does not match the request
 * @throws {MpError} (rejects) EBUSY — the served list kept changing while it was fetched
 * @throws {MpError} (rejects) ENOENT — no primary; ENOTCONN — init() has not run
 */
export async function requestQueueFds(driver: string, portId: number, timeoutMs: number = FDS_TIMEOUT_MS): Promise<number[]> {
  checkArgs('requestQueueFds', driver, portId);
  const got: number[] = [];
  for (let attempt = 0; ; attempt++) {
    let first: ChunkRep | undefined;
    let changed = false;
    for (let chunk = 0; ; chunk++) {
      const r = await ipc.request(chunkMsg(driver, portId, chunk), { timeoutMs });
      let m: { rep: ChunkRep; fds: number[] };
      try {
        m = parseReply(driver, portId, chunk, r.msgs[0], r.errors, timeoutMs);
      } catch (err) {
        closeAll(got);
        throw err;
      }
      if (first !== undefined && (m.rep.total !== first.total || m.rep.gen !== first.gen)) {
        closeAll(m.fds);
        changed = true;
        break;
      }
      first ??= m.rep;
      got.push(...m.fds);
      if (got.length >= m.rep.total) return got;
    }
    if (changed) {
      closeAll(got.splice(0));
      if (attempt + 1 >= ATTEMPTS) throw new MpError('EBUSY', `${driver} port ${portId}: its descriptors changed ${ATTEMPTS} times while being fetched`);
    }
  }
}

/**
 * {@link requestQueueFds}, blocking (for a driver's first burst, as DPDK's secondaries use
 * rte_mp_request_sync), and from a given process (`from`: the port's prober) rather than the primary.
 *
 * @throws {MpError} as {@link requestQueueFds}, thrown
 */
export function requestQueueFdsSync(driver: string, portId: number, from?: number, timeoutMs: number = FDS_TIMEOUT_MS): number[] {
  checkArgs('requestQueueFdsSync', driver, portId);
  const to = from !== undefined && from !== process.pid ? { to: from } : {};
  const got: number[] = [];
  for (let attempt = 0; ; attempt++) {
    let first: ChunkRep | undefined;
    for (let chunk = 0; ; chunk++) {
      let m: { rep: ChunkRep; fds: number[] };
      try {
        const r = ipc.requestSync(chunkMsg(driver, portId, chunk), { timeoutMs, ...to });
        m = parseReply(driver, portId, chunk, r.msgs[0], r.errors, timeoutMs);
      } catch (err) {
        closeAll(got);
        throw err;
      }
      if (first !== undefined && (m.rep.total !== first.total || m.rep.gen !== first.gen)) {
        closeAll(m.fds);
        break;
      }
      first ??= m.rep;
      got.push(...m.fds);
      if (got.length >= m.rep.total) return got;
    }
    closeAll(got.splice(0));
    if (attempt + 1 >= ATTEMPTS) throw new MpError('EBUSY', `${driver} port ${portId}: its descriptors changed ${ATTEMPTS} times while being fetched`);
  }
}

function chunkMsg(driver: string, portId: number, chunk: number): ipc.MpMsg {
  return { name: actionOf(driver), param: new Uint8Array(Buffer.from(JSON.stringify({ port: portId, chunk } satisfies ChunkReq))) };
}
