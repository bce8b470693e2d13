/**
 * The telemetry socket every process of a group serves (DPDK's telemetry v2 transport): an AF_UNIX
 * SOCK_SEQPACKET socket in the runtime dir, `dpdk_telemetry.v2` for the primary and
 * `dpdk_telemetry.v2:<n>` for a secondary, mode 0600. The registry and the JSON rules are telemetry.ts.
 *
 * - `<n>` is the secondary's process-table slot (slot 0, free after its primary left, is named
 *   `:128`), so names never collide between live processes and a dead process's name is replaced by the
 *   next owner of its slot. DPDK instead tries `:1`, `:2`, … until a bind succeeds; its client,
 *   `dpdk-telemetry.py -i <n>`, only needs the suffix.
 * - On connect the server sends `{"version","pid","max_output_len"}`; then each request message gets one
 *   reply message, in order. Requests are answered on the event loop (no thread): a process busy in a
 *   long synchronous loop answers when it yields.
 * - At most {@link MAX_CONNECTIONS} clients at once (DPDK: 10, one thread each); one more is closed on
 *   accept, as DPDK does. Peers of another uid (root aside) are refused (SO_PEERCRED), though the 0700
 *   runtime dir and the 0600 socket already keep them out. A client that does not read its replies
 *   until its queue fills is dropped.
 */
import { join } from 'node:path';
import { listenSeqpacket } from '@mp/memory';
import { euid, log } from '@mp/memory/internal';
import type { SeqpacketConnection, SeqpacketListener } from '@mp/memory';
import { MAX_INPUT_LEN, MAX_OUTPUT_LEN, TELEMETRY_VERSION, telemetry } from './telemetry.js';

/** Clients served at once. */
export const MAX_CONNECTIONS = 32;
/** Base name of the telemetry socket (DPDK's `dpdk_telemetry.v2`). */
export const TELEMETRY_SOCKET = 'dpdk_telemetry.v2';

/** The socket name of instance `n` (0: the primary's). */
export function telemetrySocketName(instance: number): string {
  return instance === 0 ? TELEMETRY_SOCKET : `${TELEMETRY_SOCKET}:${instance}`;
}

/** A running telemetry server. */
export interface TelemetryServer {
  readonly path: string;
  /** The `-i` of dpdk-telemetry.py: 0 for the primary, the suffix for a secondary. */
  readonly instance: number;
  /** Clients connected now. */
  readonly connections: number;
  /** Close every connection and the socket, and remove its name. Idempotent. */
  close(): void;
}

/**
 * Serve the registry on `<runtimeDir>/dpdk_telemetry.v2[:<instance>]`.
 *
 * @throws {MpError} EBUSY — a live process already serves that name; EPERM — something not ours holds
 *   the name; ENAMETOOLONG — the path does not fit a socket address
 */
export function startTelemetryServer(runtimeDir: string, instance: number): TelemetryServer {
  const path = join(runtimeDir, telemetrySocketName(instance));
  const open = new Set<SeqpacketConnection>();
  const me = euid();
  const listener: SeqpacketListener = listenSeqpacket(path, {
    mode: 0o600,
    maxMessage: MAX_INPUT_LEN,
    onConnection(conn, peer) {
      if (peer.uid !== me && peer.uid !== 0) {
        log('debug', 'TELEMETRY', `refused a client of uid ${peer.uid} (pid ${peer.pid}) on ${path}`);
        return false;
      }
      if (open.size >= MAX_CONNECTIONS) {
        log('debug', 'TELEMETRY', `refused pid ${peer.pid}: ${MAX_CONNECTIONS} clients connected already`);
        return false;
      }
      open.add(conn);
      let queue: Promise<void> = Promise.resolve();
      conn.onClose(() => open.delete(conn));
      conn.onMessage((msg) => {
        const nul = msg.indexOf(0);
        const request = (nul >= 0 ? msg.subarray(0, nul) : msg).toString('utf8');
        queue = queue
          .then(() => telemetry.handle(request, MAX_OUTPUT_LEN))
          .then((reply) => {
            if (conn.open && !conn.send(reply)) {
              log('debug', 'TELEMETRY', `dropped client pid ${peer.pid}: it does not read its replies`);
              conn.close();
              open.delete(conn);
            }
          });
      });
      if (!conn.send(JSON.stringify({ version: TELEMETRY_VERSION, pid: process.pid, max_output_len: MAX_OUTPUT_LEN }))) {
        open.delete(conn);
        return false;
      }
      return true;
    },
  });
  log('debug', 'TELEMETRY', `serving ${path}`);
  return {
    path,
    instance,
    get connections() {
      return open.size;
    },
    close() {
      for (const c of open) c.close();
      open.clear();
      listener.close();
    },
  };
}
