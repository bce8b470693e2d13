/**
 * A DPDK telemetry v2 client (what dpdk-telemetry.py does, as a library): connect to a
 * `dpdk_telemetry.v2[:<n>]` socket — of an @mp process or of a DPDK application — read the greeting,
 * then send commands and read one JSON reply each, in order.
 */
import { MpError, connectSeqpacket } from '@mp/memory';
import type { SeqpacketConnection } from '@mp/memory';

/** What the server says on connect. */
export interface TelemetryGreeting {
  version: string;
  pid: number;
  max_output_len: number;
}

/** Parsed JSON of a telemetry reply. */
export type TelemetryJson = null | string | number | boolean | TelemetryJson[] | { [k: string]: TelemetryJson };

/** An open telemetry connection. */
export class TelemetryClient {
  private readonly waiting: Array<{ resolve: (v: TelemetryJson) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }> = [];
  private closedErr: Error | undefined;

  private constructor(
    private readonly conn: SeqpacketConnection,
    readonly path: string,
    readonly greeting: TelemetryGreeting,
    private readonly timeoutMs: number,
  ) {
    conn.onMessage((m) => this.onReply(m));
    conn.onClose(() => this.fail(new MpError('ENOTCONN', `telemetry server at ${path} closed the connection`)));
  }

  /**
   * Connect and read the greeting.
   *
   * @throws {MpError} ENOENT — no socket; ENOTCONN — nobody listens (a dead process's socket) or the
   *   server closed the connection (too many clients); EPERM — not allowed; ETIMEDOUT — no greeting in
   *   `timeoutMs`; EPROTO — the greeting is not telemetry v2 JSON
   */
  static async connect(path: string, o: { timeoutMs?: number } = {}): Promise<TelemetryClient> {
    const timeoutMs = o.timeoutMs ?? 2000;
    const conn = connectSeqpacket(path, { maxMessage: 64 * 1024 });
    const first = await new Promise<Buffer>((resolve, reject) => {
      const timer = setTimeout(() => reject(new MpError('ETIMEDOUT', `no telemetry greeting from ${path} in ${timeoutMs} ms`)), timeoutMs);
      conn.onMessage((m) => {
        clearTimeout(timer);
        resolve(m);
      });
      conn.onClose(() => {
        clearTimeout(timer);
        reject(new MpError('ENOTCONN', `telemetry server at ${path} closed the connection before greeting (too many clients?)`));
      });
    }).catch((err: unknown) => {
      conn.close();
      throw err;
    });
    let greeting: TelemetryGreeting;
    try {
      greeting = JSON.parse(first.toString('utf8')) as TelemetryGreeting;
      if (typeof greeting.pid !== 'number' || typeof greeting.max_output_len !== 'number') throw new Error('fields missing');
    } catch (err) {
      conn.close();
      throw new MpError('EPROTO', `${path} did not greet with telemetry v2 JSON: ${first.toString('utf8').slice(0, 80)}`, { cause: err });
    }
    return new TelemetryClient(conn, path, greeting, timeoutMs);
  }

  /**
   * Send a raw request (`/ring/info,r0`) and resolve with the whole parsed reply (`{"/ring/info": …}`).
   *
   * @throws {MpError} ENOTCONN — the connection is closed; ETIMEDOUT — no reply in time; EPROTO — not JSON
   */
  requestRaw(request: string): Promise<TelemetryJson> {
    if (this.closedErr) return Promise.reject(this.closedErr);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => this.fail(new MpError('ETIMEDOUT', `no reply to '${request}' from ${this.path} in ${this.timeoutMs} ms`)), this.timeoutMs);
      this.waiting.push({ resolve, reject, timer });
      if (!this.conn.send(request)) this.fail(new MpError('ENOTCONN', `cannot send to ${this.path}`));
    });
  }

  /** Send `command[,params]` and resolve with its data (the value under the command's key; null for an
   * unknown command or a failed one). @throws as {@link requestRaw} */
  async request(command: string, params?: string | number): Promise<TelemetryJson> {
    const reply = await this.requestRaw(params === undefined ? command : `${command},${params}`);
    if (reply === null || typeof reply !== 'object' || Array.isArray(reply)) throw new MpError('EPROTO', `reply to ${command} is not an object`);
    const keys = Object.keys(reply);
    return keys.length === 1 ? reply[keys[0]!]! : null;
  }

  /** Close the connection. Pending requests fail with ENOTCONN. */
  close(): void {
    this.fail(new MpError('ENOTCONN', 'telemetry client closed'));
  }

  private onReply(m: Buffer): void {
    const w = this.waiting.shift();
    if (w === undefined) return;
    clearTimeout(w.timer);
    try {
      w.resolve(JSON.parse(m.toString('utf8')) as TelemetryJson);
    } catch (err) {
      w.reject(new MpError('EPROTO', `reply from ${this.path} is not JSON: ${m.toString('utf8').slice(0, 80)}`, { cause: err }));
    }
  }

  private fail(err: Error): void {
    if (!this.closedErr) this.closedErr = err;
    this.conn.close();
    for (const w of this.waiting.splice(0)) {
      clearTimeout(w.timer);
      w.reject(err);
    }
  }
}
