// Reference: what Node itself costs of an attach, with none of @mp's code run: resolve @mp/eal, and from
// its directory @mp/memory/internal, through their exports maps (Node loads its package resolver on the
// first), load node:vm (the code cache's vm.Script) and open the @mp/memory addon (process.dlopen) — the
// steps an attach cannot skip. The bench subtracts it from the attach's CPU: what is left is @mp's own,
// the two bundles' cache reads and deserialisation (V8's), and init()'s and the lookup's system calls.
const { dirname, join } = require('node:path');
const { existsSync, writeSync } = require('node:fs');
const cpu = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1000; };
const c0 = cpu();
const eal = require.resolve('@mp/eal');
const memory = require.resolve('@mp/memory/internal', { paths: [dirname(eal)] });
require('node:vm');
const root = join(dirname(memory), '..');
const local = join(root, 'build', 'Release', 'mp_memory.node');
process.dlopen({ exports: {} }, existsSync(local) ? local : join(root, 'prebuilds', `linux-${process.arch}`, '@mp+memory.glibc.node'));
const c1 = cpu();
writeSync(1, JSON.stringify({ cpuStartMs: c0, cpuMs: c1 }) + '\n');
