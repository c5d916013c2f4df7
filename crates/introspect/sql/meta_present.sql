-- Which of the tool's metadata tables exist, and whether TimescaleDB is installed.
SELECT to_regclass('meta.table_metadata') IS NOT NULL,
       to_regclass('meta.enterprise_features') IS NOT NULL,
       to_regclass('meta.column_metadata') IS NOT NULL,
       to_regclass('timescaledb_information.dimensions') IS NOT NULL
