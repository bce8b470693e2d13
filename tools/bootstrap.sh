#!/usr/bin/env bash
# Install everything the workspace needs on a fresh machine: pnpm, the locked dependencies, the native
# addons and the TypeScript builds. Used by README.md's first command and by .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v pnpm >/dev/null 2>&1; then
  npm i -g pnpm >/dev/null   # corepack cannot fetch pnpm on machines without general network access
fi
# node-gyp needs Node's headers; where npm knows a local copy (no network for a download), use it.
if [ -z "${npm_config_nodedir:-}" ]; then
  nd=$(npm config get nodedir 2>/dev/null || true)
  if [ -n "$nd" ] && [ "$nd" != "undefined" ] && [ -f "$nd/include/node/node_api.h" ]; then export npm_config_nodedir="$nd"; fi
fi
pnpm install --frozen-lockfile
pnpm build
