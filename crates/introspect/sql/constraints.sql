-- Primary keys, unique, foreign keys and checks declared on the table itself (constraints a
-- partition inherits from its parent are left out, as pg_dump leaves them out).
SELECT con.conrelid::int8,
       con.conname::text,
       con.contype::text,
       ARRAY(SELECT a.attname::text
             FROM unnest(con.conkey) WITH ORDINALITY k(num, ord)
             JOIN pg_catalog.pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.num
             ORDER BY k.ord),
       fn.nspname::text,
       f.relname::text,
       ARRAY(SELECT a.attname::text
             FROM unnest(con.confkey) WITH ORDINALITY k(num, ord)
             JOIN pg_catalog.pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.num
             ORDER BY k.ord),
       con.confdeltype::text,
       con.confupdtype::text,
       con.condeferrable,
       CASE WHEN con.contype = 'c' THEN pg_catalog.pg_get_expr(con.conbin, con.conrelid) END,
       COALESCE((SELECT ix.indnullsnotdistinct FROM pg_catalog.pg_index ix WHERE ix.indexrelid = con.conindid), false)
FROM pg_catalog.pg_constraint con
JOIN pg_catalog.pg_class c ON c.oid = con.conrelid
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_catalog.pg_class f ON f.oid = con.confrelid
LEFT JOIN pg_catalog.pg_namespace fn ON fn.oid = f.relnamespace
WHERE n.nspname = ANY($1)
  AND con.contype IN ('p', 'u', 'f', 'c')
  AND con.conparentid = 0
  AND con.conislocal
