/**
 * Real nats-server processes for the tests (Debian's `nats-server`, 2.9): each on its own port, JetStream
 * storage in its own temp dir, optionally inside a network namespace and clustered; all stopped and
 * their dirs deleted by `stopAll()` (call it in afterEach / afterAll, it runs on failure too).
 */
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

export function natsServerMissing(): string | undefined {
  const r = spawnSync('nats-server', ['--version'], { encoding: 'utf8' });
  return r.status === 0 ? undefined : 'needs nats-server (apt-get install nats-server)';
}

/** A free TCP port on 127.0.0.1 of this namespace. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}

export interface NatsServer {
  readonly name: string;
  readonly url: string;
  readonly pid: number;
  readonly log: string[];
  /** Resolves when the process has exited. */
  readonly exited: Promise<void>;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

export interface ServerSpec {
  name: string;
  host: string;
  port: number;
  /** Run inside this network namespace. */
  netns?: string;
  /** Cluster: this server's route port, the cluster's name, and the other servers' route URLs. */
  cluster?: { port: number; name: string; routes: string[] };
}

const live = new Set<{ child: ChildProcess; dir: string }>();

/** Start a nats-server with JetStream; resolve once it says it is ready for connections. */
export function startServer(spec: ServerSpec): Promise<NatsServer> {
  const dir = mkdtempSync(join(tmpdir(), `mp-nats-${spec.name}-`));
  const args = ['-js', '-sd', dir, '-a', spec.host, '-p', String(spec.port), '-n', spec.name];
  if (spec.cluster) {
    args.push('--cluster_name', spec.cluster.name, '--cluster', `nats://${spec.host}:${spec.cluster.port}`);
    if (spec.cluster.routes.length) args.push('--routes', spec.cluster.routes.join(','));
  }
  const child = spec.netns === undefined ? spawn('nats-server', args, { stdio: ['ignore', 'pipe', 'pipe'] }) : spawn('ip', ['netns', 'exec', spec.netns, 'nats-server', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const entry = { child, dir };
  live.add(entry);
  const log: string[] = [];
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`nats-server ${spec.name} not ready in 15 s:\n${log.join('\n')}`)), 15_000);
    const onLine = (line: string): void => {
      log.push(line);
      if (log.length > 2000) log.splice(0, 1000);
      if (/Server is ready/.test(line)) {
        clearTimeout(t);
        resolve({
          name: spec.name,
          url: `nats://${spec.host}:${spec.port}`,
          pid: child.pid!,
          log,
          exited,
          async kill(signal = 'SIGKILL') {
            if (child.exitCode === null && child.signalCode === null) child.kill(signal);
            await exited;
          },
        });
      }
    };
    createInterface({ input: child.stderr! }).on('line', onLine);
    createInterface({ input: child.stdout! }).on('line', onLine);
    child.once('exit', (code) => {
      clearTimeout(t);
      reject(new Error(`nats-server ${spec.name} exited (${code}) before ready:\n${log.join('\n')}`));
    });
  });
}

/** SIGKILL every server started here and delete their storage dirs. */
export async function stopAll(): Promise<void> {
  const all = [...live];
  live.clear();
  await Promise.all(
    all.map(async ({ child, dir }) => {
      if (child.exitCode === null && child.signalCode === null) {
        const gone = new Promise((r) => child.once('exit', r));
        child.kill('SIGKILL');
        await gone;
      }
      rmSync(dir, { recursive: true, force: true });
    }),
  );
}

/** Start `n` clustered servers with the given hosts/ports/namespaces; resolve when all are ready. */
export async function startCluster(specs: Array<Omit<ServerSpec, 'cluster'> & { routePort: number }>, clusterName = 'mpc'): Promise<NatsServer[]> {
  const routes = specs.map((s) => `nats://${s.host}:${s.routePort}`);
  return Promise.all(
    specs.map((s, i) =>
      startServer({ ...s, cluster: { port: s.routePort, name: clusterName, routes: routes.filter((_, j) => j !== i) } }),
    ),
  );
}
