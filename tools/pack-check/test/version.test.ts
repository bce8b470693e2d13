/**
 * `pnpm release`'s version step (tools/version.mjs) on a small copy of the workspace's shape: @mp/memory,
 * @mp/eal on it, @mp/ring and @mp/mempool taking both as peers (`workspace:^`, src/ranges.ts), the `mp`
 * application depending on them, and the repository's own .changeset/config.json. Plain
 * `changeset version` releases a peer dependent of an eal minor as 1.0.0; the step releases it as the
 * next minor, with its peer range back at `workspace:^`.
 */
import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { ROOT } from '../src/pack.js';

const run = promisify(execFile);
const CHANGESET = join(ROOT, 'node_modules', '.bin', 'changeset');
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const peers = { '@mp/eal': 'workspace:^', '@mp/memory': 'workspace:^' };
const PACKAGES: Record<string, Record<string, unknown>> = {
  memory: { name: '@mp/memory', version: '0.1.0' },
  eal: { name: '@mp/eal', version: '0.1.0', dependencies: { '@mp/memory': 'workspace:^' } },
  ring: { name: '@mp/ring', version: '0.1.0', peerDependencies: peers, devDependencies: peers },
  mempool: { name: '@mp/mempool', version: '0.1.0', dependencies: { '@mp/ring': 'workspace:^' }, peerDependencies: peers, devDependencies: peers },
  cli: { name: '@mp/cli', version: '0.1.0', bin: { mp: 'bin/mp.js' }, dependencies: peers },
};

/** A git repository with those packages, the repository's changesets config and `changesets` (name → front matter). */
async function fixture(changesets: Record<string, string>): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'mp-version-'));
  dirs.push(dir);
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'root', private: true }));
  writeFileSync(join(dir, 'pnpm-workspace.yaml'), 'packages:\n  - packages/*\n');
  mkdirSync(join(dir, '.changeset'));
  const config = JSON.parse(readFileSync(join(ROOT, '.changeset', 'config.json'), 'utf8')) as { ignore: string[] };
  config.ignore = []; // names of the real workspace's private packages, absent here
  writeFileSync(join(dir, '.changeset', 'config.json'), JSON.stringify(config, null, 2));
  for (const [name, front] of Object.entries(changesets)) writeFileSync(join(dir, '.changeset', `${name}.md`), `---\n${front}\n---\n\nA change.\n`);
  for (const [d, m] of Object.entries(PACKAGES)) {
    mkdirSync(join(dir, 'packages', d), { recursive: true });
    writeFileSync(join(dir, 'packages', d, 'package.json'), `${JSON.stringify(m, null, 2)}\n`);
  }
  const git = (...a: string[]) => run('git', ['-c', 'user.email=t@t', '-c', 'user.name=t', ...a], { cwd: dir });
  await git('init', '-q', '-b', 'main');
  await git('add', '-A');
  await git('commit', '-qm', 'base');
  return dir;
}

const manifest = (dir: string, d: string) => JSON.parse(readFileSync(join(dir, 'packages', d, 'package.json'), 'utf8')) as { version: string; peerDependencies?: Record<string, string> };
const versions = (dir: string) => Object.fromEntries(Object.keys(PACKAGES).map((d) => [d, manifest(dir, d).version]));

describe('tools/version.mjs (pnpm release)', () => {
  it('an @mp/eal minor: plain changeset version makes its 0.x peer dependents 1.0.0; version.mjs makes them the next minor, peers back at workspace:^', async () => {
    const plain = await fixture({ eal: '"@mp/eal": minor' });
    const copy = mkdtempSync(join(tmpdir(), 'mp-version-'));
    dirs.push(copy);
    cpSync(plain, copy, { recursive: true });
    await run(CHANGESET, ['version'], { cwd: copy });
    expect(versions(copy)).toMatchObject({ eal: '0.2.0', ring: '1.0.0', mempool: '1.0.0' });

    await run(process.execPath, [join(ROOT, 'tools', 'version.mjs'), plain]);
    expect(versions(plain)).toEqual({ memory: '0.1.0', eal: '0.2.0', ring: '0.2.0', mempool: '0.2.0', cli: '0.1.1' });
    for (const d of ['ring', 'mempool']) {
      expect(manifest(plain, d).peerDependencies).toEqual(peers);
      expect(readFileSync(join(plain, 'packages', d, 'CHANGELOG.md'), 'utf8')).toContain('Peer dependencies on the new release line of @mp/eal');
    }
  });

  it("a peer dependent whose own changeset asks minor gets no second one; a memory patch changes no peer dependent's line", async () => {
    const dir = await fixture({ a: '"@mp/eal": minor\n"@mp/ring": minor', b: '"@mp/memory": patch' });
    await run(process.execPath, [join(ROOT, 'tools', 'version.mjs'), dir]);
    expect(versions(dir)).toEqual({ memory: '0.1.1', eal: '0.2.0', ring: '0.2.0', mempool: '0.2.0', cli: '0.1.1' });
    expect(readFileSync(join(dir, 'packages', 'ring', 'CHANGELOG.md'), 'utf8')).not.toContain('new release line');
  });

  it('an @mp/eal major (1.0.0): its peer dependents still take a minor; a package leaves 0.x only by its own major changeset', async () => {
    const dir = await fixture({ eal: '"@mp/eal": major' });
    await run(process.execPath, [join(ROOT, 'tools', 'version.mjs'), dir]);
    expect(versions(dir)).toMatchObject({ eal: '1.0.0', ring: '0.2.0', mempool: '0.2.0' });
    expect(manifest(dir, 'ring').peerDependencies).toEqual(peers);
  });
});
