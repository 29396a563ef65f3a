-- The service's privileges, applied by the owner of the tables after every migration run (so a new
-- table is never forgotten). The service logs in as a member of hallwatch_app, which owns nothing: it
-- reads and writes rows, but cannot ALTER, DROP or TRUNCATE a table or disable its triggers, and where a
-- migration granted a table narrowly (the audit log: SELECT and INSERT only) that grant stands.
DO $$
DECLARE
  relation regclass;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'hallwatch_app') THEN
    BEGIN
      CREATE ROLE hallwatch_app NOLOGIN;
    EXCEPTION WHEN duplicate_object OR unique_violation THEN
      NULL;  -- made at the same moment for another database of this cluster
    END;
  END IF;
  FOR relation IN
    SELECT c.oid::regclass FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p', 'v', 'm')
      AND c.relname <> 'schema_migration'
      AND NOT EXISTS (SELECT 1 FROM aclexplode(coalesce(c.relacl, acldefault('r', c.relowner))) a
                      WHERE a.grantee = 'hallwatch_app'::regrole)
  LOOP
    EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %s TO hallwatch_app', relation);
  END LOOP;
END $$;
GRANT USAGE ON SCHEMA public TO hallwatch_app;
GRANT SELECT ON schema_migration TO hallwatch_app;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO hallwatch_app;
