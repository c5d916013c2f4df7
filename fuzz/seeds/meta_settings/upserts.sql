INSERT INTO meta.table_metadata (schema_name, table_name, table_purpose, cache_enabled, cache_ttl, default_page_size, max_page_size, count_mode)
VALUES ('public', 'projects', 'Projects', 't', '120', 50, 500, 'exact')
ON CONFLICT (schema_name, table_name) DO UPDATE SET cache_ttl = EXCLUDED.cache_ttl, table_purpose = table_metadata.table_purpose || ' (again)';
INSERT INTO meta.table_metadata (schema_name, table_name, is_readonly, enable_versioning) VALUES ('public', 'users', true, 'yes')
ON CONFLICT (schema_name, table_name) DO NOTHING;
UPDATE meta.table_metadata SET enable_rbac = NOT false WHERE table_name IN ('projects', 'users') AND cache_ttl IS NOT NULL;
INSERT INTO meta.enterprise_features (table_metadata_id, enable_tenant_isolation, tenant_column_name, audit_sensitive_columns)
SELECT tm.id, true, 'organization_id', ARRAY['name'] FROM meta.table_metadata AS tm WHERE tm.table_name = 'projects';
INSERT INTO meta.column_metadata (table_metadata_id, column_name, is_hidden, filter_operators, validation, description)
SELECT id, 'description', false, '{eq,"ilike"}', '{"max": 10}'::jsonb, $$Free text$$ FROM meta.table_metadata WHERE table_name = 'projects';
DELETE FROM meta.column_metadata WHERE column_name = 'nope';
