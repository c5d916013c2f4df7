import { type Type, applyDecorators } from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiBody,
  ApiConflictResponse,
  ApiCreatedResponse,
  ApiExtension,
  ApiExtraModels,
  ApiHeader,
  ApiNoContentResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiParam,
  ApiPayloadTooLargeResponse,
  ApiPreconditionFailedResponse,
  ApiQuery,
  ApiResponse,
  getSchemaPath,
} from '@nestjs/swagger';
import { MAX_BULK } from './bulk.pipe.js';
import { later } from './deferred-docs.js';
import { ErrorResponseDto } from './dto.js';
import { BUCKET_UNITS, DEFAULT_GROUPS, MAX_GROUPS, aggregatesOf, bucketable, groupable } from './aggregate.js';
import { EXPORT_FORMATS } from './export.js';
import { MAX_OFFSET, VALUE_FORMS } from './query.js';
import { MAX_QUERY } from './search.js';
import { type FieldSpec, type FilterOp, type ResourceSpec, resourceOf } from './resource.js';

const OP_HELP: Record<FilterOp, string> = {
  eq: 'eq.value',
  neq: 'neq.value',
  gt: 'gt.value',
  gte: 'gte.value',
  lt: 'lt.value',
  lte: 'lte.value',
  like: 'like.pattern (* or % as wildcard)',
  ilike: 'ilike.pattern (case-insensitive)',
  in: 'in.(a,b,c)',
  is: 'is.null | is.notnull',
  cs: 'cs.{a,b} (contains)',
  cd: 'cd.{a,b} (contained in)',
  ov: 'ov.{a,b} (overlaps)',
};

function filterDoc(f: FieldSpec): string {
  const ops = f.ops.map((o) => OP_HELP[o]).join(', ');
  const values = f.values?.length ? ` Values: ${f.values.join(', ')}.` : '';
  return `Filter on ${f.column} (${f.sqlType}${f.array ? '[]' : ''}). Operators: ${ops}. Prefix not. to negate; repeat the parameter to combine.${values}`;
}

/** Regular-expression text matching `s` literally. */
const literal = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * The filter values a field accepts, as one pattern: each operator it allows with a value of
 * the field's type (the same forms the server parses), optionally negated with `not.`.
 */
function filterPattern(f: FieldSpec): string {
  const value = f.values?.length ? `(?:${f.values.map(literal).join('|')})` : (VALUE_FORMS[f.kind] ?? '.*');
  const has = (...ops: FilterOp[]) => ops.filter((o) => f.ops.includes(o));
  const alts: string[] = [];
  const compare = has('eq', 'neq', 'gt', 'gte', 'lt', 'lte');
  if (compare.length) alts.push(`(?:${compare.join('|')})\\.${value}`);
  if (has('in').length) alts.push(value === '.*' ? 'in\\.\\(.*\\)' : `in\\.\\(${value}(?:,${value})*\\)`);
  if (has('is').length) alts.push(f.kind === 'bool' ? 'is\\.(?:null|notnull|true|false)' : 'is\\.(?:null|notnull)');
  const text = has('like', 'ilike', 'cs', 'cd', 'ov');
  if (text.length) alts.push(`(?:${text.join('|')})\\..*`);
  return `^(?:not\\.)?(?:${alts.join('|')})$`;
}

/** One query parameter per filterable field (repeatable), and withDeleted where rows are soft-deleted. */
function filterQueries(spec: ResourceSpec, withDeleted = false): MethodDecorator[] {
  const out = spec.fields
    .filter((f) => f.ops.length > 0)
    .map((f) =>
      ApiQuery({
        name: f.filterKey,
        required: false,
        schema: { type: 'array', items: { type: 'string', pattern: filterPattern(f) } },
        style: 'form',
        explode: true,
        description: filterDoc(f),
      }),
    );
  if (spec.search) {
    const how =
      spec.search.kind === 'trigram'
        ? `a case-insensitive substring of ${spec.search.columns.join(', ')}; earlier matches first`
        : `full text of ${spec.search.columns.join(', ')} (web search syntax: "a phrase", -word, or); the most relevant first`;
    out.push(
      ApiQuery({
        name: 'q',
        required: false,
        schema: { type: 'string', minLength: 1, maxLength: MAX_QUERY },
        description: `Search: ${how} (without sort; then pages by offset)`,
      }),
    );
  }
  if (withDeleted && spec.softDeleteColumn) {
    out.push(ApiQuery({ name: 'withDeleted', required: false, type: Boolean, description: 'Include soft-deleted rows' }));
  }
  return out;
}

/** `sort` of a list (and an export): the sortable fields, `-` for descending. */
function sortQuery(spec: ResourceSpec): MethodDecorator {
  const sortable = spec.fields.filter((f) => f.sortable).map((f) => f.property);
  const sortItem = `[-+]?(${sortable.map(literal).join('|')})`;
  return ApiQuery({
    name: 'sort',
    required: false,
    schema: sortable.length ? { type: 'string', pattern: `^${sortItem}(,${sortItem})*$` } : { type: 'string' },
    description: `Comma-separated fields, - for descending: ${sortable.join(', ')}. Ties are broken on the key.`,
  });
}

/**
 * Documents every list parameter of a resource, typed for client generators: one per
 * filterable field (repeatable; each value starts with one of the field's operators, optionally
 * negated), paging as bounded integers, sort as a list of the sortable fields, and count.
 */
export function ApiListQuery(spec: ResourceSpec): MethodDecorator {
  const decorators = [
    ...filterQueries(spec),
    sortQuery(spec),
    ApiQuery({
      name: 'limit',
      required: false,
      schema: { type: 'integer', minimum: 1, maximum: spec.maxLimit, default: spec.defaultLimit },
      description: `Rows per page, 1 to ${spec.maxLimit} (default ${spec.defaultLimit})`,
    }),
    ApiQuery({
      name: 'offset',
      required: false,
      schema: { type: 'integer', minimum: 0, maximum: MAX_OFFSET },
      description: `Rows to skip, at most ${MAX_OFFSET} (LIST_MAX_OFFSET); not with cursor`,
    }),
    ApiQuery({
      name: 'count',
      required: false,
      enum: ['exact', 'estimated', 'none'],
      description: `Total count in meta.count (default ${spec.defaultCount})`,
    }),
  ];
  if (spec.tieBreaker !== 'none') {
    decorators.push(
      ApiQuery({ name: 'cursor', required: false, type: String, description: 'meta.nextCursor of the previous page (keyset paging)' }),
    );
  }
  if (spec.softDeleteColumn) {
    decorators.push(ApiQuery({ name: 'withDeleted', required: false, type: Boolean, description: 'Include soft-deleted rows' }));
  }
  return applyDecorators(...decorators);
}

/**
 * `select=` (core/crud/select.ts): its parameter, and a mark the document's post-pass reads to
 * give the operation's answer the shape a selection has (toOpenApi31).
 */
function ApiSelect(spec: ResourceSpec, list: boolean): MethodDecorator {
  if (spec.select === false) return applyDecorators();
  const fields = spec.fields.filter((f) => f.readable).map((f) => f.property);
  const embeds = (spec.relations ?? []).map((r) => `${r.name} (${r.kind === 'one' ? 'one row or null' : 'a list'})`);
  const per = list
    ? ' An embedded list takes <name>.limit and <name>.sort; <name>.<field>=op.value filters it, or, on a to-one embed, the rows themselves.'
    : ' An embedded list takes <name>.limit and <name>.sort; <name>.<field>=op.value filters it.';
  return applyDecorators(
    ApiQuery({
      name: 'select',
      required: false,
      schema: { type: 'string', maxLength: 2000, pattern: '^[A-Za-z0-9_*!(), ]+$' },
      description:
        `Fields of the answer, comma-separated (default *: every field): ${fields.join(', ')}.` +
        (embeds.length
          ? ` Related rows embedded as name(fields), nested up to three levels: ${embeds.join(', ')}; name!constraint(...) picks one of several keys to a table.${per}`
          : ''),
    }),
    ApiExtension('x-select', spec.table),
  );
}

/*
 * The documentation of each kind of route a table has, one decorator each, so a generated
 * controller method carries its route, its docs and what features add (permissions, ...) rather
 * than a dozen stacked decorators. The document they make is the one the decorators made. Each
 * runs when the document is first built, not at boot (deferred-docs.ts).
 */

/** A key segment of a route's path (`:id`), documented with the column it stands for. */
export interface KeyParam {
  name: string;
  type: typeof String | typeof Number;
  format?: string;
  column: string;
}

interface Operation {
  operationId: string;
  summary: string;
  description?: string;
}

const operation = (o: Operation) => ApiOperation({ operationId: o.operationId, summary: o.summary, description: o.description });
const params = (keys: readonly KeyParam[]) =>
  keys.map((k) => ApiParam({ name: k.name, type: k.type, format: k.format, description: `Column ${k.column}` }));

/** If-Match on a change: optional or required (428 without it), 412 when the row changed. */
function precondition(description: string, required: boolean): MethodDecorator[] {
  return [
    ApiHeader({ name: 'If-Match', required, description }),
    ...(required ? [ApiResponse({ status: 428, type: ErrorResponseDto, description: 'If-Match is required here' })] : []),
    ApiPreconditionFailedResponse({ type: ErrorResponseDto, description: 'The row changed since (If-Match)' }),
  ];
}

/** GET /<table>: the list parameters, the page, 400 for a bad query. */
export function ListDocs(o: Operation & { spec: ResourceSpec; response: Type<unknown> }): MethodDecorator {
  return later(() =>
    applyDecorators(
      operation(o),
      ApiListQuery(o.spec),
      ApiSelect(o.spec, true),
      ApiOkResponse({ type: o.response }),
      ApiBadRequestResponse({ type: ErrorResponseDto, description: 'Unknown field or operator, malformed value, bad paging' }),
    ),
  );
}

/** POST /<table>/bulk: all rows or none. */
export function BulkCreateDocs(o: Operation & { body: Type<unknown>; response: Type<unknown> }): MethodDecorator {
  return later(() =>
    applyDecorators(
      operation(o),
      ApiExtraModels(o.body),
      ApiBody({ schema: { type: 'array', minItems: 1, maxItems: MAX_BULK, items: { $ref: getSchemaPath(o.body) } } }),
      ApiCreatedResponse({ type: o.response }),
      ApiBadRequestResponse({ type: ErrorResponseDto }),
      ApiPayloadTooLargeResponse({ type: ErrorResponseDto, description: `More than ${MAX_BULK} rows` }),
      ApiConflictResponse({ type: ErrorResponseDto, description: 'A unique or foreign key rule failed; nothing was written' }),
    ),
  );
}

/** GET /<table>/:key: the row with its ETag (304 when If-None-Match names it). */
export function GetDocs(
  o: Operation & { spec: ResourceSpec; keys: readonly KeyParam[]; response: Type<unknown>; withDeleted: boolean },
): MethodDecorator {
  return later(() =>
    applyDecorators(
      operation(o),
      ...params(o.keys),
      ApiSelect(o.spec, false),
      ...(o.withDeleted
        ? [ApiQuery({ name: 'withDeleted', required: false, type: Boolean, description: 'Also find a soft-deleted row' })]
        : []),
      ApiOkResponse({
        type: o.response,
        description: 'With an ETag; 304 when If-None-Match names it',
        headers: { ETag: { schema: { type: 'string' } } },
      }),
      ApiBadRequestResponse({ type: ErrorResponseDto }),
      ApiNotFoundResponse({ type: ErrorResponseDto }),
    ),
  );
}

/** POST /<table>: the row as stored. */
export function CreateDocs(o: Operation & { response: Type<unknown> }): MethodDecorator {
  return later(() =>
    applyDecorators(
      operation(o),
      ApiCreatedResponse({ type: o.response }),
      ApiBadRequestResponse({ type: ErrorResponseDto, description: 'Invalid or unknown fields' }),
      ApiConflictResponse({ type: ErrorResponseDto, description: 'A unique or foreign key rule failed' }),
    ),
  );
}

/** PATCH /<table>/:key: the fields sent, under the row's precondition. */
export function UpdateDocs(
  o: Operation & { keys: readonly KeyParam[]; response: Type<unknown>; ifMatchRequired: boolean },
): MethodDecorator {
  return later(() =>
    applyDecorators(
      operation(o),
      ...params(o.keys),
      ApiOkResponse({ type: o.response }),
      ApiBadRequestResponse({ type: ErrorResponseDto }),
      ApiNotFoundResponse({ type: ErrorResponseDto }),
      ApiConflictResponse({ type: ErrorResponseDto }),
      ...precondition('The ETag GET gave: the change is made only if the row still has it', o.ifMatchRequired),
    ),
  );
}

/** DELETE /<table>/:key: 204, or 409 while other rows reference it. */
export function DeleteDocs(o: Operation & { keys: readonly KeyParam[]; ifMatchRequired: boolean }): MethodDecorator {
  return later(() =>
    applyDecorators(
      operation(o),
      ...params(o.keys),
      ApiNoContentResponse({ description: 'Deleted' }),
      ApiBadRequestResponse({ type: ErrorResponseDto, description: 'A malformed key' }),
      ApiNotFoundResponse({ type: ErrorResponseDto }),
      ApiConflictResponse({ type: ErrorResponseDto, description: 'Other rows still reference it' }),
      ...precondition('The ETag GET gave: deleted only if the row still has it', o.ifMatchRequired),
    ),
  );
}

/** POST /<table>/:key/restore: a soft-deleted row back. */
export function RestoreDocs(
  o: Operation & { keys: readonly KeyParam[]; response: Type<unknown>; ifMatchRequired: boolean },
): MethodDecorator {
  return later(() =>
    applyDecorators(
      operation(o),
      ...params(o.keys),
      ApiOkResponse({ type: o.response }),
      ApiBadRequestResponse({ type: ErrorResponseDto, description: 'A malformed key' }),
      ApiNotFoundResponse({ type: ErrorResponseDto, description: 'No deleted row with that key' }),
      ApiConflictResponse({ type: ErrorResponseDto, description: 'A live row now holds its unique values' }),
      ...precondition('The ETag GET ?withDeleted=true gave: restored only if the row still has it', o.ifMatchRequired),
    ),
  );
}

/** A field's value in an answer, as a JSON schema (nullable where the column is). */
function valueSchema(f: FieldSpec): Json {
  const base: Json =
    f.kind === 'int'
      ? { type: 'integer' }
      : f.kind === 'float'
        ? { type: 'number' }
        : f.kind === 'bool'
          ? { type: 'boolean' }
          : f.kind === 'date'
            ? { type: 'string', format: 'date' }
            : f.kind === 'timestamp'
              ? { type: 'string', format: 'date-time' }
              : f.kind === 'uuid'
                ? { type: 'string', format: 'uuid' }
                : f.kind === 'enum' && f.values?.length
                  ? { type: 'string', enum: [...f.values] }
                  : { type: 'string' };
  return { ...base, nullable: true };
}

/** The value of `fn(f)`: sums of integers are bigint (a string), averages numeric (a string), floats numbers. */
function aggregateSchema(fn: string, f: FieldSpec): Json {
  if (fn === 'count') return { type: 'number' };
  if (fn === 'min' || fn === 'max') return valueSchema(f);
  if (f.kind === 'float') return { type: 'number', nullable: true };
  if (f.kind === 'interval') return { type: 'string', nullable: true, description: 'An interval, as PostgreSQL writes it' };
  if (f.sqlType === 'money') return { type: 'string', nullable: true, description: 'An amount, as money fields read' };
  return { type: 'string', nullable: true, description: 'A decimal number as a string (exact)' };
}

/** GET /<table>/aggregate: groups, buckets and aggregates (aggregate.ts), typed per field. */
export function AggregateDocs(o: Operation & { spec: ResourceSpec }): MethodDecorator {
  return later(() => {
    const fields = o.spec.fields.filter((f) => f.readable);
    const groups = fields.filter(groupable);
    const buckets = fields.filter(bucketable);
    const row: Json = {
      type: 'object',
      properties: {
        group: {
          type: 'object',
          description: 'The group (group= and bucket=; a bucket is the start of its period); absent without either',
          properties: Object.fromEntries(groups.map((f) => [f.property, valueSchema(f)])),
        },
        count: { type: 'number', description: 'Rows in the group (agg=count)' },
        ...Object.fromEntries(
          ['counts', 'sum', 'avg', 'min', 'max'].map((fn) => {
            const of = fields.filter((f) => aggregatesOf(f).includes(fn === 'counts' ? 'count' : (fn as 'sum')));
            return [
              fn,
              {
                type: 'object',
                description: fn === 'counts' ? 'count(field): non-null values per field' : `${fn}(field) per field`,
                properties: Object.fromEntries(of.map((f) => [f.property, aggregateSchema(fn === 'counts' ? 'count' : fn, f)])),
              },
            ];
          }),
        ),
      },
    };
    const names = groups.map((f) => f.property);
    const aggItems = fields.flatMap((f) => aggregatesOf(f).map((fn) => `${fn}(${f.property})`));
    return applyDecorators(
      operation({
        ...o,
        description:
          "Counts, sums, averages, minima and maxima over the rows the list returns with the same filters (the list's filters; soft-deleted rows left out), per group and time bucket.",
      }),
      ...filterQueries(o.spec, true),
      ApiQuery({
        name: 'group',
        required: false,
        schema: { type: 'string', maxLength: 500, pattern: '^[A-Za-z0-9_, ]+$' },
        description: `Fields to group on, comma-separated (up to 5): ${names.join(', ') || '(none)'}`,
      }),
      ApiQuery({
        name: 'agg',
        required: false,
        schema: { type: 'string', maxLength: 1000, pattern: '^[A-Za-z0-9_(), ]+$', default: 'count' },
        description: `Aggregates, comma-separated: count (rows), ${aggItems.join(', ')}`,
      }),
      ...(buckets.length
        ? [
            ApiQuery({
              name: 'bucket',
              required: false,
              schema: { type: 'string', pattern: `^(${buckets.map((f) => literal(f.property)).join('|')}):(${BUCKET_UNITS.join('|')})$` },
              description: 'Group by the start of each period of a date or timestamp field: field:unit',
            }),
            ApiQuery({
              name: 'tz',
              required: false,
              schema: { type: 'string', pattern: '^[A-Za-z][A-Za-z0-9_+\\-/]{0,63}$', default: 'UTC' },
              description: 'Time zone of timestamp buckets (IANA name, e.g. Europe/Paris; no effect on dates)',
            }),
          ]
        : []),
      ApiQuery({
        name: 'sort',
        required: false,
        schema: { type: 'string', maxLength: 1000, pattern: '^[-+A-Za-z0-9_(), ]+$' },
        description: 'Group fields or aggregates as written in agg, comma-separated, - for descending (default: the group fields)',
      }),
      ApiQuery({
        name: 'limit',
        required: false,
        schema: { type: 'integer', minimum: 1, maximum: MAX_GROUPS, default: DEFAULT_GROUPS },
        description: `Most groups returned (meta.more says there were more)`,
      }),
      ApiOkResponse({
        schema: {
          type: 'object',
          required: ['data', 'meta'],
          properties: {
            data: { type: 'array', items: row },
            meta: {
              type: 'object',
              required: ['limit', 'more'],
              properties: { limit: { type: 'integer' }, more: { type: 'boolean', description: 'More groups than limit' } },
            },
          },
        },
      }),
      ApiBadRequestResponse({
        type: ErrorResponseDto,
        description: 'Unknown field, aggregate or unit; a field that cannot be aggregated so',
      }),
    );
  });
}

/** GET /<table>/export: the list's parameters, and the file in each format. */
export function ExportDocs(o: Operation & { spec: ResourceSpec }): MethodDecorator {
  return later(() => {
    const file = (description: string) => ({ schema: { type: 'string', format: 'binary', description } });
    return applyDecorators(
      operation({
        ...o,
        description:
          'Every row the list returns with the same filters, sort and select (or the first limit), as a file: CSV and NDJSON stream from a database cursor (any size); XLSX up to EXPORT_XLSX_MAX_ROWS rows.',
      }),
      ...filterQueries(o.spec, true),
      ApiQuery({ name: 'format', required: false, enum: [...EXPORT_FORMATS], description: 'csv (default), ndjson or xlsx' }),
      ApiQuery({ name: 'bom', required: false, type: Boolean, description: 'CSV only: start with a UTF-8 byte order mark (for Excel)' }),
      sortQuery(o.spec),
      ApiQuery({
        name: 'limit',
        required: false,
        schema: { type: 'integer', minimum: 1, maximum: 999_999_999 },
        description: 'Only the first n rows',
      }),
      ApiSelect(o.spec, true),
      ApiResponse({
        status: 200,
        description: 'The file (Content-Disposition: attachment)',
        content: {
          'text/csv': file("RFC 4180, a header line of field names; text a spreadsheet would run as a formula starts with '"),
          'application/x-ndjson': file('One JSON object per line, as the list answers rows'),
          'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet': file('One sheet, a header row'),
        },
      }),
      ApiBadRequestResponse({ type: ErrorResponseDto, description: 'As the list; XLSX over its row cap' }),
      ApiResponse({
        status: 429,
        type: ErrorResponseDto,
        description: 'EXPORT_MAX_CONCURRENT exports are running, or EXPORT_MAX_PER_CALLER of the caller',
      }),
    );
  });
}

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => v !== null && typeof v === 'object' && !Array.isArray(v);

/**
 * In JSON Schema 2020-12 `format` only annotates: a pattern says the same to validators and
 * generators that do not check formats (subsets of what the server's validators accept).
 */
const FORMAT_PATTERNS: Record<string, string> = {
  uuid: '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$',
  date: '^[1-9]\\d{3}-(0[1-9]|1[0-2])-(0[1-9]|1\\d|2[0-8])$',
  'date-time':
    '^[1-9]\\d{3}-(0[1-9]|1[0-2])-(0[1-9]|1\\d|2[0-8])T([01]\\d|2[0-3]):[0-5]\\d:[0-5]\\d(\\.\\d{1,6})?(Z|[+-](0\\d|1[0-4]):[0-5]\\d)$',
  time: '^([01]\\d|2[0-3]):[0-5]\\d(:[0-5]\\d(\\.\\d{1,6})?)?$',
  email:
    '^[A-Za-z0-9_%+-]+(\\.[A-Za-z0-9_%+-]+)*@[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\\.[A-Za-z]{2,24}$',
  int64: '^-?\\d{1,18}$',
};

/**
 * A schema in OpenAPI 3.1 (JSON Schema 2020-12) terms, and the schemas inside it. `strict`: a
 * schema of what clients send, where formats are also patterns; answers keep formats only
 * (stored values need not match what the API accepts today).
 */
function schema31(s: Json, strict: boolean): Json {
  const out: Json = {};
  for (const [k, v] of Object.entries(s)) {
    if (k === 'nullable') continue;
    if (k === 'properties' || k === 'patternProperties') {
      out[k] = Object.fromEntries(Object.entries(v as Json).map(([name, p]) => [name, isObject(p) ? schema31(p, strict) : p]));
    } else if (['items', 'additionalProperties', 'not'].includes(k) && isObject(v)) {
      out[k] = schema31(v, strict);
    } else if (['allOf', 'anyOf', 'oneOf'].includes(k) && Array.isArray(v)) {
      out[k] = v.map((x) => (isObject(x) ? schema31(x, strict) : x));
    } else {
      out[k] = v;
    }
  }
  // exclusiveMinimum/Maximum are numbers in 3.1, booleans beside minimum/maximum in 3.0.
  for (const [bound, flag] of [
    ['minimum', 'exclusiveMinimum'],
    ['maximum', 'exclusiveMaximum'],
  ] as const) {
    if (out[flag] === true && typeof out[bound] === 'number') {
      out[flag] = out[bound];
      delete out[bound];
    } else if (out[flag] === false) {
      delete out[flag];
    }
  }
  // A JSON column holds any JSON value, not only objects.
  if (out.type === 'object' && out.additionalProperties === true && out.properties === undefined) {
    delete out.type;
    delete out.additionalProperties;
    return out;
  }
  // Whole numbers the app checks as 32-bit integers are integers in the document too.
  if (out.format === 'int32') {
    if (out.type === 'number') out.type = 'integer';
    out.minimum ??= -2147483648;
    out.maximum ??= 2147483647;
  }
  // JSON Schema's `time` is RFC 3339's, with a zone; columns without one are `HH:MM[:SS]`.
  if (out.format === 'time') delete out.format;
  const types = Array.isArray(out.type) ? out.type : [out.type];
  const format = typeof out.format === 'string' ? out.format : s.format === 'time' ? 'time' : undefined;
  if (strict && types.includes('string') && format !== undefined && out.pattern === undefined && format in FORMAT_PATTERNS) {
    out.pattern = FORMAT_PATTERNS[format];
  }
  if (s.nullable !== true) return out;
  // `nullable: true` is `null` among the types (or a choice of null, for a reference).
  if (typeof out.type === 'string') {
    out.type = [out.type, 'null'];
    if (Array.isArray(out.enum) && !out.enum.includes(null)) out.enum = [...out.enum, null];
    return out;
  }
  if (Array.isArray(out.type)) {
    if (!out.type.includes('null')) out.type = [...out.type, 'null'];
    return out;
  }
  const { description, ...rest } = out;
  return { ...(description === undefined ? {} : { description }), anyOf: [rest, { type: 'null' }] };
}

/** Every schema of a media-type map (`content`), converted. */
function content31(content: unknown, strict: boolean): unknown {
  if (!isObject(content)) return content;
  return Object.fromEntries(
    Object.entries(content).map(([type, media]) => [
      type,
      isObject(media) && isObject(media.schema) ? { ...media, schema: schema31(media.schema, strict) } : media,
    ]),
  );
}

/**
 * Answers of operations that take `select=` (marked `x-select` with their table): a row is
 * either the whole row or a selection of it, `<Row>Selection`: the same properties, none
 * required, and the embeds (a related row or null, or a list of related rows, each a selection
 * of its own resource). The shared components stay as they are (creates answer whole rows).
 */
function selections(doc: Json, schemas: Json): void {
  const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
  const refName = (s: unknown) => (isObject(s) && typeof s.$ref === 'string' ? s.$ref.replace('#/components/schemas/', '') : undefined);
  // The row schema of each table: `data` of the list's answer holds its items.
  const ops: [Json, string][] = [];
  const rowOf = new Map<string, string>();
  for (const item of Object.values((doc.paths as Json | undefined) ?? {})) {
    for (const op of isObject(item) ? Object.values(item) : []) {
      if (!isObject(op) || typeof op['x-select'] !== 'string') continue;
      const table = op['x-select'];
      delete op['x-select'];
      const ok = isObject(op.responses) ? op.responses['200'] : undefined;
      const media = isObject(ok) && isObject(ok.content) ? ok.content['application/json'] : undefined;
      const answer = isObject(media) ? schemas[refName(media.schema) ?? ''] : undefined;
      const data = isObject(answer) && isObject(answer.properties) ? answer.properties.data : undefined;
      const row = refName(data) ?? (isObject(data) ? refName(data.items) : undefined);
      // An embedded resource the caller may not read (its permission, its tenant) answers 403.
      if ((resourceOf(table)?.relations ?? []).length > 0 && isObject(op.responses) && op.responses['403'] === undefined) {
        op.responses['403'] = {
          description: 'An embedded resource (select=) the caller may not read',
          content: { 'application/json': { schema: isObject(schemas.ErrorResponseDto) ? ref('ErrorResponseDto') : { type: 'object' } } },
        };
      }
      // Exports answer files: only the parameter applies.
      if (!row || !isObject(media)) continue;
      rowOf.set(table, row);
      ops.push([media, table]);
    }
  }
  for (const [table, row] of rowOf) {
    const base = schemas[row];
    if (!isObject(base)) continue;
    const properties: Json = { ...(isObject(base.properties) ? base.properties : {}) };
    for (const r of resourceOf(table)?.relations ?? []) {
      const target = rowOf.get(r.target);
      const one = target ? ref(`${target}Selection`) : { type: 'object' };
      properties[r.name] = r.kind === 'one' ? { anyOf: [one, { type: 'null' }] } : { type: 'array', items: one };
    }
    const selection: Json = { ...base, properties, description: `A selection of ${row}'s fields (select=), with the rows it embeds` };
    delete selection.required;
    schemas[`${row}Selection`] = selection;
  }
  for (const [media, table] of ops) {
    const row = rowOf.get(table)!;
    const answer = schemas[refName(media.schema)!] as Json;
    const props = answer.properties as Json;
    const either = { anyOf: [ref(row), ref(`${row}Selection`)] };
    const data = isObject(props.data) && props.data.type === 'array' ? { ...props.data, items: either } : either;
    media.schema = { ...answer, properties: { ...props, data } };
  }
}

/**
 * The document @nestjs/swagger makes (OpenAPI 3.0) as OpenAPI 3.1: `nullable` becomes `null`
 * among a schema's types, boolean exclusive bounds become numbers, and operations without a
 * security requirement say they are public. Client generators and validators that read 3.1
 * (JSON Schema 2020-12) then see the same types the app checks.
 */
export function toOpenApi31<T extends object>(document: T): T {
  const doc = structuredClone(document) as Json;
  doc.openapi = '3.1.0';
  const components = doc.components as Json | undefined;
  // The component schemas request bodies name (directly or as array items).
  const requested = new Set<string>();
  for (const item of Object.values((doc.paths as Json | undefined) ?? {})) {
    for (const op of isObject(item) ? Object.values(item) : []) {
      const media = isObject(op) && isObject(op.requestBody) && isObject(op.requestBody.content) ? op.requestBody.content : {};
      for (const m of Object.values(media)) {
        const schema = isObject(m) && isObject(m.schema) ? m.schema : {};
        const ref = typeof schema.$ref === 'string' ? schema.$ref : isObject(schema.items) ? schema.items.$ref : undefined;
        if (typeof ref === 'string') requested.add(ref.replace('#/components/schemas/', ''));
      }
    }
  }
  if (isObject(components?.schemas)) {
    components.schemas = Object.fromEntries(
      Object.entries(components.schemas).map(([name, s]) => [name, isObject(s) ? schema31(s, requested.has(name)) : s]),
    );
  }
  // Request bodies are checked as the server checks them: no property it does not know, and a
  // change names at least one field.
  const schemas = isObject(components?.schemas) ? components.schemas : {};
  const bodySchema = (op: Json): Json | undefined => {
    const media = isObject(op.requestBody) && isObject(op.requestBody.content) ? op.requestBody.content['application/json'] : undefined;
    const schema = isObject(media) && isObject(media.schema) ? media.schema : undefined;
    const ref = schema && (typeof schema.$ref === 'string' ? schema.$ref : isObject(schema.items) ? schema.items.$ref : undefined);
    const target = typeof ref === 'string' ? schemas[ref.replace('#/components/schemas/', '')] : undefined;
    return isObject(target) && target.type === 'object' ? target : undefined;
  };
  for (const item of Object.values((doc.paths as Json | undefined) ?? {})) {
    if (!isObject(item)) continue;
    for (const [method, op] of Object.entries(item)) {
      if (!isObject(op)) continue;
      const body = bodySchema(op);
      if (body && body.additionalProperties === undefined) body.additionalProperties = false;
      if (body && method === 'patch' && body.minProperties === undefined) body.minProperties = 1;
    }
  }
  selections(doc, schemas);
  // With sign-in (a security scheme), every operation needs an access token but those marked
  // public (`Public()`: `security: []`); without, every operation is public.
  const scheme = isObject(components?.securitySchemes) ? Object.keys(components.securitySchemes)[0] : undefined;
  const error = isObject(schemas.ErrorResponseDto) ? { $ref: '#/components/schemas/ErrorResponseDto' } : { type: 'object' };
  const answer = (description: string) => ({ description, content: { 'application/json': { schema: error } } });
  for (const item of Object.values((doc.paths as Json | undefined) ?? {})) {
    if (!isObject(item)) continue;
    for (const op of Object.values(item)) {
      if (!isObject(op)) continue;
      const isPublic = op['x-public'] === true;
      delete op['x-public'];
      if (op.security === undefined) op.security = isPublic || scheme === undefined ? [] : (doc.security ?? [{ [scheme]: [] }]);
      // Answers any such operation can give, where its own decorators did not list them: 400
      // when it takes parameters or a body (validation; a path segment the router refuses), 401
      // when it needs a signed-in caller (no token, an expired one, an account closed since),
      // 403 when it needs a permission.
      const responses = isObject(op.responses) ? op.responses : (op.responses = {});
      const takesInput = (Array.isArray(op.parameters) && op.parameters.length > 0) || op.requestBody !== undefined;
      if (takesInput && responses['400'] === undefined) responses['400'] = answer('A parameter or the body is not valid');
      if (Array.isArray(op.security) && op.security.length > 0 && responses['401'] === undefined) {
        responses['401'] = answer('No valid access token: sign in first');
      }
      // RBAC marks the permission an operation requires: 403 without it.
      if (typeof op['x-required-permission'] === 'string' && responses['403'] === undefined) {
        responses['403'] = answer(`Requires the permission ${op['x-required-permission']}`);
      }
      if (Array.isArray(op.parameters)) {
        op.parameters = op.parameters.map((p) => (isObject(p) && isObject(p.schema) ? { ...p, schema: schema31(p.schema, true) } : p));
      }
      if (isObject(op.requestBody)) op.requestBody = { ...op.requestBody, content: content31(op.requestBody.content, true) };
      if (isObject(op.responses)) {
        for (const [status, r] of Object.entries(op.responses)) {
          if (!isObject(r)) continue;
          const headers = isObject(r.headers)
            ? Object.fromEntries(
                Object.entries(r.headers).map(([n, h]) => [
                  n,
                  isObject(h) && isObject(h.schema) ? { ...h, schema: schema31(h.schema, false) } : h,
                ]),
              )
            : r.headers;
          op.responses[status] = { ...r, content: content31(r.content, false), ...(headers === undefined ? {} : { headers }) };
        }
      }
    }
  }
  return doc as T;
}
