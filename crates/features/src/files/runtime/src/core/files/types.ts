/** A file table as the generator resolved it: its columns by role (quoted identifiers). */
export interface FileTableDef {
  /** The quoted, schema-qualified table. */
  table: string;
  /** The key column (a name; the runtime quotes it). */
  id: string;
  /** Column names by role. */
  columns: {
    key: string;
    size: string;
    type: string;
    checksum: string;
    name?: string;
    storedName?: string;
    provider?: string;
    bucket?: string;
    scannedAt?: string;
    safe?: string;
    scanResult?: string;
    downloads?: string;
    downloadedAt?: string;
    owner?: string;
    /** The tenant column, where tenancy scopes the table. */
    tenant?: string;
  };
  /** The versions table (quoted) and its column names, when the schema keeps earlier contents. */
  versions?: { table: string; file: string; number: string; key: string; size: string; checksum: string; createdBy?: string };
  /**
   * The share links table (quoted) and its column names; `links`: the prefix of its links table
   * and functions in the nestgen schema (db/09-files.sql).
   */
  shares?: {
    table: string;
    id: string;
    file: string;
    token: string;
    links: string;
    expires?: string;
    max?: string;
    canDownload?: string;
    sharedBy?: string;
    email?: string;
  };
}
