import { init } from '@mp/eal';
import { Mbuf, pktmbufPoolCreate } from '@mp/mempool';
init(['--file-prefix=smoke' + process.pid, '--proc-type=primary', '--no-huge', '-m', '512']);
const m = pktmbufPoolCreate('bm', 8192, { cacheSize: 256 });
const objs = new Uint32Array(32);
const cpu = (f) => { const c = process.cpuUsage(); f(); const d = process.cpuUsage(c); return ((d.user + d.system) * 1000 / 16e6).toFixed(2); };
for (let r = 0; r < 4; r++) {
  const a = cpu(() => { for (let i = 0; i < 5e5; i++) { m.getBulk(objs, 32); m.putBulk(objs, 32); } });
  const b = cpu(() => { for (let i = 0; i < 5e5; i++) { Mbuf.allocBulk(m, objs, 32); m.putBulk(objs, 32); } });
  const c = cpu(() => { for (let i = 0; i < 5e5; i++) { m.getBulk(objs, 32); Mbuf.freeBulk(objs, 32); } });
  console.log('get/put', a, 'alloc/put', b, 'get/freeBulk', c);
}
