// Reference: the CPU time (user + system) a bare CommonJS start has spent when its first line runs.
require('node:fs').writeSync(1, JSON.stringify({ cpuMs: ((u) => (u.user + u.system) / 1000)(process.cpuUsage()) }) + '\n');
