// q= (issue 21) on fixtures/pg/search.sql, each way a table is searched: full text of columns
// the config names (the generated index is the one the query uses), a tsvector the table keeps,
// and trigram indexes (substrings). Answers compared with the SQL that ranks them by hand; q
// goes with the list's filters, count, paging, export and aggregate, and is always a parameter.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { BASE, call, db, expectError, expectStatus } from './lib.mjs';

let client;
const articles = [
  { title: 'Running PostgreSQL in production', body: 'Backups, replicas and vacuum: how we run Postgres.', published: true },
  { title: 'A cooking diary', body: 'Bread, running late, and soup.', published: true },
  { title: 'MySQL notes', body: 'Not about postgres at all, really', published: false },
  { title: 'Gardening', body: 'Tomatoes and beans', published: true },
  { title: 'Search engines', body: 'Ranking, stemming and the runner up', published: false },
];
const DOCUMENT = `to_tsvector('english'::regconfig, coalesce("title", '') || ' ' || coalesce("body", ''))`;

before(async () => {
  client = await db();
  for (const a of articles) expectStatus(await call('POST', '/articles', a), 201, 'article');
  for (const body of ['The quick fox jumps over the dog', 'Dogs sleep all day', 'Nothing to see']) {
    expectStatus(await call('POST', '/notes', { body }), 201, 'note');
  }
  for (const [name, sku] of [
    ['Blue widget', 'W-100'],
    ['Widget stand', 'S-200'],
    ['Gadget', 'WIDG-300'],
    ['Discount 50% off', 'D_1'],
    ['Discount 500 off', 'D-2'],
  ]) {
    expectStatus(await call('POST', '/products', { name, sku }), 201, 'product');
  }
});

after(() => client?.end());

const list = async (path) => expectStatus(await call('GET', path), 200, path).body;

test('full text of configured columns: stemmed, web-search syntax, ranked as ts_rank_cd ranks them', async () => {
  for (const q of ['running', 'postgres', '"running late"', 'postgres -mysql', 'bread or tomatoes']) {
    const got = await list(`/articles?q=${encodeURIComponent(q)}&count=exact`);
    const { rows } = await client.query(
      `SELECT id FROM app.articles WHERE ${DOCUMENT} @@ websearch_to_tsquery('english', $1)
        ORDER BY ts_rank_cd(${DOCUMENT}, websearch_to_tsquery('english', $1)) DESC, id`,
      [q],
    );
    assert.deepEqual(
      got.data.map((a) => a.id),
      rows.map((r) => r.id),
      q,
    );
    assert.ok(rows.length > 0, `${q} finds something`);
    assert.equal(got.meta.count, rows.length, `${q}: count`);
  }
  // "running" finds "Running" and "runner"'s stem only where the stems meet; "run" as well.
  const run = await list('/articles?q=run');
  assert.ok(run.data.some((a) => a.title.startsWith('Running')));
  // With the list's filters, and with an explicit sort (then cursor paging works again).
  const published = await list('/articles?q=running&published=eq.true&sort=title');
  assert.deepEqual(
    published.data.map((a) => a.title),
    ['A cooking diary', 'Running PostgreSQL in production'],
  );
  const page = await list('/articles?q=postgres&sort=title&limit=1');
  assert.ok(page.meta.nextCursor);
  const next = await list(`/articles?q=postgres&sort=title&limit=1&cursor=${page.meta.nextCursor}`);
  assert.notEqual(next.data[0].id, page.data[0].id);
  // Ranked rows page with offset; a cursor there is a 400.
  const ranked = await list('/articles?q=postgres&limit=1');
  assert.equal(ranked.meta.nextCursor, undefined);
  expectError(await call('GET', `/articles?q=postgres&cursor=${page.meta.nextCursor}`), 400, 'cursor on ranked rows');
});

test('the query uses the index the generated SQL made', async () => {
  const idx = await client.query(
    "SELECT indexname FROM pg_indexes WHERE schemaname = 'app' AND tablename = 'articles' AND indexname ~ '^articles_search_[0-9a-f]{8}$' AND indexdef LIKE '% USING gin (to_tsvector(%'",
  );
  assert.equal(idx.rows.length, 1, 'db/80-search.sql made it (its name carries a hash of its expression)');
  await client.query('BEGIN');
  try {
    await client.query('SET LOCAL enable_seqscan = off');
    const plan = await client.query(
      `EXPLAIN SELECT id FROM app.articles WHERE ${DOCUMENT} @@ websearch_to_tsquery('english'::regconfig, $1)`,
      ['postgres'],
    );
    assert.match(plan.rows.map((r) => r['QUERY PLAN']).join('\n'), new RegExp(idx.rows[0].indexname));
  } finally {
    await client.query('ROLLBACK');
  }
});

test('a tsvector the table keeps is searched as it is', async () => {
  const got = await list('/notes?q=jumping');
  assert.deepEqual(
    got.data.map((n) => n.body),
    ['The quick fox jumps over the dog'],
  );
  const dogs = await list('/notes?q=dog');
  assert.equal(dogs.data.length, 2);
});

test('trigram indexes: case-insensitive substrings of any indexed column, wildcards taken literally', async () => {
  const w = await list('/products?q=WIDG');
  // Earlier matches first: "Widget stand" (name, position 1), "Gadget" (sku WIDG-300, position 1), then "Blue widget" (6).
  assert.deepEqual(w.data.map((p) => p.name).sort(), ['Blue widget', 'Gadget', 'Widget stand']);
  assert.equal(w.data[w.data.length - 1].name, 'Blue widget');
  assert.deepEqual(
    (await list(`/products?q=${encodeURIComponent('50%')}`)).data.map((p) => p.name),
    ['Discount 50% off'],
  );
  assert.deepEqual(
    (await list('/products?q=D_')).data.map((p) => p.sku),
    ['D_1'],
  );
});

test('trigram search with an explicit sort, a count, an export and an aggregate (the relevance is bound only when it orders)', async () => {
  const sorted = await list('/products?q=widg&sort=name&count=exact');
  assert.deepEqual(
    sorted.data.map((p) => p.name),
    ['Blue widget', 'Gadget', 'Widget stand'],
  );
  assert.equal(sorted.meta.count, 3);
  assert.equal((await list('/products?q=widg&count=exact')).meta.count, 3);
  assert.deepEqual((await list('/products/aggregate?q=widg')).data, [{ count: 3 }]);
  const res = await fetch(`${BASE}/products/export?format=ndjson&q=widg&sort=name`);
  assert.equal(res.status, 200);
  assert.equal((await res.text()).trim().split('\n').length, 3);
});

test('search vectors are searched, never returned', async () => {
  const notes = await list('/notes');
  assert.ok(notes.data.length > 0 && notes.data.every((n) => !('doc' in n)), JSON.stringify(notes.data[0]));
  expectError(await call('GET', '/notes?doc=eq.x'), 400, 'nor filtered');
  expectError(await call('GET', '/notes/aggregate?group=doc'), 400, 'nor grouped');
});

test('wide rows: exports fetch fewer of them at a time; an XLSX too large to build whole is a 400', async () => {
  await client.query(
    "INSERT INTO app.articles (title, body) SELECT 'wide ' || g, repeat(md5(g::text), 900) FROM generate_series(1, 2500) g",
  );
  try {
    const res = await fetch(`${BASE}/articles/export?format=ndjson&title=like.wide*&select=title,body`);
    assert.equal(res.status, 200);
    const lines = (await res.text()).trim().split('\n');
    assert.equal(lines.length, 2500);
    assert.equal(JSON.parse(lines[0]).body.length, 28_800);
    const big = await call('GET', '/articles/export?format=xlsx&title=like.wide*&select=title,body');
    expectError(big, 400, 'over the XLSX size a sheet is built with');
    assert.match(big.body.message, /too large/);
  } finally {
    await client.query("DELETE FROM app.articles WHERE title LIKE 'wide %'");
  }
});

test('q goes with export and aggregate; bad searches are 400s; OpenAPI documents it where it applies', async () => {
  const found = await list('/articles?q=postgres&limit=100');
  const res = await fetch(`${BASE}/articles/export?format=ndjson&q=postgres`);
  assert.equal(res.status, 200);
  assert.deepEqual(
    (await res.text())
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l)),
    found.data,
  );
  const agg = await list('/articles/aggregate?q=postgres&group=published&agg=count');
  assert.equal(
    agg.data.reduce((n, g) => n + g.count, 0),
    found.data.length,
  );
  expectError(await call('GET', '/plain?q=x'), 400, 'a table without search');
  expectError(await call('GET', '/articles?q='), 400, 'empty');
  expectError(await call('GET', `/articles?q=${'x'.repeat(201)}`), 400, 'too long');
  expectError(await call('GET', '/articles?q=a&q=b'), 400, 'twice');
  expectError(await call('GET', `/articles?q=${encodeURIComponent('a b c d e f g h i')}`), 400, 'more than 8 words');
  expectError(await call('GET', `/articles?q=${encodeURIComponent('-postgres -mysql')}`), 400, 'only exclusions (every row)');
  expectError(await call('GET', `/articles?q=${'-'.repeat(60)}`), 400, 'no word at all');
  // A run of dashes says nothing (PostgreSQL's tsquery parser overflows on it): it is dropped.
  assert.deepEqual((await list(`/notes?q=${encodeURIComponent(`${'-'.repeat(60)} jumping`)}`)).data.length, 1);
  // Whatever q says, it is a parameter: this finds nothing and breaks nothing.
  assert.deepEqual((await list(`/articles?q=${encodeURIComponent("') OR 1=1 --")}`)).data, []);
  assert.deepEqual((await list(`/products?q=${encodeURIComponent("' OR ''='")}`)).data, []);
  const doc = expectStatus(await call('GET', '/docs-json'), 200, 'docs').body;
  const params = (path) => doc.paths[path].get.parameters.map((p) => p.name);
  for (const path of ['/articles', '/articles/export', '/articles/aggregate', '/notes', '/products'])
    assert.ok(params(path).includes('q'), path);
  assert.ok(!params('/plain').includes('q'));
});
