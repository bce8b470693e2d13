#!/usr/bin/env node
// Run a native-build command (node-gyp, prebuildify) with npm_config_nodedir set when npm knows a local
// Node headers dir. Machines without network cannot download headers; npm there is configured with a
// `nodedir`, but pnpm and turbo do not pass npm's config to scripts. Workspace-only: published packages
// load their prebuilds and never run this.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

const env = { ...process.env };
if (!env.npm_config_nodedir) {
  try {
    const dir = execFileSync('npm', ['config', 'get', 'nodedir'], { encoding: 'utf8', env: { PATH: env.PATH, HOME: env.HOME } }).trim();
    if (dir && dir !== 'undefined' && existsSync(join(dir, 'include', 'node', 'node_api.h'))) env.npm_config_nodedir = dir;
  } catch {
    // no npm config: node-gyp downloads headers as usual
  }
}
const [cmd, ...args] = process.argv.slice(2);
if (!cmd) {
  console.error('usage: with-nodedir.mjs <command> [args…]');
  process.exit(2);
}
const r = spawnSync(cmd, args, { stdio: 'inherit', env });
if (r.error) {
  console.error(`with-nodedir: ${cmd}: ${r.error.message}`);
  process.exit(127);
}
process.exit(r.status ?? 1);
