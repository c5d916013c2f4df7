import { bad } from './query.js';
import { type ResourceSpec, ident } from './resource.js';

/**
 * `q=`: full-text search of a resource's rows, as its spec says (generated from the config's
 * `search = [...]` or found in the schema):
 *   vector  — a tsvector column the table keeps: `col @@ websearch_to_tsquery(q)`, ranked by
 *             ts_rank_cd;
 *   text    — text columns: the same to_tsvector expression the generated SQL indexes;
 *   trigram — text columns with trigram indexes: a case-insensitive substring (the index answers
 *             ILIKE), earlier matches first.
 * `q` takes web-search syntax for full text (`"exact phrase" -word or other`) and is always a
 * parameter. With `q` and no `sort`, rows come by relevance.
 */
export interface SearchSpec {
  readonly kind: 'vector' | 'text' | 'trigram';
  readonly columns: readonly string[];
  /** Text search configuration (`english`); the database's default when absent (vector). */
  readonly config?: string;
  /**
   * `text`: the expression rows are matched against, exactly as the generated db/80-search.sql
   * indexes it (both made by the generator from one function, so the index always applies).
   */
  readonly document?: string;
}

export const MAX_QUERY = 200;

/** Most words (or quoted phrases) in `q`: each is a term of the text search or a pattern. */
export const MAX_TERMS = 8;

/**
 * Check `q`: a string, 1 to MAX_QUERY characters, at most MAX_TERMS terms, at least one of them
 * a word to find (terms without a letter or digit say nothing and are dropped; a full-text
 * search of only exclusions, `-a -b`, would read every row).
 */
function terms(raw: unknown, fullText: boolean): string {
  if (typeof raw !== 'string') bad('q may be given once');
  const q = raw.trim();
  if (q === '' || q.length > MAX_QUERY) bad(`q: 1 to ${MAX_QUERY} characters`);
  const words = q.split(/\s+/).filter((w) => /[\p{L}\p{N}]/u.test(w));
  if (words.length > MAX_TERMS) bad(`q: at most ${MAX_TERMS} words`);
  if (words.length === 0) bad('q: give at least one word to find');
  if (fullText && !words.some((w) => !w.startsWith('-'))) bad('q: give at least one word to find (-word only excludes)');
  return words.join(' ');
}

/**
 * The condition of a search for `q`, and its relevance (higher first) for when rows are
 * ordered by it: `rank()` binds what it needs only when called. `add` binds a parameter.
 */
export function searchSql(spec: ResourceSpec, raw: unknown, add: (v: unknown) => string): { where: string; rank: () => string } {
  const s = spec.search;
  if (!s) bad(`q: ${spec.name} rows are not searchable`);
  const q = terms(raw, s.kind !== 'trigram');
  if (s.kind === 'trigram') {
    const pattern = add(`%${q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`);
    const cols = s.columns.map(ident);
    return {
      where: `(${cols.map((c) => `${c} ILIKE ${pattern}`).join(' OR ')})`,
      // Earlier matches rank higher: minus the first position found (no match: far behind).
      rank: () => {
        const needle = add(q.toLowerCase());
        return `-least(${cols.map((c) => `coalesce(nullif(strpos(lower(${c}), ${needle}), 0), 1000000)`).join(', ')})`;
      },
    };
  }
  const config = s.config ? `'${s.config}'::regconfig, ` : '';
  const query = `websearch_to_tsquery(${config}${add(q)})`;
  const document = s.kind === 'vector' ? ident(s.columns[0]) : s.document!;
  return { where: `${document} @@ ${query}`, rank: () => `ts_rank_cd(${document}, ${query})` };
}
