// Preloaded into a generated app by the tests (node --import <this> dist/main.js, run in the
// project's folder): the app's own tenant and owner filters are dropped, so what still isolates
// tenants and owners is row-level security alone. Generated apps have no switch for this.
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const { CrudRepository } = await import(pathToFileURL(join(process.cwd(), 'dist/core/crud/repository.js')).href);
if (typeof CrudRepository?.prototype?.enforcedFilters !== 'function') {
  throw new Error('CrudRepository.enforcedFilters is gone: update e2e/without-app-filters.mjs');
}
CrudRepository.prototype.enforcedFilters = function enforcedFilters() {
  return [];
};
