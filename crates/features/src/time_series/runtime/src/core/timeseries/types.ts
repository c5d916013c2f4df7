import type { FieldKind } from '../crud/resource.js';

/** A column by its quoted SQL identifier and its JSON property. */
export interface SeriesColumn {
  /** Quoted identifier (from the schema). */
  readonly column: string;
  readonly property: string;
}

/** A column an ingested row may carry (the resource's writable fields). */
export interface IngestColumn extends SeriesColumn {
  readonly kind: FieldKind;
  /** The column's SQL type: the staged text is cast to it. */
  readonly sqlType: string;
  readonly nullable: boolean;
  /** NOT NULL without a default: every row needs it. */
  readonly required: boolean;
  /** NOT NULL with a default: the schema's default expression, used when a row has no value. */
  readonly defaultSql?: string;
  readonly maxLength?: number;
  /** 16, 32 or 64 for integer columns. */
  readonly intBits: number;
  /** Allowed values (enums, CHECK ... IN). */
  readonly values?: readonly string[];
  readonly array: boolean;
  /** Set from the signed-in user (actor columns), as on create; `self`: only to one's own id. */
  readonly server?: 'create' | 'update' | 'delete' | 'self';
}

/** Where a value column's aggregates live in a rollup (quoted columns; absent: not kept). */
export interface RollupValue {
  readonly source: string;
  readonly avg?: string;
  readonly min?: string;
  readonly max?: string;
  readonly sum?: string;
  readonly count?: string;
}

/** A rollup of a series (a table the maintenance refreshes, or a TimescaleDB continuous aggregate). */
export interface RollupDef {
  /** `schema.name`, as the registry (nestgen.time_series_rollups) names it. */
  readonly name: string;
  /** Quoted, schema-qualified. */
  readonly table: string;
  /** Its bucket column (quoted) and bucket width. */
  readonly bucket: string;
  readonly bucketSeconds: number;
  /** Source column → rollup column (both quoted). */
  readonly groups: Readonly<Record<string, string>>;
  readonly values: readonly RollupValue[];
  /** A count(*) column (quoted). */
  readonly countAny?: string;
  /** Series queries read it when it covers them. */
  readonly queried: boolean;
}

/** A time-series table, as the generator resolved it. */
export interface SeriesDef {
  /** `schema.name`, as the registry (nestgen.time_series) names it. */
  readonly name: string;
  /** Quoted, schema-qualified. */
  readonly table: string;
  readonly time: SeriesColumn;
  /** `timestamp without time zone`: times are stored as UTC wall clock. */
  readonly naiveTime: boolean;
  /** Numeric columns a query may aggregate (`field`); the first is the default. */
  readonly values: readonly SeriesColumn[];
  /** The series name column `metric` filters on. */
  readonly metric?: SeriesColumn;
  /** A JSON object column `tags` filters on by containment. */
  readonly tags?: SeriesColumn;
  /** Columns a query may group by and filter on (the series name first). */
  readonly dimensions: readonly SeriesColumn[];
  readonly ingest: readonly IngestColumn[];
  /** `partitioned`: the app asks the database for partitions before writing; `plain` otherwise. */
  readonly storage: 'partitioned' | 'plain';
  readonly partitionSeconds: number;
  readonly rollups: readonly RollupDef[];
}
