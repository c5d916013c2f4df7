-- Functions and aggregates (not procedures, not extension members), with the definition of
-- functions (to write the schema out again).
SELECT n.nspname::text,
       p.proname::text,
       ARRAY(SELECT pg_catalog.format_type(t, NULL) FROM unnest(p.proargtypes::oid[]) WITH ORDINALITY a(t, ord) ORDER BY a.ord),
       CASE WHEN p.prokind = 'a' THEN 'unknown'
            ELSE CASE WHEN p.proretset THEN 'setof ' ELSE '' END || pg_catalog.format_type(p.prorettype, NULL) END,
       CASE WHEN p.prokind = 'a' THEN 'aggregate' ELSE l.lanname::text END,
       CASE WHEN p.prokind = 'f' THEN pg_catalog.pg_get_functiondef(p.oid) END
FROM pg_catalog.pg_proc p
JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
JOIN pg_catalog.pg_language l ON l.oid = p.prolang
WHERE n.nspname = ANY($1)
  AND p.prokind IN ('f', 'a')
  AND NOT EXISTS (
    SELECT 1 FROM pg_catalog.pg_depend d
    WHERE d.classid = 'pg_catalog.pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e')
