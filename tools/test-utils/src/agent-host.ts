/**
 * The parent side of the agent protocol (no vitest here, so benches and scripts use it too through
 * `@mp/test-utils/host`): a real `node` child running a script that speaks line-delimited JSON —
 * commands on stdin, replies and events on stdout.
 */
import { spawn } from 'node:child_process';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';

export interface Reply {
  id: number;
  ok: boolean;
  value?: unknown;
  code?: string;
  message?: string;
}

export interface AgentEvent {
  event: string;
  [k: string]: unknown;
}

/** Where an agent runs. */
export interface AgentOptions {
  /** A network namespace name (see {@link createNetns}). */
  netns?: string;
}

export class Agent {
  readonly child: ChildProcessWithoutNullStreams;
  readonly events: AgentEvent[] = [];
  readonly stderr: string[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (r: Reply) => void; reject: (e: Error) => void }>();
  private readonly eventWaiters: Array<{ pred: (e: AgentEvent) => boolean; resolve: (e: AgentEvent) => void }> = [];
  private exitInfo: { code: number | null; signal: NodeJS.Signals | null } | undefined;

  /** `opts.netns`: run the agent inside that network namespace (`ip netns exec`, which keeps the pid). */
  constructor(script: string, args: string[] = [], env: NodeJS.ProcessEnv = {}, opts: AgentOptions = {}) {
    const argv = [script, ...args];
    this.child =
      opts.netns === undefined
        ? spawn(process.execPath, argv, { env: { ...process.env, ...env }, stdio: 'pipe' })
        : spawn('ip', ['netns', 'exec', opts.netns, process.execPath, ...argv], { env: { ...process.env, ...env }, stdio: 'pipe' });
    createInterface({ input: this.child.stdout }).on('line', (line) => this.onLine(line));
    createInterface({ input: this.child.stderr }).on('line', (line) => this.stderr.push(line));
    this.exited = new Promise((resolve) => {
      this.child.on('exit', (code, signal) => {
        this.exitInfo = { code, signal };
        for (const p of this.pending.values()) {
          p.reject(new Error(`agent ${this.pid} exited (${code ?? signal}) before replying; stderr:\n${this.stderr.join('\n')}`));
        }
        this.pending.clear();
        resolve(this.exitInfo);
      });
    });
  }

  get pid(): number {
    return this.child.pid!;
  }

  private onLine(line: string): void {
    let msg: Reply | AgentEvent;
    try {
      msg = JSON.parse(line) as Reply | AgentEvent;
    } catch {
      this.stderr.push(`[stdout] ${line}`);
      return;
    }
    if ('event' in msg) {
      this.events.push(msg);
      for (let i = this.eventWaiters.length - 1; i >= 0; i--) {
        const w = this.eventWaiters[i]!;
        if (w.pred(msg)) {
          this.eventWaiters.splice(i, 1);
          w.resolve(msg);
        }
      }
      return;
    }
    const p = this.pending.get(msg.id);
    if (p) {
      this.pending.delete(msg.id);
      p.resolve(msg);
    }
  }

  /** Send a command; resolve with the whole reply (ok or not). */
  request(op: string, params: Record<string, unknown> = {}, timeoutMs = 30_000): Promise<Reply> {
    if (this.exitInfo) return Promise.reject(new Error(`agent ${this.pid} has exited; stderr:\n${this.stderr.join('\n')}`));
    const id = this.nextId++;
    return new Promise<Reply>((resolve, reject) => {
      const t = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`agent ${this.pid}: '${op}' got no reply in ${timeoutMs} ms; stderr:\n${this.stderr.join('\n')}`));
      }, timeoutMs);
      this.pending.set(id, {
        resolve: (r) => {
          clearTimeout(t);
          resolve(r);
        },
        reject: (e) => {
          clearTimeout(t);
          reject(e);
        },
      });
      this.child.stdin.write(`${JSON.stringify({ id, op, ...params })}\n`);
    });
  }

  /** Send a command that must succeed; resolve with its value. */
  async call<T = unknown>(op: string, params: Record<string, unknown> = {}, timeoutMs?: number): Promise<T> {
    const r = await this.request(op, params, timeoutMs);
    if (!r.ok) throw new Error(`agent ${this.pid}: '${op}' failed: ${r.code} ${r.message}`);
    return r.value as T;
  }

  /** Resolve with the first event (already seen or future) matching `pred`. */
  waitEvent(pred: (e: AgentEvent) => boolean, timeoutMs = 10_000): Promise<AgentEvent> {
    const seen = this.events.find(pred);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const w = { pred, resolve: (e: AgentEvent) => (clearTimeout(t), resolve(e)) };
      const t = setTimeout(() => {
        const i = this.eventWaiters.indexOf(w);
        if (i >= 0) this.eventWaiters.splice(i, 1);
        reject(new Error(`agent ${this.pid}: no matching event in ${timeoutMs} ms; events: ${JSON.stringify(this.events)}`));
      }, timeoutMs);
      this.eventWaiters.push(w);
    });
  }

  kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (!this.exitInfo) this.child.kill(signal);
    return this.exited;
  }

  /** Ask the agent to exit cleanly (stdin closes), then wait. */
  async close(): Promise<void> {
    if (!this.exitInfo) this.child.stdin.end();
    const t = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
    await this.exited;
    clearTimeout(t);
  }
}

/** Spawn an agent running `script` (a .mjs file speaking the protocol). */
export function spawnAgent(script: string, args: string[] = [], env: NodeJS.ProcessEnv = {}, opts: AgentOptions = {}): Agent {
  return new Agent(script, args, env, opts);
}
