-- TimescaleDB hypertables and their time column (run only where the extension is installed).
SELECT hypertable_schema::text, hypertable_name::text, column_name::text, time_interval::text
FROM timescaledb_information.dimensions
WHERE dimension_number = 1
