/**
 * Run-time code generation is an optimisation, never a requirement: under
 * `node --disallow-code-generation-from-strings` every table works through the generic paths with the
 * same results (the suite's representative subset, fixtures/suite.mjs, run in a child process: the
 * vitest worker itself cannot run under that flag). And the generator accepts only integer literals.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { uniquePrefix } from '@mp/test-utils';
import { describe, expect, it } from 'vitest';
import { js } from '../src/codegen.js';

const run = promisify(execFile);
const SUITE = join(import.meta.dirname, 'fixtures', 'suite.mjs');

async function suite(flags: string[]): Promise<{ codegen: boolean; mismatches: string[]; digest: string; tables: number }> {
  const { stdout } = await run(process.execPath, [...flags, SUITE, uniquePrefix('cg')], { env: { ...process.env, MP_HASH_NATIVE: '0' } });
  return JSON.parse(stdout.trim().split('\n').pop()!) as { codegen: boolean; mismatches: string[]; digest: string; tables: number };
}

describe('code generation', () => {
  it('disallowed (--disallow-code-generation-from-strings): Hash.create works and every lookup form matches the model and the generated paths bit for bit', async () => {
    const [off, on] = await Promise.all([suite(['--disallow-code-generation-from-strings']), suite([])]);
    expect(off.codegen, 'the flag did not block new Function (this test would prove nothing)').toBe(false);
    expect(on.codegen).toBe(true);
    expect(off.mismatches).toEqual([]);
    expect(on.mismatches).toEqual([]);
    expect(off.tables).toBe(6);
    expect(off.digest).toBe(on.digest);
  });

  it('the js tag accepts integer literals and generated code only', () => {
    expect(js`a = ${3} + ${js`b`};`.src).toBe('a = 3 + b;');
    expect(() => js`${1.5}`).toThrow(TypeError);
    expect(() => js`${Number.NaN}`).toThrow(TypeError);
    expect(() => js`${'x' as unknown as number}`).toThrow(TypeError);
    expect(() => js`${2 ** 60}`).toThrow(TypeError);
  });
});
