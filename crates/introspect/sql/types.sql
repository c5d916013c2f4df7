-- Enums (labels in order), domains and composite types of the selected schemas.
SELECT n.nspname::text,
       t.typname::text,
       t.typtype::text,
       ARRAY(SELECT e.enumlabel::text FROM pg_catalog.pg_enum e WHERE e.enumtypid = t.oid ORDER BY e.enumsortorder),
       CASE WHEN t.typtype = 'd' THEN pg_catalog.format_type(t.typbasetype, t.typtypmod) END,
       t.typnotnull,
       pg_catalog.pg_get_expr(t.typdefaultbin, 0),
       ARRAY(SELECT con.conname::text FROM pg_catalog.pg_constraint con WHERE con.contypid = t.oid AND con.contype = 'c' ORDER BY 1),
       ARRAY(SELECT pg_catalog.pg_get_expr(con.conbin, 0) FROM pg_catalog.pg_constraint con WHERE con.contypid = t.oid AND con.contype = 'c' ORDER BY con.conname),
       ARRAY(SELECT a.attname::text FROM pg_catalog.pg_attribute a WHERE a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum),
       ARRAY(SELECT pg_catalog.format_type(a.atttypid, a.atttypmod) FROM pg_catalog.pg_attribute a WHERE a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum)
FROM pg_catalog.pg_type t
JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
LEFT JOIN pg_catalog.pg_class rc ON rc.oid = t.typrelid
WHERE n.nspname = ANY($1)
  AND (t.typtype IN ('e', 'd') OR (t.typtype = 'c' AND rc.relkind = 'c'))
  AND NOT EXISTS (
    SELECT 1 FROM pg_catalog.pg_depend d
    WHERE d.classid = 'pg_catalog.pg_type'::regclass AND d.objid = t.oid AND d.deptype = 'e')
