SET search_path TO meta, public;
INSERT INTO table_metadata (table_name, is_active, has_soft_delete) VALUES ('organizations', true, false), ('roles', false, NULL);
INSERT INTO enterprise_features (table_metadata_id, enable_audit, audit_mode) SELECT id, 1, 'trigger' FROM table_metadata WHERE table_name = 'organizations';
UPDATE table_metadata m SET cache_ttl = -('5'::int) WHERE m.table_name = 'organizations';
