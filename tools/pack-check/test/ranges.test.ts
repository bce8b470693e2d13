/**
 * How the @mp packages name each other (the rule in src/ranges.ts, DESIGN §12), checked on the workspace
 * manifests — what `pnpm pack` rewrites is checked in manifests.test.ts — and on made-up manifests that
 * break each part of the rule once, so the check itself is known to catch them.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../src/pack.js';
import { rangeProblems, type Manifest } from '../src/ranges.js';

const workspace: Manifest[] = ['packages', 'tools', 'examples'].flatMap((base) =>
  readdirSync(join(ROOT, base))
    .map((d) => join(ROOT, base, d, 'package.json'))
    .filter((f) => existsSync(f))
    .map((f) => JSON.parse(readFileSync(f, 'utf8')) as Manifest),
);

describe('@mp ranges between packages', () => {
  it('the workspace follows the rule: workspace:^ between packages, eal and memory as peers of the libraries on the group, private helpers as workspace:* devDependencies, addon tools as dependencies', () => {
    expect(workspace.filter((m) => !m.private).length).toBeGreaterThan(5);
    expect(rangeProblems(workspace)).toEqual([]);
  });

  const base: Manifest[] = [
    { name: '@mp/memory', version: '0.1.0', dependencies: { 'node-gyp-build': '^4' } },
    { name: '@mp/eal', version: '0.1.0', dependencies: { '@mp/memory': 'workspace:^' } },
    { name: '@mp/ring', version: '0.1.0', peerDependencies: { '@mp/eal': 'workspace:^', '@mp/memory': 'workspace:^' }, devDependencies: { '@mp/eal': 'workspace:^', '@mp/memory': 'workspace:^', '@mp/test-utils': 'workspace:*' } },
    { name: '@mp/cli', version: '0.1.0', bin: { mp: 'x' }, dependencies: { '@mp/eal': 'workspace:^', '@mp/memory': 'workspace:^' } },
    { name: '@mp/test-utils', version: '0.0.0', private: true },
  ];
  const edit = (name: string, f: (m: Manifest) => void): Manifest[] =>
    base.map((m) => {
      const c = structuredClone(m);
      if (c.name === name) f(c);
      return c;
    });

  it.each([
    ['a workspace:* range between published packages', edit('@mp/eal', (m) => (m.dependencies!['@mp/memory'] = 'workspace:*')), /rule 1/],
    ['a peer range that is not workspace:^', edit('@mp/ring', (m) => (m.peerDependencies!['@mp/eal'] = 'workspace:^0')), /rule 1/],
    ['eal as a dependency of a library', edit('@mp/ring', (m) => (m.dependencies = { '@mp/eal': 'workspace:^' })), /@mp\/eal is a dependency \(rule 2/],
    ['a peer missing from devDependencies', edit('@mp/ring', (m) => delete m.devDependencies!['@mp/memory']), /not in devDependencies too/],
    ['memory missing as a peer', edit('@mp/ring', (m) => delete m.peerDependencies!['@mp/memory']), /@mp\/memory is not a peer dependency/],
    ['an application taking eal as a peer', edit('@mp/cli', (m) => (m.peerDependencies = { '@mp/eal': 'workspace:^' })), /an application/],
    ['another @mp library as a peer', edit('@mp/ring', (m) => (m.peerDependencies!['@mp/cli'] = 'workspace:^')), /rule 3/],
    ['a private helper in dependencies', edit('@mp/ring', (m) => (m.dependencies = { '@mp/test-utils': 'workspace:*' })), /rule 4/],
    ['a private helper as workspace:^', edit('@mp/ring', (m) => (m.devDependencies!['@mp/test-utils'] = 'workspace:^')), /rule 4/],
    ['node-gyp-build as a peer', edit('@mp/memory', (m) => (m.peerDependencies = { 'node-gyp-build': '^4' })), /rule 5/],
  ])('catches %s', (_label, manifests, reason) => {
    expect(rangeProblems(base)).toEqual([]);
    const found = rangeProblems(manifests);
    expect(found).toHaveLength(1);
    expect(found[0]).toMatch(reason);
  });
});
