/**
 * One NATS connection per bridge: connect (or wait for a server, when asked to), reconnect forever with
 * an exponential backoff, and surface the client's status as the bridge's `status` event.
 */
import { EventEmitter } from 'node:events';
import { MpError } from '@mp/memory';
import { connect } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/transport-node';

/** Options every bridge takes. */
export interface ConnectionOptions {
  /** NATS server URLs (`nats://host:port` or `host:port`): one string or a list (the cluster's seeds). */
  servers: string | string[];
  /**
   * When no server answers at start: `false` (default) fails with `ENOTCONN` naming the addresses;
   * `true` waits (with the reconnect backoff) until one answers.
   */
  waitForServer?: boolean;
  /** First reconnect delay in ms (doubled after each failed attempt up to {@link maxBackoffMs}); default 50. */
  minBackoffMs?: number;
  /** Longest reconnect delay in ms; default 2000. */
  maxBackoffMs?: number;
  /** Connection name shown by the server (`/connz`). */
  name?: string;
}

/** The connection status a bridge reports with its `status` event. */
export interface BridgeStatus {
  /** `connected` once, then `disconnected` / `reconnecting` / `reconnected` as the link comes and goes; `closed` at the end. */
  status: 'connected' | 'disconnected' | 'reconnecting' | 'reconnected' | 'closed' | 'error';
  /** The server concerned, when the client names one. */
  server?: string;
  /** What went wrong (`error` status, or a retry after a failed JetStream call). */
  error?: Error;
}

/** The list form of `servers`, validated. @throws {MpError} EINVAL — empty or not strings */
export function serverList(servers: unknown): string[] {
  const list = typeof servers === 'string' ? [servers] : servers;
  if (!Array.isArray(list) || list.length === 0 || !list.every((s) => typeof s === 'string' && s.length > 0)) {
    throw new MpError('EINVAL', `servers must be a non-empty string or list of strings (got ${JSON.stringify(servers)})`);
  }
  return list as string[];
}

/** A positive integer option or its default. @throws {MpError} EINVAL — named */
export function intOption(name: string, v: unknown, dflt: number, min = 1, max = 2 ** 31 - 1): number {
  if (v === undefined) return dflt;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw new MpError('EINVAL', `${name} must be an integer in ${min}..${max} (got ${String(v)})`);
  }
  return v;
}

/** A subject or stream-name token check (NATS forbids spaces, and `.`/`*`/`>` in stream names). */
export function nameOption(what: string, v: unknown, stream = false): string {
  const bad = stream ? /[\s.*>/\\]/ : /\s/;
  if (typeof v !== 'string' || v.length === 0 || v.length > 255 || bad.test(v)) {
    throw new MpError('EINVAL', `${what} must be a non-empty NATS ${stream ? 'stream name (no spaces, ., *, >, /)' : 'subject (no spaces)'} (got ${JSON.stringify(v)})`);
  }
  return v;
}

/** Exponential backoff state: `next()` gives the delay to wait, `reset()` after a success. */
export class Backoff {
  private cur: number;
  constructor(private readonly min: number, private readonly max: number) {
    this.cur = min;
  }
  next(): number {
    const d = this.cur;
    this.cur = Math.min(this.max, this.cur * 2);
    // ±20 % jitter so that bridges restarted together do not retry in step.
    return Math.round(d * (0.8 + Math.random() * 0.4));
  }
  reset(): void {
    this.cur = this.min;
  }
}

/** Resolve after `ms`, or at once when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done(): void {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

/**
 * Connect to `opts.servers`. The client reconnects by itself afterwards (forever, with the backoff);
 * every status change is passed to `emitter` as a `status` event.
 *
 * @throws {MpError} ENOTCONN — no server answered and `waitForServer` is not set (the message names the addresses)
 * @throws {MpError} EINVAL — bad options
 */
export async function openConnection(opts: ConnectionOptions, emitter: EventEmitter): Promise<NatsConnection> {
  const servers = serverList(opts.servers);
  const minMs = intOption('minBackoffMs', opts.minBackoffMs, 50);
  const maxMs = intOption('maxBackoffMs', opts.maxBackoffMs, 2000);
  if (opts.waitForServer !== undefined && typeof opts.waitForServer !== 'boolean') {
    throw new MpError('EINVAL', `waitForServer must be a boolean (got ${String(opts.waitForServer)})`);
  }
  const backoff = new Backoff(minMs, maxMs);
  let nc: NatsConnection;
  try {
    nc = await connect({
      servers,
      name: opts.name ?? `mp-bridge-${process.pid}`,
      maxReconnectAttempts: -1,
      reconnectDelayHandler: () => backoff.next(),
      waitOnFirstConnect: opts.waitForServer === true,
      pingInterval: 2000,
      maxPingOut: 2,
      timeout: 2000,
      // No stack trace captured per request: by default the client builds two Error objects (a
      // RequestError and a TimeoutError, each with its stack) for every request, a JetStream publish
      // included — a quarter of ringToStream's CPU at full rate. The bridges report what failed in their
      // own errors (MpError, `status` events); the client's call-site stack adds nothing there.
      noAsyncTraces: true,
    });
  } catch (err) {
    throw new MpError('ENOTCONN', `no NATS server answered at ${servers.join(', ')}: ${(err as Error).message}`, { cause: err });
  }
  emitter.emit('status', { status: 'connected', server: nc.getServer() } satisfies BridgeStatus);
  void (async () => {
    for await (const s of nc.status()) {
      if (s.type === 'disconnect') emitter.emit('status', { status: 'disconnected', server: s.server } satisfies BridgeStatus);
      else if (s.type === 'reconnecting') emitter.emit('status', { status: 'reconnecting' } satisfies BridgeStatus);
      else if (s.type === 'reconnect') {
        backoff.reset();
        emitter.emit('status', { status: 'reconnected', server: s.server } satisfies BridgeStatus);
      } else if (s.type === 'error') emitter.emit('status', { status: 'error', error: s.error } satisfies BridgeStatus);
    }
  })().catch(() => undefined);
  void nc.closed().then(() => emitter.emit('status', { status: 'closed' } satisfies BridgeStatus));
  return nc;
}

/** How long a bridge that was asked to wait for its server also waits for JetStream to answer. */
export const JETSTREAM_READY_MS = 60_000;

/**
 * Run `setup` (JetStream calls made before a bridge starts: the manager, the stream, the consumer). A
 * cluster that has just formed answers JetStream requests only once it has elected its meta leader: with
 * `waitForServer`, a request that times out or meets "no responders"/503 is retried with the backoff for
 * up to {@link JETSTREAM_READY_MS}; without it, the first such failure is the error.
 *
 * @throws {MpError} ETIMEDOUT — JetStream did not answer in time (the message names the addresses)
 */
export async function jetStreamSetup<T>(opts: ConnectionOptions, setup: () => Promise<T>): Promise<T> {
  const backoff = new Backoff(intOption('minBackoffMs', opts.minBackoffMs, 50), intOption('maxBackoffMs', opts.maxBackoffMs, 2000));
  const deadline = Date.now() + (opts.waitForServer === true ? JETSTREAM_READY_MS : 0);
  for (;;) {
    try {
      return await setup();
    } catch (err) {
      const e = err as Error & { code?: unknown };
      const notReady = /timeout|no responders|503|jetstream not (enabled|available)|leader/i.test(`${e.name} ${e.message} ${String(e.code ?? '')}`);
      if (!notReady || err instanceof MpError) throw err;
      if (Date.now() >= deadline) {
        throw new MpError('ETIMEDOUT', `JetStream did not answer at ${serverList(opts.servers).join(', ')}: ${e.message}`, { cause: err });
      }
      await sleep(backoff.next());
    }
  }
}
