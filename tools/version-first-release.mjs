#!/usr/bin/env node
// The version step of the FIRST release (0.1.0), run once from the repository root after every branch that
// adds changesets is merged: `node tools/version-first-release.mjs && pnpm install --offline`.
//
// Why not plain `changeset version`: the packages sit at an unreleased 0.1.0, which would become 0.2.0; and
// from 0.0.0 changesets bumps every package with a workspace:^ peer dependency on a bumped package to
// 1.0.0 (a peer range it leaves is a major change for it). So: every published package goes to 0.0.0,
// the peer ranges to workspace:^0 (which 0.1.0 satisfies), `changeset version` writes 0.1.0 and each
// CHANGELOG.md, then the peer ranges go back to workspace:^ (published as ^0.1.0, the range @mp/eal asks
// of @mp/memory, so package managers keep one copy). Later releases use `pnpm release`.
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..');
const dirs = readdirSync(join(root, 'packages')).map((d) => join(root, 'packages', d, 'package.json'));
const read = (f) => JSON.parse(readFileSync(f, 'utf8'));
const write = (f, j) => writeFileSync(f, `${JSON.stringify(j, null, 2)}\n`);
const peers = (j, from, to) => {
  for (const [name, range] of Object.entries(j.peerDependencies ?? {})) if (range === from) j.peerDependencies[name] = to;
};

for (const f of dirs) {
  const j = read(f);
  if (j.private) continue;
  j.version = '0.0.0';
  peers(j, 'workspace:^', 'workspace:^0');
  write(f, j);
}
execFileSync('pnpm', ['exec', 'changeset', 'version'], { cwd: root, stdio: 'inherit' });
for (const f of dirs) {
  const j = read(f);
  if (j.private) continue;
  if (j.version !== '0.1.0') throw new Error(`${j.name} became ${j.version}, not 0.1.0: a changeset asks for a major bump`);
  peers(j, 'workspace:^0', 'workspace:^');
  write(f, j);
}
