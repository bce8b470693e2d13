/**
 * What a consumer downloads: every published package is packed as a release packs it, and the tarball
 * (not the workspace) is checked — publint (manifest and files), @arethetypeswrong/cli (types resolve for
 * CommonJS and ESM consumers under node10, node16 and bundler resolution). Any message fails the test,
 * suggestions included, and the failure shows the tool's own report.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { publint } from 'publint';
import { formatMessage } from 'publint/utils';
import { beforeAll, describe, expect, it } from 'vitest';
import { packAll, publishedDirs, type Packed } from '../src/pack.js';

const run = promisify(execFile);
const require = createRequire(import.meta.url);
const attwBin = join(dirname(require.resolve('@arethetypeswrong/cli/package.json')), 'dist', 'index.js');

const names = publishedDirs().map((d) => JSON.parse(readFileSync(join(d, 'package.json'), 'utf8')).name as string);
let packed: Map<string, Packed>;

beforeAll(async () => {
  packed = new Map((await packAll()).map((p) => [p.name, p]));
});

describe.each(names)('%s tarball', (name) => {
  it('publint reports nothing (suggestions included)', async () => {
    const p = packed.get(name)!;
    const tarball = readFileSync(p.tarball);
    const { messages, pkg } = await publint({
      pack: { tarball: tarball.buffer.slice(tarball.byteOffset, tarball.byteOffset + tarball.byteLength) },
      level: 'suggestion',
      strict: true,
    });
    expect(messages.map((m) => `${m.type}: ${formatMessage(m, pkg)}`)).toEqual([]);
  });

  it('@arethetypeswrong/cli finds no problem for CJS or ESM consumers', async () => {
    const p = packed.get(name)!;
    const r = await run(process.execPath, [attwBin, p.tarball, '--format', 'json'], { maxBuffer: 64 << 20 }).then(
      (ok) => ({ code: 0, out: ok.stdout }),
      (err: { code?: number; stdout?: string; stderr?: string }) => ({ code: err.code ?? -1, out: `${err.stdout}${err.stderr}` }),
    );
    const report = JSON.parse(r.out.slice(r.out.indexOf('{'))) as { problems?: Record<string, unknown> | unknown[] };
    // attw's JSON: `problems` is an object (or array) of problem records; the kinds name what is wrong.
    const problems = Object.values(report.problems ?? {}).flat() as { kind?: string; entrypoint?: string; resolutionKind?: string }[];
    expect(problems.map((q) => `${q.kind} ${q.entrypoint ?? ''} ${q.resolutionKind ?? ''}`.trim())).toEqual([]);
    expect(r.code).toBe(0);
  });
});
