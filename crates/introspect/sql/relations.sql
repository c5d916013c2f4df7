-- Tables, partitions, views and materialized views of the selected schemas.
SELECT c.oid::int8,
       n.nspname::text,
       c.relname::text,
       c.relkind::text,
       c.relispartition,
       c.relrowsecurity,
       c.relforcerowsecurity,
       pg_catalog.obj_description(c.oid, 'pg_class'),
       CASE WHEN c.relkind = 'p' THEN pg_catalog.pg_get_partkeydef(c.oid) END,
       CASE WHEN c.relispartition THEN pg_catalog.pg_get_expr(c.relpartbound, c.oid) END,
       pn.nspname::text,
       p.relname::text,
       CASE WHEN c.relkind IN ('v', 'm') THEN pg_catalog.pg_get_viewdef(c.oid) END
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_catalog.pg_inherits i ON c.relispartition AND i.inhrelid = c.oid
LEFT JOIN pg_catalog.pg_class p ON p.oid = i.inhparent
LEFT JOIN pg_catalog.pg_namespace pn ON pn.oid = p.relnamespace
WHERE n.nspname = ANY($1)
  AND c.relkind IN ('r', 'p', 'v', 'm')
  AND NOT EXISTS (
    SELECT 1 FROM pg_catalog.pg_depend d
    WHERE d.classid = 'pg_catalog.pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
