-- People and permissions: users with a role and a geographic scope, browser sessions, API tokens,
-- failed logins (for lockout), and the append-only audit log.

CREATE TABLE app_user (
  id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  name          text NOT NULL UNIQUE CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$'),
  role          text NOT NULL CHECK (role IN ('admin', 'center_operator', 'inspector', 'manager',
                                              'complaints_officer', 'hall_staff')),
  scope         text NOT NULL CHECK (scope ~ '^(province|city/[a-z0-9][a-z0-9_-]*|hall/[a-z0-9][a-z0-9_-]*)$'),
  password_hash text NOT NULL,   -- argon2id
  active        boolean NOT NULL DEFAULT true,
  created_at    timestamptz NOT NULL DEFAULT now()
);

-- Only hashes of session and token secrets are stored: a leaked table opens nothing.
CREATE TABLE user_session (
  token_hash   text PRIMARY KEY,
  user_id      bigint NOT NULL REFERENCES app_user (id),
  csrf_token   text NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now(),
  expires_at   timestamptz NOT NULL
);
CREATE INDEX user_session_user_idx ON user_session (user_id);

CREATE TABLE api_token (
  id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  token_hash   text NOT NULL UNIQUE,
  user_id      bigint NOT NULL REFERENCES app_user (id),
  label        text NOT NULL DEFAULT '',
  created_at   timestamptz NOT NULL DEFAULT now(),
  expires_at   timestamptz NOT NULL,
  revoked      boolean NOT NULL DEFAULT false
);

CREATE TABLE login_failure (
  name   text NOT NULL,
  client text NOT NULL,
  at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX login_failure_name_idx ON login_failure (name, at);
CREATE INDEX login_failure_client_idx ON login_failure (client, at);

-- Every write and every sensitive read. Append-only in the database itself: a trigger rejects
-- UPDATE, DELETE and TRUNCATE for everyone, and the application role below may only INSERT and SELECT.
CREATE TABLE audit_log (
  id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  at        timestamptz NOT NULL DEFAULT now(),
  user_id   bigint,
  user_name text,
  action    text NOT NULL,
  subject   text NOT NULL,
  details   jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_log_at_idx ON audit_log (at DESC);
CREATE INDEX audit_log_subject_idx ON audit_log (subject);

CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit_log is append-only: % is not allowed', TG_OP
    USING ERRCODE = 'insufficient_privilege';
END $$;

CREATE TRIGGER audit_log_no_update BEFORE UPDATE OR DELETE ON audit_log
  FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
  FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();

-- The role the application should log in as (a LOGIN role that is a member of hallwatch_app). Roles
-- are cluster-wide, so it is created once and granted per database.
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'hallwatch_app') THEN
    BEGIN
      CREATE ROLE hallwatch_app NOLOGIN;
    EXCEPTION WHEN duplicate_object OR unique_violation THEN
      NULL;  -- made at the same moment for another database of this cluster
    END;
  END IF;
END $$;
REVOKE ALL ON audit_log FROM PUBLIC;
GRANT SELECT, INSERT ON audit_log TO hallwatch_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON app_user, user_session, api_token, login_failure TO hallwatch_app;
