/**
 * Queue descriptors from the primary to the other processes of the group over @mp/ipc (SCM_RIGHTS),
 * in chunks of at most 8 (an @mp/ipc message carries ≤ 8 fds, as DPDK's rte_mp): the primary serves a
 * port's fds under the action `mp_<driver>_fds`; a process asks for chunk 0, 1, … until it has them all.
 *
 * Request param: `{ port, chunk }` (JSON). Reply param: `{ total }`, fds: `fds[chunk*8 .. +8)`.
 */
import * as ipc from '@mp/ipc';
import { MpError } from '@mp/memory';

const CHUNK = 8;

const served = new Map<string, Map<number, () => readonly number[]>>();

const action = (driver: string): string => `mp_${driver}_fds`;

/**
 * Serve `fds()` of port `portId` to the processes that ask (in the primary). `close()` stops serving.
 *
 * @throws {MpError} ENOTCONN — init() (@mp/eal) has not run
 */
export function serveQueueFds(driver: string, portId: number, fds: () => readonly number[]): { close(): void } {
  let ports = served.get(driver);
  if (ports === undefined) {
    ports = new Map();
    served.set(driver, ports);
    const mine = ports;
    ipc.start();
    ipc.actionRegister(action(driver), (msg) => {
      const req = JSON.parse(Buffer.from(msg.param).toString('utf8')) as { port: number; chunk: number };
      const get = mine.get(req.port);
      if (get === undefined) throw new MpError('ENODEV', `${driver} port ${req.port} has no queue fds in pid ${process.pid}`);
      const all = get();
      return {
        name: action(driver),
        param: new Uint8Array(Buffer.from(JSON.stringify({ total: all.length }))),
        fds: all.slice(req.chunk * CHUNK, req.chunk * CHUNK + CHUNK),
      };
    });
  }
  ports.set(portId, fds);
  const p = ports;
  return {
    close(): void {
      if (p.get(portId) === fds) p.delete(portId);
    },
  };
}

/**
 * Ask the primary for port `portId`'s fds (this process owns the descriptors it gets and closes them).
 *
 * @throws {MpError} (rejects) ETIMEDOUT — no answer in timeoutMs; ENOENT — no primary
 * @throws {MpIpcRemoteError} (rejects) ENODEV — the primary serves no fds for that port
 */
export async function requestQueueFds(driver: string, portId: number, timeoutMs = 2000): Promise<number[]> {
  ipc.start();
  const out: number[] = [];
  for (let chunk = 0; ; chunk++) {
    const r = await ipc.request({ name: action(driver), param: new Uint8Array(Buffer.from(JSON.stringify({ port: portId, chunk }))) }, { timeoutMs });
    const m = r.msgs[0];
    if (m === undefined) throw r.errors[0] ?? new MpError('ETIMEDOUT', `${driver} port ${portId}: no answer for its queue fds in ${timeoutMs} ms`);
    const { total } = JSON.parse(Buffer.from(m.param).toString('utf8')) as { total: number };
    out.push(...m.fds);
    if (out.length >= total || m.fds.length === 0) return out;
  }
}
