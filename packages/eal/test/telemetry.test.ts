// The telemetry registry and DPDK's reply rules (lib/telemetry/telemetry.c): names, unknown commands,
// failing handlers, parameters, /help, /info, output cut to max_output_len as valid JSON.
import { afterEach, expect, it } from 'vitest';
import { MAX_OUTPUT_LEN, formatReply, telemetry } from '../dist/index.js';

const added: string[] = [];
const reg = (cmd: string, fn: Parameters<typeof telemetry.register>[2], help = 'test'): void => {
  telemetry.register(cmd, help, fn);
  added.push(cmd);
};
afterEach(() => {
  for (const c of added.splice(0)) telemetry.unregister(c);
});
const code = (fn: () => unknown): string | undefined => {
  try {
    fn();
  } catch (err) {
    return (err as { code?: string }).code;
  }
  return undefined;
};

it.each([
  ['no leading slash', 'ring/list', 'h'],
  ['a space', '/ring list', 'h'],
  ['a comma', '/ring,list', 'h'],
  ['56 bytes', `/${'a'.repeat(55)}`, 'h'],
  ['a 128-byte help', '/ok', 'h'.repeat(128)],
])('register refuses %s (EINVAL)', (_why, cmd, help) => {
  expect(code(() => telemetry.register(cmd, help, () => null))).toBe('EINVAL');
  expect(telemetry.has(cmd)).toBe(false);
});

it('the protocol commands are there from the start; / lists every command sorted', async () => {
  reg('/test/a', () => 1);
  const list = JSON.parse(await telemetry.handle('/'))['/'] as string[];
  expect(list).toEqual([...list].sort());
  expect(list).toEqual(expect.arrayContaining(['/', '/help', '/info', '/eal/params', '/eal/app_params', '/eal/lcore/list', '/mp/processes', '/test/a']));
  expect(JSON.parse(await telemetry.handle('/info'))).toEqual({ '/info': { version: expect.any(String), pid: process.pid, max_output_len: MAX_OUTPUT_LEN } });
});

it('replies: data under the command; unknown, failing or async-failing commands give null', async () => {
  reg('/test/echo', (_c, p) => ({ p: p ?? null }));
  reg('/test/throw', () => {
    throw new Error('no');
  });
  reg('/test/reject', async () => Promise.reject(new Error('no')));
  reg('/test/big', () => 2n ** 40n);
  expect(await telemetry.handle('/test/echo')).toBe('{"/test/echo":{"p":null}}');
  expect(await telemetry.handle('/test/echo,')).toBe('{"/test/echo":{"p":null}}');
  expect(await telemetry.handle('/test/echo,x,y')).toBe('{"/test/echo":{"p":"x,y"}}');
  expect(await telemetry.handle(',,/test/echo,1')).toBe('{"/test/echo":{"p":"1"}}'); // strtok skips leading commas
  expect(await telemetry.handle('/test/throw')).toBe('{"/test/throw":null}');
  expect(await telemetry.handle('/test/reject')).toBe('{"/test/reject":null}');
  expect(await telemetry.handle('/test/big')).toBe('{"/test/big":1099511627776}');
  expect(await telemetry.handle('/nope,1')).toBe('{"/nope":null}');
  expect(await telemetry.handle('')).toBe('{"none":null}');
  expect(await telemetry.handle('"quote')).toBe('{"\\"quote":null}');
  expect(await telemetry.handle('/help,/test/echo')).toBe('{"/help":{"/test/echo":"test"}}');
  expect(await telemetry.handle('/help')).toBe('{"/help":null}');
  // Registering again replaces.
  reg('/test/echo', () => 'second');
  expect(await telemetry.handle('/test/echo')).toBe('{"/test/echo":"second"}');
});

it.each([
  ['an array', Array.from({ length: 3000 }, (_, i) => `item-${i}`)],
  ['an object', Object.fromEntries(Array.from({ length: 3000 }, (_, i) => [`key-${i}`, i]))],
  ['a string', 'x'.repeat(20_000)],
])('output longer than max_output_len is cut to valid JSON within the limit: %s', (_kind, data) => {
  const text = formatReply('/test/long', data);
  expect(Buffer.byteLength(text)).toBeLessThanOrEqual(MAX_OUTPUT_LEN);
  const parsed = JSON.parse(text)['/test/long'];
  if (Array.isArray(data)) {
    expect(parsed.length).toBeGreaterThan(1000);
    expect(parsed).toEqual(data.slice(0, parsed.length));
    // One more element would not have fitted.
    expect(Buffer.byteLength(formatReply('/test/long', data.slice(0, parsed.length + 1)))).toBeGreaterThan(0);
    expect(Buffer.byteLength(JSON.stringify({ '/test/long': data.slice(0, parsed.length + 1) }))).toBeGreaterThan(MAX_OUTPUT_LEN);
  } else if (typeof data === 'object') {
    const keys = Object.keys(parsed);
    expect(keys.length).toBeGreaterThan(500);
    expect(keys).toEqual(Object.keys(data).slice(0, keys.length));
  } else {
    expect(parsed).toBeNull();
  }
  const small = formatReply('/x', [1, 2, 3]);
  expect(small).toBe('{"/x":[1,2,3]}');
});
