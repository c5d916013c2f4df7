import { applyDecorators } from '@nestjs/common';
import { ApiQuery } from '@nestjs/swagger';
import { MAX_OFFSET } from './query.js';
import type { FieldSpec, FilterOp, ResourceSpec } from './resource.js';

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
 * Documents every list parameter of a resource, typed for client generators: one per
 * filterable field (repeatable; each value starts with one of the field's operators, optionally
 * negated), paging as bounded integers, sort as a list of the sortable fields, and count.
 */
export function ApiListQuery(spec: ResourceSpec): MethodDecorator {
  const sortable = spec.fields.filter((f) => f.sortable).map((f) => f.property);
  const sortItem = `[-+]?(${sortable.map(literal).join('|')})`;
  const decorators = [
    ...spec.fields
      .filter((f) => f.ops.length > 0)
      .map((f) =>
        ApiQuery({
          name: f.filterKey,
          required: false,
          schema: { type: 'array', items: { type: 'string', pattern: `^(not\\.)?(${f.ops.join('|')})\\.` } },
          style: 'form',
          explode: true,
          description: filterDoc(f),
        }),
      ),
    ApiQuery({
      name: 'sort',
      required: false,
      schema: sortable.length ? { type: 'string', pattern: `^${sortItem}(,${sortItem})*$` } : { type: 'string' },
      description: `Comma-separated fields, - for descending: ${sortable.join(', ')}. Ties are broken on the key.`,
    }),
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
