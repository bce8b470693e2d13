/**
 * A throwaway npm registry for the install tests: verdaccio (a devDependency of this package) on 127.0.0.1,
 * a free port, storage and users in a temp dir; one user whose token publishes. Only `@mp/*` lives in it —
 * consumers point the `@mp` scope at it (`@mp:registry=`) and take everything else from the npm registry.
 */
import { execFile, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface LocalRegistry {
  /** `http://127.0.0.1:<port>/` */
  url: string;
  /** An .npmrc that sends `@mp` to this registry with the publishing user's token. */
  npmrc: string;
  /** `npm publish` a tarball or a package directory to it. */
  publish(what: string): Promise<void>;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  const srv = createServer();
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const { port } = srv.address() as { port: number };
  srv.close();
  await once(srv, 'close');
  return port;
}

/** Start verdaccio with everything under `dir`; resolves once it answers. */
export async function startRegistry(dir: string): Promise<LocalRegistry> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}/`;
  const config = join(dir, 'verdaccio.yaml');
  writeFileSync(
    config,
    [
      `storage: ${join(dir, 'storage')}`,
      'auth:',
      '  htpasswd:',
      `    file: ${join(dir, 'htpasswd')}`,
      '    max_users: 10',
      'packages:',
      "  '@mp/*':",
      '    access: $all',
      '    publish: $authenticated',
      "  '**':",
      '    access: $all',
      'log: { type: stdout, format: pretty, level: warn }',
      '',
    ].join('\n'),
  );
  const bin = join(dirname(createRequire(import.meta.url).resolve('verdaccio/package.json')), 'bin', 'verdaccio');
  const child: ChildProcess = spawn(process.execPath, [bin, '--config', config, '--listen', `127.0.0.1:${port}`], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = once(child, 'exit').then(() => {
    throw new Error(`verdaccio exited before answering:\n${out}`);
  });
  // Ready = the user endpoint answers (it creates the publishing user); until then connections are refused.
  const ready = (async (): Promise<string> => {
    for (let attempt = 0; ; attempt++) {
      try {
        const res = await fetch(`${url}-/user/org.couchdb.user:mp`, {
          method: 'PUT',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ name: 'mp', password: 'mp-pack-check' }),
        });
        const body = (await res.json()) as { token?: string; error?: string };
        if (body.token) return body.token;
        throw new Error(`verdaccio refused the user: ${JSON.stringify(body)}`);
      } catch (err) {
        // TypeError: fetch failed (not listening yet). A start-up wait with a deadline, not a test's sync.
        if (!(err instanceof TypeError) || attempt > 600) throw err;
        await delay(100);
      }
    }
  })();
  const token = await Promise.race([ready, exited]);
  const npmrc = join(dir, 'npmrc');
  writeFileSync(npmrc, `@mp:registry=${url}\n//127.0.0.1:${port}/:_authToken=${token}\n`);
  return {
    url,
    npmrc,
    async publish(what: string): Promise<void> {
      await run('npm', ['publish', what, '--userconfig', npmrc, '--registry', url, '--access', 'public', '--no-git-checks'], {
        env: { ...process.env, npm_config_update_notifier: 'false' },
      });
    },
    async stop(): Promise<void> {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      await once(child, 'exit');
    },
  };
}
