-- Indexes that do not back a constraint and are not a partition's copy of its parent's.
SELECT i.indrelid::int8,
       ic.relname::text,
       am.amname::text,
       i.indisunique,
       pg_catalog.pg_get_expr(i.indpred, i.indrelid),
       i.indnkeyatts::int4,
       ARRAY(SELECT pg_catalog.pg_get_indexdef(i.indexrelid, k, true) FROM generate_series(1, i.indnatts) k ORDER BY k),
       ARRAY(SELECT (i.indkey[k - 1] <> 0) FROM generate_series(1, i.indnatts) k ORDER BY k),
       ARRAY(SELECT COALESCE(i.indoption[k - 1], 0)::int4 FROM generate_series(1, i.indnatts) k ORDER BY k),
       ARRAY(SELECT CASE WHEN oc.opcdefault THEN '' ELSE oc.opcname::text END
             FROM generate_series(1, i.indnkeyatts) k
             JOIN pg_catalog.pg_opclass oc ON oc.oid = i.indclass[k - 1]
             ORDER BY k)
FROM pg_catalog.pg_index i
JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid
JOIN pg_catalog.pg_class c ON c.oid = i.indrelid
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
JOIN pg_catalog.pg_am am ON am.oid = ic.relam
WHERE n.nspname = ANY($1)
  AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_constraint con WHERE con.conindid = i.indexrelid AND con.contype IN ('p', 'u', 'x'))
  AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_inherits inh WHERE inh.inhrelid = i.indexrelid)
