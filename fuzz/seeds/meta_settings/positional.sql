INSERT INTO meta.table_metadata VALUES (DEFAULT, 'projects');
INSERT INTO nestgen.table_metadata (id, table_name, enable_auth) VALUES ('u1', 'users', E'true');
INSERT INTO meta.enterprise_features (table_metadata_id, enable_time_series, time_column_name, enable_file_upload, enable_queue, enable_realtime, enable_event_sourcing)
VALUES ('u1', true, 'created_at', 'on', 'off', '0', NULL);
