import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const BIN = fileURLToPath(new URL('../bin/mp.js', import.meta.url));
export const MEMBER = fileURLToPath(new URL('./fixtures/member.mjs', import.meta.url));

/** Run `mp` with args; resolve with exit code and output (never rejects on a non-zero exit). */
export function mp(args: string[], o: { input?: string } = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [BIN, ...args], { timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
    if (o.input !== undefined) child.stdin!.end(o.input);
  });
}

/** A private base dir for groups (so `mp ls`/`cleanup` in a test never see other tests' groups). */
export function makeBase(): { base: string; remove(): void } {
  const base = mkdtempSync(join(tmpdir(), 'mp-cli-'));
  return { base, remove: () => rmSync(base, { recursive: true, force: true }) };
}

/** Run a command to completion, collecting its output. */
export function run(cmd: string, args: string[], o: { input?: string; env?: NodeJS.ProcessEnv } = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { env: { ...process.env, ...o.env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(o.input ?? '');
  });
}
