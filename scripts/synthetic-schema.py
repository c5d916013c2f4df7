#!/usr/bin/env python3
"""Write a synthetic schema: N tables x 10 columns, each table with a foreign key to an
earlier table, two indexes (one partial), a unique key, a
check, and metadata rows. Deterministic: the same N gives the same text.

usage: scripts/synthetic-schema.py [N] > schema.sql
"""
import sys

n = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
out = sys.stdout
out.write("-- synthetic schema: %d tables x 10 columns, plus users and RBAC tables\n" % n)
out.write("""CREATE TABLE users (id uuid PRIMARY KEY DEFAULT uuid_generate_v7(), email varchar(255) UNIQUE NOT NULL,
  password_hash varchar(255) NOT NULL, name varchar(200), status varchar(20) DEFAULT 'active',
  created_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE roles (id uuid PRIMARY KEY DEFAULT uuid_generate_v7(), name varchar(100) UNIQUE NOT NULL,
  slug varchar(100) UNIQUE NOT NULL, parent_role_id uuid REFERENCES roles(id), level integer DEFAULT 0);
CREATE TABLE permissions (id uuid PRIMARY KEY DEFAULT uuid_generate_v7(), name varchar(100) NOT NULL,
  slug varchar(100) UNIQUE NOT NULL, resource varchar(50) NOT NULL, action varchar(50) NOT NULL);
CREATE TABLE role_permissions (role_id uuid REFERENCES roles(id) ON DELETE CASCADE,
  permission_id uuid REFERENCES permissions(id) ON DELETE CASCADE, PRIMARY KEY (role_id, permission_id));
CREATE TABLE user_roles (user_id uuid REFERENCES users(id) ON DELETE CASCADE, role_id uuid REFERENCES roles(id)
  ON DELETE CASCADE, expires_at timestamptz, PRIMARY KEY (user_id, role_id));
""")
for i in range(n):
    t = "t%04d" % i
    cols = [
        "  id uuid PRIMARY KEY DEFAULT uuid_generate_v7()",
        "  name varchar(200) NOT NULL",
        "  code varchar(40) NOT NULL UNIQUE",
        "  amount numeric(12,2) DEFAULT 0 CHECK (amount >= 0)",
        "  quantity integer NOT NULL DEFAULT 1",
        "  status varchar(20) DEFAULT 'active'",
        "  payload jsonb DEFAULT '{}'",
        "  parent_id uuid" + (" REFERENCES t%04d(id) ON DELETE CASCADE" % (i // 2) if i > 0 else ""),
        "  created_at timestamptz NOT NULL DEFAULT now()",
        "  deleted_at timestamptz",
    ]
    out.write("CREATE TABLE %s (\n%s\n);\n" % (t, ",\n".join(cols)))
    out.write("CREATE INDEX idx_%s_parent ON %s (parent_id) WHERE deleted_at IS NULL;\n" % (t, t))
    out.write("CREATE INDEX idx_%s_created ON %s (created_at DESC, id);\n" % (t, t))
    if i % 10 == 0:
        out.write("COMMENT ON TABLE %s IS 'table %d';\n" % (t, i))
out.write("INSERT INTO meta.table_metadata (schema_name, table_name, has_soft_delete, enable_rbac) VALUES\n")
out.write(",\n".join("  ('public', 't%04d', true, true)" % i for i in range(0, n, 10)) + ";\n")
