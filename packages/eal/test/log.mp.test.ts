// --log-level=debug: a process says what it did to the group (join, telemetry) on stderr, where the
// default level says nothing.
import { fileURLToPath } from 'node:url';
import { afterAll, expect, it } from 'vitest';
import { removeCreatedGroups, uniquePrefix, useAgents } from '@mp/test-utils';

const spawnAgent = useAgents(fileURLToPath(new URL('./fixtures/agent.mjs', import.meta.url)));
afterAll(() => removeCreatedGroups());

it('--log-level=debug prints the join and the telemetry socket; the default level prints neither', async () => {
  const prefix = uniquePrefix('log');
  const p = spawnAgent();
  await p.call('init', { args: [`--file-prefix=${prefix}`, '--no-huge'] });
  const s = spawnAgent();
  await s.call('init', { args: [`--file-prefix=${prefix}`, '--no-huge', '--proc-type=secondary', '--log-level=debug'] });
  // stderr and stdout are separate pipes: round trips until the stderr lines written during init arrive.
  for (let i = 0; i < 200 && !s.stderr.some((l) => l.startsWith('TELEMETRY')); i++) await s.call('list');
  expect(s.stderr.join('\n')).toMatch(new RegExp(`EAL: secondary pid ${s.pid} joined group '${prefix}' in \\S+ \\(slot 1\\)`));
  expect(s.stderr.join('\n')).toMatch(/TELEMETRY: serving \S+\/dpdk_telemetry\.v2:1/);
  expect(p.stderr.join('\n')).not.toMatch(/EAL: primary pid|TELEMETRY/);
});
