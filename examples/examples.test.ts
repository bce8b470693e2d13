/**
 * Every example in README.md runs with its one command and reports success: real primaries and
 * secondaries, as a user would start them (`pnpm --filter <name> start` runs the same `node` entry).
 */
import { describe, expect, it } from 'vitest';
import { execFile, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

function start(example: string, which = 'start'): Promise<{ code: number; out: string }> {
  const dir = join(import.meta.dirname, example);
  const script = (JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts[which]!;
  const [cmd, ...args] = script.split(' ');
  expect(cmd).toBe('node');
  return new Promise((resolve) => {
    execFile(process.execPath, args, { cwd: dir, timeout: 100_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, out: `${stdout}${stderr}` });
    });
  });
}

describe('examples', () => {
  it.each([
    ['basic-mp', /ring 'items' delivered 200000 of 200000 items, 0 duplicates, 0 missing[\s\S]*group closed, files removed/],
    ['simple-mp', /received: ring ok/],
    ['client-server-mp', /all verified/],
    ['symmetric-mp', /consumed 1000000 of 1000000 items, checksum verified/],
    ['flow-table-mp', /both secondaries classified their traffic correctly/],
    ['ipc-mp', /both secondaries left; done/],
    ['l2fwd-mp', /l2fwd verified: every frame forwarded once, in order, MACs swapped/],
    ['l2fwd-mp start:memif', /l2fwd verified: every frame forwarded once, in order, MACs swapped/],
  ])('%s runs and verifies its result', async (label, expected) => {
    const [name, script] = label.split(' ');
    const r = await start(name!, script);
    expect(r.out).toMatch(expected);
    expect(r.code, r.out).toBe(0);
  });

  const noTwoHosts = process.getuid?.() !== 0 ? 'needs root' : spawnSync('nats-server', ['--version']).status !== 0 ? 'needs nats-server' : undefined;
  it.skipIf(noTwoHosts !== undefined)(`two-hosts-mp start:short runs and verifies its result${noTwoHosts ? ` (skipped: ${noTwoHosts})` : ''}`, async () => {
    const r = await start('two-hosts-mp', 'start:short');
    expect(r.out).toMatch(/B: received \d+\/s[\s\S]*two-hosts verified: (\d+) of \1 elements arrived on B, in order, none twice/);
    expect(r.code, r.out).toBe(0);
  });

  const root = process.getuid?.() === 0;
  it.skipIf(!root)(`l2fwd-mp start:iface (net_af_packet over veths in a namespace it makes and deletes) runs and verifies its result${root ? '' : ' — skipped: needs root'}`, async () => {
    const r = await start('l2fwd-mp', 'start:iface');
    expect(r.out).toMatch(/l2fwd verified: every frame forwarded once, in order, MACs swapped/);
    expect(r.out).toMatch(/network namespace l2fwd\d+ deleted/);
    expect(r.code, r.out).toBe(0);
  });
});
