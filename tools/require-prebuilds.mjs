#!/usr/bin/env node
// prepack of every native package: refuse to pack a tarball that would ship no prebuild. Consumers load the
// prebuild (installs run no compiler), so a tarball without one is broken for nearly everyone. Run by pnpm
// with the package directory as cwd; workspace-only (the published manifest carries no scripts).
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { TARGETS, missing as cannotBuild } from './prebuild-targets.mjs';

/**
 * The prebuild directories a pack must carry (`prebuilds/<platform>-<arch>/`): every target this machine
 * can build (prebuild-targets.mjs). A release checks first that it can build them all (`--all`), so a
 * released tarball carries every target; a machine without a cross compiler can still pack for tests.
 */
const REQUIRED = [...new Set(TARGETS.filter((t) => cannotBuild(t) === undefined).map((t) => t.dir))];

const missing = [];
for (const target of REQUIRED) {
  const dir = join(process.cwd(), 'prebuilds', target);
  const files = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.node') && statSync(join(dir, f)).size > 0) : [];
  if (files.length === 0) missing.push(dir);
}
if (missing.length > 0) {
  console.error(
    `refusing to pack: no prebuild in ${missing.join(', ')}. ` +
      `Run 'pnpm prebuildify' at the repository root (it builds every native package's prebuilds) and pack again.`,
  );
  process.exit(1);
}
