#!/usr/bin/env node
// The version step of `pnpm release` (after the first release; that one is version-first-release.mjs):
// `changeset version`, without making a 0.x package 1.0.0 because of its peer dependencies.
//
// Why: ring, hash, ipc, mempool, pmd-vfio and bridge-nats take @mp/eal and @mp/memory as peers with
// `workspace:^` (published `^0.x.y`, the range @mp/eal asks of @mp/memory: tools/pack-check/src/ranges.ts).
// A minor release of eal or memory leaves that range, and changesets releases every such peer dependent
// as a MAJOR — 1.0.0 from 0.x (changesets issues 794, 1228). On 0.x a range that leaves the old line is a
// minor. So: each peer dependent of an eal or memory minor (or major) gets a minor changeset of its own
// (when its changesets ask for less), the peer ranges read `workspace:>=0.0.0` while `changeset version`
// runs (every version in range: no automatic major), and go back to `workspace:^` after — published as
// `^<the new version>`. Whether a package itself leaves 0.x is its own changesets' decision.
//
// Run from the repository root (or pass it): `node tools/version.mjs [root]`. Refuses (exit 1) when a
// package would still leave 0.x without a changeset of its own asking for major.
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const root = process.argv[2] ?? process.cwd();
const GROUP = ['@mp/eal', '@mp/memory'];
const RANK = { none: 0, patch: 1, minor: 2, major: 3 };
/** The peer range while changesets versions: every version satisfies it. */
const WIDE = 'workspace:>=0.0.0';

const read = (f) => JSON.parse(readFileSync(f, 'utf8'));
const write = (f, j) => writeFileSync(f, `${JSON.stringify(j, null, 2)}\n`);
const manifests = readdirSync(join(root, 'packages'))
  .map((d) => join(root, 'packages', d, 'package.json'))
  .filter((f) => {
    try {
      return read(f).private !== true;
    } catch {
      return false;
    }
  });

/** The bump each package's pending changesets ask for (the highest), from their front matter. */
function asked() {
  const dir = join(root, '.changeset');
  const out = new Map();
  for (const f of readdirSync(dir).filter((n) => n.endsWith('.md') && n !== 'README.md')) {
    const front = /^---\n([\s\S]*?)\n---/.exec(readFileSync(join(dir, f), 'utf8'))?.[1] ?? '';
    for (const m of front.matchAll(/^\s*["']?([^"':\s]+)["']?\s*:\s*(major|minor|patch|none)\s*$/gm)) {
      if (RANK[m[2]] > RANK[out.get(m[1]) ?? 'none']) out.set(m[1], m[2]);
    }
  }
  return out;
}

/** Set every group peer range `from` to `to`. */
function peers(from, to) {
  for (const f of manifests) {
    const j = read(f);
    let changed = false;
    for (const g of GROUP) {
      if (j.peerDependencies?.[g] === from) {
        j.peerDependencies[g] = to;
        changed = true;
      }
    }
    if (changed) write(f, j);
  }
}

const before = new Map(manifests.map((f) => [read(f).name, read(f).version]));
const bumps = asked();
const newLine = GROUP.filter((g) => RANK[bumps.get(g) ?? 'none'] >= RANK.minor);
if (newLine.length > 0) {
  for (const f of manifests) {
    const j = read(f);
    const on = newLine.filter((g) => j.peerDependencies?.[g] === 'workspace:^');
    if (on.length === 0 || RANK[bumps.get(j.name) ?? 'none'] >= RANK.minor) continue;
    writeFileSync(
      join(root, '.changeset', `peer-line-${j.name.replace(/^@mp\//, '')}.md`),
      `---\n"${j.name}": minor\n---\n\nPeer dependencies on the new release line of ${on.join(' and ')} (this release asks for ${on.join(' and ')} at the versions released with it).\n`,
    );
  }
}
peers('workspace:^', WIDE);
try {
  execFileSync(join(import.meta.dirname, '..', 'node_modules', '.bin', 'changeset'), ['version'], { cwd: root, stdio: 'inherit' });
} finally {
  peers(WIDE, 'workspace:^');
}
const leaving = manifests
  .map((f) => read(f))
  .filter((j) => before.get(j.name)?.startsWith('0.') && !j.version.startsWith('0.') && bumps.get(j.name) !== 'major');
if (leaving.length > 0) {
  console.error(`version.mjs: ${leaving.map((j) => `${j.name} ${before.get(j.name)} → ${j.version}`).join(', ')}: leaves 0.x without a major changeset of its own`);
  process.exit(1);
}
