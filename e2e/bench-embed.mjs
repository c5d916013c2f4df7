// A list page with embedded rows against the same page without them, on one app in one run
// (issue 21): `select=*,customer(name,email),orderLines(sku,quantity,price)` (a to-one and a
// to-many embed) vs the plain list, alternately, ROUNDS times. Run by scripts/bench-embed.sh.
//   APP_URL, SECONDS_PER_ROUND, CONCURRENCY, ROUNDS
import { load } from './bench-load.mjs';

const APP = process.env.APP_URL;
const SECONDS = Number(process.env.SECONDS_PER_ROUND ?? 10);
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 32);
const ROUNDS = Number(process.env.ROUNDS ?? 2);
let seed = 42;
const random = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
// Pages at random places of the table (keyset conditions on the key).
const after = () => Math.floor(random() * 90000);
const cases = [
  ['plain list, 20 orders', () => ({ path: `/orders?limit=20&id=gt.${after()}` })],
  [
    '20 orders with customer and lines',
    () => ({ path: `/orders?limit=20&id=gt.${after()}&select=*,customer(name,email),orderLines(sku,quantity,price)` }),
  ],
];
const table = [];
for (const [, request] of cases) await load(APP, request, { seconds: 2, concurrency: CONCURRENCY });
for (let round = 1; round <= ROUNDS; round++) {
  const order = round % 2 ? cases : [...cases].reverse();
  const r = {};
  for (const [label, request] of order) r[label] = await load(APP, request, { seconds: SECONDS, concurrency: CONCURRENCY });
  const [plain, embedded] = cases.map(([label]) => r[label]);
  for (const [label] of cases) {
    const x = r[label];
    table.push(`| ${label} | ${round} | ${Math.round(x.rps)} | ${x.p50} | ${x.p99} | ${Math.round((100 * x.rps) / plain.rps)} % |`);
  }
  void embedded;
}
console.log(`\n${CONCURRENCY} in flight, ${SECONDS} s per measurement\n`);
console.log('| Request | Round | req/s | p50 ms | p99 ms | of the plain list |');
console.log('|---|---|---|---|---|---|');
for (const line of table) console.log(line);
