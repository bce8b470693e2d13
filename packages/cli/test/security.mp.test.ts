// Telemetry sockets against another user (root runs the group, uid 65534 tries): the 0700 runtime dir
// and the 0600 socket keep it out; were both opened up, the server itself refuses the foreign peer
// (SO_PEERCRED). mp run as that user reads no group it does not own.
import { execFile } from 'node:child_process';
import { chmodSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { removeCreatedGroups, uniquePrefix, useAgents } from '@mp/test-utils';
import { BIN, MEMBER, makeBase } from './helpers.js';

const spawnAgent = useAgents(MEMBER);
const isRoot = process.getuid?.() === 0;
let b: ReturnType<typeof makeBase>;
beforeAll(() => {
  b = makeBase();
});
afterAll(() => {
  removeCreatedGroups();
  b.remove();
});

/** Connect as uid 65534 and report what happened: 'EACCES', 'closed' (no greeting) or the greeting. */
function connectAsNobody(path: string): Promise<string> {
  const py = `
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
try:
    s.connect(sys.argv[1])
except PermissionError:
    print('EACCES'); sys.exit(0)
data = s.recv(1024)
print(data.decode() if data else 'closed')
`;
  return new Promise((resolve, reject) => {
    execFile('python3', ['-c', py, path], { uid: 65534, gid: 65534, timeout: 10_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${err.message}\n${stderr}`));
      else resolve(stdout.trim());
    });
  });
}

it.skipIf(!isRoot)('uid 65534 cannot reach a group\'s telemetry socket, and is refused by SO_PEERCRED when let through (skipped: needs root)', async () => {
  chmodSync(b.base, 0o755);
  const prefix = uniquePrefix('clisec');
  const dir = join(b.base, prefix);
  const a = spawnAgent();
  await a.call('init', { args: [`--file-prefix=${prefix}`, `--runtime-dir=${dir}`, '--no-huge'] });
  const sock = join(dir, 'dpdk_telemetry.v2');
  expect(await connectAsNobody(sock)).toBe('EACCES');
  // Open the way on purpose: the server must still refuse the foreign uid.
  chmodSync(dir, 0o755);
  chmodSync(sock, 0o666);
  expect(await connectAsNobody(sock)).toBe('closed');
  chmodSync(dir, 0o700);
  // As that user, mp finds no readable group there (the config is root's and 0600).
  const r = await new Promise<{ code: number; stdout: string }>((resolve) =>
    execFile(process.execPath, [BIN, 'ls', '--json', '--base', b.base], { uid: 65534, gid: 65534 }, (err, stdout) => resolve({ code: err ? 1 : 0, stdout })),
  );
  expect(r.code).toBe(0);
  expect(JSON.parse(r.stdout).groups).toEqual([]);
});
