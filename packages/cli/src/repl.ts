/**
 * `mp telemetry`: dpdk-telemetry.py's prompt for an @mp group (works with a DPDK application's socket
 * too): connect to instance `-i <n>` (0: the primary), print the greeting, then send each line starting
 * with '/' and print the JSON reply; `quit` or end of input leaves. Commands given on the command line
 * are sent one after the other instead, and their replies printed, one JSON per line.
 */
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { telemetrySocketName } from '@mp/eal';
import { TelemetryClient } from './client.js';

export async function runTelemetry(dir: string, o: { instance?: number; commands?: string[]; out?: NodeJS.WritableStream; input?: NodeJS.ReadableStream }): Promise<number> {
  const out = o.out ?? process.stdout;
  const path = join(dir, telemetrySocketName(o.instance ?? 0));
  const client = await TelemetryClient.connect(path);
  try {
    if (o.commands?.length) {
      for (const cmd of o.commands) out.write(`${JSON.stringify(await client.requestRaw(cmd))}\n`);
      return 0;
    }
    const input = o.input ?? process.stdin;
    const interactive = (input as NodeJS.ReadStream).isTTY === true;
    if (interactive) out.write(`Connecting to ${path}\n`);
    out.write(`${JSON.stringify(client.greeting)}\n`);
    const cmds = await client.request('/');
    const names = Array.isArray(cmds) ? cmds.map(String) : [];
    const rl = createInterface({
      input,
      output: interactive ? (out as NodeJS.WritableStream) : undefined,
      prompt: '--> ',
      completer: (line: string) => [names.filter((n) => n.startsWith(line)), line],
      terminal: interactive,
    });
    if (interactive) rl.prompt();
    for await (const raw of rl) {
      const text = raw.trim();
      if (text === 'quit') break;
      if (text.startsWith('/')) {
        const reply = await client.requestRaw(text);
        out.write(`${JSON.stringify(reply, null, interactive ? 2 : undefined)}\n`);
      }
      if (interactive) rl.prompt();
    }
    rl.close();
    return 0;
  } finally {
    client.close();
  }
}
