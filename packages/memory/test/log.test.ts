// The log sink: setLogger routes every line that passes the level to the application; undefined
// restores stderr; a sink that throws never breaks the caller.
import { afterEach, expect, it } from 'vitest';
import { logEnabled, setLogLevel, setLogger } from '../dist/index.js';
import { log } from '../dist/internal.js';
import type { LogRecord } from '../dist/index.js';

afterEach(() => {
  setLogger(undefined);
  setLogLevel('notice');
});

it('lines at or above the level reach the installed sink, in order, and nothing else', () => {
  const got: LogRecord[] = [];
  setLogger((r) => got.push(r));
  setLogLevel('info');
  log('debug', 'EAL', 'hidden');
  log('info', 'EAL', 'shown');
  log('error', 'IPC', 'bad');
  expect(got).toEqual([
    { level: 'info', component: 'EAL', message: 'shown' },
    { level: 'error', component: 'IPC', message: 'bad' },
  ]);
  expect(logEnabled('debug')).toBe(false);
  setLogLevel(8);
  expect(logEnabled('debug')).toBe(true);
  log('debug', 'MEM', 'now shown');
  expect(got.at(-1)).toEqual({ level: 'debug', component: 'MEM', message: 'now shown' });
});

it('setLogger returns the sink it replaced; undefined restores stderr; a throwing sink loses only its line', () => {
  const a = (): void => undefined;
  const stderrSink = setLogger(a);
  expect(setLogger(undefined)).toBe(a);
  expect(setLogger(undefined)).toBe(stderrSink);
  setLogger(() => {
    throw new Error('sink broke');
  });
  expect(() => log('error', 'EAL', 'x')).not.toThrow();
});
