SELECT e.extname::text FROM pg_catalog.pg_extension e WHERE e.extname <> 'plpgsql'
