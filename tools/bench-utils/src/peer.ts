/**
 * Child-process peers of a bench: pinned to a CPU with taskset where it exists (as DPDK pins lcores),
 * optionally inside a network namespace; either run to completion ({@link runPeer}) or talked to line by
 * line ({@link spawnPeer}).
 */
import { execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

let tasksetOk: boolean | undefined;
/** Whether `taskset` works here (probed once). */
export function hasTaskset(): boolean {
  if (tasksetOk === undefined) {
    try {
      execFileSync('taskset', ['-c', '0', 'true'], { stdio: 'ignore' });
      tasksetOk = true;
    } catch {
      tasksetOk = false;
    }
  }
  return tasksetOk;
}

/** Whether a command is on PATH. */
export function hasCommand(cmd: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** For the header: `what` when taskset pins, else that nothing is pinned. */
export function pinningNote(what: string): string {
  return hasTaskset() ? `${what} (taskset)` : 'none (taskset unavailable)';
}

export interface PeerOptions {
  /** CPU list for taskset (`0`, `0,1`); ignored where taskset is missing. */
  cpu?: string | number;
  /** Run inside this network namespace (`ip netns exec`). */
  netns?: string;
  /** Added to this process's environment. */
  env?: NodeJS.ProcessEnv;
  /** stdin: a pipe (default for spawnPeer: closing it asks the peer to leave) or ignored. */
  stdin?: 'pipe' | 'ignore';
  /** stderr: inherited (default) or kept (spawnPeer: the last lines go into errors; runPeer: `err`). */
  stderr?: 'inherit' | 'pipe';
}

/** The argv to run `argv` with the options' namespace and pinning. */
export function wrapArgv(argv: readonly string[], opts: Pick<PeerOptions, 'cpu' | 'netns'> = {}): string[] {
  const pinned = opts.cpu !== undefined && hasTaskset() ? ['taskset', '-c', String(opts.cpu), ...argv] : [...argv];
  return opts.netns !== undefined ? ['ip', 'netns', 'exec', opts.netns, ...pinned] : pinned;
}

export interface RunResult {
  out: string;
  err: string;
  code: number | null;
  /** Wall time from just before the spawn to the exit event, ms. */
  ms: number;
}

/** Run a peer to its exit (SIGKILL after `timeoutMs`, default 10 min); its stdout (and stderr if piped). */
export function runPeer(argv: readonly string[], opts: PeerOptions & { timeoutMs?: number } = {}): Promise<RunResult> {
  const [cmd, ...args] = wrapArgv(argv, opts);
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const c = spawn(cmd!, args, {
      stdio: [opts.stdin ?? 'ignore', 'pipe', opts.stderr ?? 'pipe'],
      env: opts.env ? { ...process.env, ...opts.env } : process.env,
    });
    let out = '';
    let err = '';
    let ms = NaN;
    let code: number | null = null;
    c.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    c.stderr?.on('data', (d: Buffer) => (err += d.toString()));
    const t = setTimeout(() => c.kill('SIGKILL'), opts.timeoutMs ?? 600_000);
    c.on('error', reject);
    c.on('exit', (x) => {
      ms = Number(process.hrtime.bigint() - t0) / 1e6;
      code = x;
      clearTimeout(t);
    });
    // 'close' comes after the output is read to its end.
    c.on('close', () => resolve({ out, err, code, ms }));
  });
}

/** A running peer, read line by line. */
export interface Peer {
  readonly child: ChildProcess;
  /** Every stdout line so far. */
  readonly lines: readonly string[];
  /** The next stdout line not yet taken; rejects if the peer exits first (with its last output). */
  next(): Promise<string>;
  /** Take lines until one matches (a string must equal the line); rejects after `ms` or on exit. */
  waitFor(match: string | RegExp, ms?: number): Promise<string>;
  /** Forget the lines printed so far (e.g. rates measured before the other side was up). */
  skip(): void;
  /** Call `fn` on every line from now on. */
  onLine(fn: (line: string) => void): void;
  /** Close stdin (the peer leaves), optionally send `signal`; SIGKILL after `ms` (default 5 s). Exit code. */
  end(opts?: { signal?: NodeJS.Signals; ms?: number }): Promise<number | null>;
}

/** Start a peer; its stdout is read as lines. */
export function spawnPeer(argv: readonly string[], opts: PeerOptions = {}): Peer {
  const [cmd, ...args] = wrapArgv(argv, opts);
  const child = spawn(cmd!, args, {
    stdio: [opts.stdin ?? 'pipe', 'pipe', opts.stderr ?? 'inherit'],
    env: opts.env ? { ...process.env, ...opts.env } : process.env,
  });
  const lines: string[] = [];
  const errTail: string[] = [];
  const listeners: Array<(l: string) => void> = [];
  const waiting: Array<{ ok: () => void; ko: (e: Error) => void }> = [];
  let cursor = 0;
  let exit: string | undefined;
  const wakeAll = (): void => {
    for (const w of waiting.splice(0)) w.ok();
  };
  createInterface({ input: child.stdout! }).on('line', (l) => {
    lines.push(l);
    for (const f of listeners) f(l);
    wakeAll();
  });
  if (child.stderr) createInterface({ input: child.stderr }).on('line', (l) => errTail.push(l) > 20 && errTail.shift());
  const gone = new Promise<number | null>((resolve) => {
    child.on('close', (code, signal) => {
      exit = `${argv.join(' ')} exited (${code ?? signal})${errTail.length > 0 ? `:\n${errTail.join('\n')}` : ''}`;
      for (const w of waiting.splice(0)) w.ko(new Error(exit));
      resolve(code);
    });
  });
  const more = (): Promise<void> =>
    exit !== undefined ? Promise.reject(new Error(exit)) : new Promise((ok, ko) => waiting.push({ ok, ko }));
  const peer: Peer = {
    child,
    lines,
    async next() {
      while (cursor >= lines.length) await more();
      return lines[cursor++]!;
    },
    async waitFor(match, ms = 30_000) {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, ko) => {
        timer = setTimeout(() => ko(new Error(`${argv.join(' ')}: no line ${String(match)} in ${ms} ms`)), ms);
      });
      try {
        for (;;) {
          const l = await Promise.race([peer.next(), timeout]);
          if (typeof match === 'string' ? l === match : match.test(l)) return l;
        }
      } finally {
        clearTimeout(timer);
      }
    },
    skip() {
      cursor = lines.length;
    },
    onLine(fn) {
      listeners.push(fn);
    },
    async end({ signal, ms = 5000 } = {}) {
      if (child.exitCode === null && child.signalCode === null) {
        child.stdin?.end();
        if (signal !== undefined) child.kill(signal);
        const t = setTimeout(() => child.kill('SIGKILL'), ms);
        const code = await gone;
        clearTimeout(t);
        return code;
      }
      return gone;
    },
  };
  return peer;
}
