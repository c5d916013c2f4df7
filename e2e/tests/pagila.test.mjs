// A real pg_dump (pagila, fixtures/real/pagila) loaded as dumped, served by the project
// generated from the same file: every route answers, and the database's own machinery
// (domains, enums, arrays, a trigger that fills a NOT NULL search vector, partitions,
// ON DELETE RESTRICT) shows through as correct HTTP.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { call, expectError, expectStatus } from './lib.mjs';

test('every list route answers', async () => {
  const doc = expectStatus(await call('GET', '/docs-json'), 200, 'OpenAPI').body;
  const lists = Object.keys(doc.paths).filter((p) => !p.includes('{') && !p.startsWith('/health') && doc.paths[p].get);
  assert.ok(lists.length >= 20, `only ${lists.length} list routes`);
  for (const path of lists) {
    const r = await call('GET', `${path}?limit=2`);
    // A materialized view dumped WITH NO DATA cannot be read until it is refreshed.
    if (r.status === 503) assert.match(r.body.message, /materialized view/, path);
    else expectStatus(r, 200, `GET ${path}`);
  }
});

test('writes go through domains, enums, arrays and triggers', async () => {
  const lang = expectStatus(await call('POST', '/language', { name: 'English' }), 201, 'language').body.data;
  const actor = expectStatus(await call('POST', '/actor', { firstName: 'PENELOPE', lastName: 'GUINESS' }), 201, 'actor').body.data;
  // fulltext is tsvector NOT NULL with no default: the BEFORE INSERT trigger fills it.
  const film = expectStatus(
    await call('POST', '/film', {
      title: 'ACADEMY DINOSAUR',
      description: 'An epic drama',
      languageId: lang.languageId,
      releaseYear: 2006,
      rating: 'PG-13',
      specialFeatures: ['Trailers', 'Deleted Scenes'],
    }),
    201,
    'film',
  ).body.data;
  assert.equal(film.rating, 'PG-13');
  assert.deepEqual(film.specialFeatures, ['Trailers', 'Deleted Scenes']);
  // The search vector holds its sources' words: never returned. The trigger filled it: q=
  // searches it (found in the dump, with its sources, issue 21), stemmed English, ranked.
  assert.equal(film.fulltext, undefined);
  expectStatus(
    await call('POST', '/film', {
      title: 'DINOSAUR SECRETARY',
      description: 'A dinosaur and a dinosaur hunter',
      languageId: lang.languageId,
    }),
    201,
    'second film',
  );
  const searched = expectStatus(await call('GET', '/film?q=dinosaurs'), 200, 'search').body.data.map((f) => f.title);
  assert.deepEqual(searched, ['DINOSAUR SECRETARY', 'ACADEMY DINOSAUR'], 'more mentions rank first');
  assert.deepEqual(expectStatus(await call('GET', '/film?q=drama -dinosaur'), 200, 'exclusion').body.data, []);
  expectError(
    await call('POST', '/film', { title: 'X', languageId: lang.languageId, fulltext: 'x' }),
    400,
    "the search vector is the trigger's",
  );
  expectError(await call('POST', '/film', { title: 'X', languageId: lang.languageId, rating: 'XXX' }), 400, 'enum value');
  expectError(await call('POST', '/film', { title: 'X', languageId: lang.languageId, releaseYear: 1800 }), 400, 'domain year CHECK');
  expectStatus(await call('POST', '/film-actor', { actorId: actor.actorId, filmId: film.filmId }), 201, 'film actor');
  expectStatus(await call('GET', `/film-actor/${actor.actorId}/${film.filmId}`), 200, 'composite key');
  // ON DELETE RESTRICT: the film is still referenced.
  expectError(await call('DELETE', `/film/${film.filmId}`), 409, 'referenced film');
  expectStatus(await call('DELETE', `/film-actor/${actor.actorId}/${film.filmId}`), 204, 'unlink');
  expectStatus(await call('DELETE', `/film/${film.filmId}`), 204, 'delete film');
  const found = expectStatus(await call('GET', `/actor?lastName=eq.GUINESS&sort=-actorId`), 200, 'filter').body.data;
  assert.equal(found[0].actorId, actor.actorId);
});

test('a partitioned table is served through its parent', async () => {
  const doc = expectStatus(await call('GET', '/docs-json'), 200, 'OpenAPI').body;
  assert.ok(doc.paths['/payment'], 'payment route');
  assert.ok(!Object.keys(doc.paths).some((p) => p.startsWith('/payment-p')), 'no routes for partitions');
});
