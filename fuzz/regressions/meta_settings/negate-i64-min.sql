INSERT INTO meta.table_metadata (table_name, cache_ttl) VALUES ('projects', -('-9223372036854775808'::int));
