// The HTTP load of the benchmarks (bench-cache.mjs, bench-http.mjs): CONCURRENCY requests in
// flight on keep-alive connections for a number of seconds; requests per second and latency
// percentiles. The load runs on the same machine as the servers, the same way for each.
import http from 'node:http';

/**
 * Load `base` for `seconds`: `request(i)` gives the i-th request ({ path, method?, body?,
 * headers? }); every answer must have `status` (default 200). Returns req/s, p50, p99 (ms) and a
 * count of each value of the `x-cache` header.
 */
export async function load(base, request, { seconds, concurrency, status = 200 }) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const one = (r) =>
    new Promise((resolve, reject) => {
      const body = r.body === undefined ? undefined : JSON.stringify(r.body);
      const headers = { ...(r.headers ?? {}), ...(body ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } : {}) };
      const req = http.request(base + r.path, { agent, method: r.method ?? 'GET', headers }, (res) => {
        res.resume();
        res.on('end', () => (res.statusCode === status ? resolve(res.headers['x-cache']) : reject(new Error(`${r.method ?? 'GET'} ${r.path}: ${res.statusCode}`))));
      });
      req.on('error', reject);
      req.end(body);
    });
  const end = performance.now() + seconds * 1000;
  const lat = [];
  const seen = {};
  let i = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < end) {
        const t = performance.now();
        const c = await one(request(i++));
        lat.push(performance.now() - t);
        seen[c] = (seen[c] ?? 0) + 1;
      }
    }),
  );
  agent.destroy();
  lat.sort((a, b) => a - b);
  const q = (p) => lat[Math.min(lat.length - 1, Math.floor(lat.length * p))].toFixed(1);
  return { rps: lat.length / seconds, p50: q(0.5), p99: q(0.99), seen };
}
