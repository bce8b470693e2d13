// Reference: the CPU time (user + system) a bare ES module start has spent when its first line runs.
const u = process.cpuUsage();
const { createRequire } = await import('node:module');
createRequire(import.meta.url)('node:fs').writeSync(1, JSON.stringify({ cpuMs: (u.user + u.system) / 1000 }) + '\n');
