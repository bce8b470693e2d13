#!/usr/bin/env bash
# Unpack Debian's arm64 `nodejs` and the libraries it needs into a directory that `qemu-aarch64 -L <dir>`
# runs it from, for the arm64 prebuild load test (tools/pack-check/test/arm64-load.test.ts). Changes nothing
# on the host: apt works on its own lists, cache and an empty status file in a temp dir (no
# `dpkg --add-architecture`), and the packages are unpacked with dpkg-deb -x, never installed.
# Usage: tools/arm64-node.sh [dir]   (default: $MP_ARM64_SYSROOT, else ~/.cache/mp/arm64-node)
set -euo pipefail
dest=${1:-${MP_ARM64_SYSROOT:-${XDG_CACHE_HOME:-$HOME/.cache}/mp/arm64-node}}
if [ -x "$dest/usr/bin/node" ]; then echo "arm64-node: $dest is there"; exit 0; fi
for tool in apt-get dpkg-deb; do
  command -v "$tool" >/dev/null || { echo "arm64-node: $tool not found (a Debian host is needed)" >&2; exit 1; }
done
work=$(mktemp -d /tmp/mp-arm64-node.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/lists/partial" "$work/cache/archives/partial"
touch "$work/status"
apt=(apt-get -qq -o APT::Architectures::=amd64 -o APT::Architectures::=arm64 -o "Dir::State::Lists=$work/lists"
  -o "Dir::Cache=$work/cache" -o "Dir::State::status=$work/status" -o Debug::NoLocking=1 -o APT::Sandbox::User=root)
"${apt[@]}" update
# With an empty status file the download is the whole closure: libnode, libc6, libstdc++6, ICU, OpenSSL… and
# the arch-all JavaScript Debian's node loads from /usr/share/nodejs (cjs-module-lexer, acorn, undici).
"${apt[@]}" install --download-only --no-install-recommends -y nodejs:arm64 >/dev/null
mkdir -p "$work/root"
for deb in "$work"/cache/archives/*.deb; do dpkg-deb -x "$deb" "$work/root"; done
[ -x "$work/root/usr/bin/node" ] || { echo "arm64-node: no usr/bin/node in the unpacked packages" >&2; exit 1; }
mkdir -p "$(dirname "$dest")"
rm -rf "$dest"
mv "$work/root" "$dest"
echo "arm64-node: $(ls "$work"/cache/archives/*.deb | wc -l) packages unpacked into $dest"
