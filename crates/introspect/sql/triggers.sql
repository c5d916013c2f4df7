-- User triggers (not the internal ones behind foreign keys; not a partition's clone).
SELECT t.tgrelid::int8,
       t.tgname::text,
       t.tgtype::int4,
       fn.nspname::text,
       f.proname::text,
       pg_catalog.pg_get_triggerdef(t.oid)
FROM pg_catalog.pg_trigger t
JOIN pg_catalog.pg_class c ON c.oid = t.tgrelid
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
JOIN pg_catalog.pg_proc f ON f.oid = t.tgfoid
JOIN pg_catalog.pg_namespace fn ON fn.oid = f.pronamespace
WHERE n.nspname = ANY($1)
  AND NOT t.tgisinternal
  AND t.tgparentid = 0
