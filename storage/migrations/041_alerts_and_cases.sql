-- Alerts and cases (docs/cases.md).
--
-- An alert is an event (event_open/event_close, migration 040), named by `event_ref`:
-- `hall:kind:subject:<microseconds since 1970 UTC of its start>`. A case made from an event uses the
-- same text as its `source_ref`, so an alert finds its case and a case links back to its alert.

CREATE FUNCTION event_ref(hall text, kind text, subject text, started timestamptz) RETURNS text
  LANGUAGE sql IMMUTABLE PARALLEL SAFE
  RETURN hall || ':' || kind || ':' || subject || ':' || ((extract(epoch FROM started) * 1000000)::bigint)::text;

-- Acknowledgements: one per event, append-only (a trigger refuses UPDATE, DELETE and TRUNCATE).
CREATE TABLE event_ack (
  hall_id    text NOT NULL,
  kind       text NOT NULL,
  subject    text NOT NULL,
  ts         timestamptz NOT NULL,  -- when the event started: the key of its opening
  at         timestamptz NOT NULL DEFAULT now(),
  user_id    bigint REFERENCES app_user (id),
  user_name  text NOT NULL,
  note       text NOT NULL DEFAULT '' CHECK (length(note) <= 2000),
  PRIMARY KEY (hall_id, kind, subject, ts)
);
CREATE FUNCTION event_ack_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'event_ack is append-only: % is not allowed', TG_OP
    USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER event_ack_no_update BEFORE UPDATE OR DELETE ON event_ack
  FOR EACH ROW EXECUTE FUNCTION event_ack_append_only();
CREATE TRIGGER event_ack_no_truncate BEFORE TRUNCATE ON event_ack
  FOR EACH STATEMENT EXECUTE FUNCTION event_ack_append_only();

-- The events open now, kept by triggers as openings and closings arrive, so that listing open alerts first
-- does not join every event ever stored. A row may outlive its event for a moment (an opening and its closing
-- written concurrently): readers still check event_close, so this is an index, not the truth.
CREATE TABLE event_live (
  hall_id text NOT NULL,
  kind    text NOT NULL,
  subject text NOT NULL,
  ts      timestamptz NOT NULL,
  PRIMARY KEY (hall_id, kind, subject, ts)
);
INSERT INTO event_live SELECT hall_id, kind, subject, started_at FROM event_span WHERE ended_at IS NULL;

CREATE FUNCTION event_live_on_open() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM event_close c WHERE c.hall_id = NEW.hall_id AND c.kind = NEW.kind
                 AND c.subject = NEW.subject AND c.ts = NEW.ts) THEN
    INSERT INTO event_live VALUES (NEW.hall_id, NEW.kind, NEW.subject, NEW.ts) ON CONFLICT DO NOTHING;
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER event_open_live AFTER INSERT ON event_open FOR EACH ROW EXECUTE FUNCTION event_live_on_open();

CREATE FUNCTION event_live_on_close() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM event_live l WHERE l.hall_id = NEW.hall_id AND l.kind = NEW.kind AND l.subject = NEW.subject
    AND l.ts = NEW.ts;
  RETURN NULL;
END $$;
CREATE TRIGGER event_close_live AFTER INSERT ON event_close FOR EACH ROW EXECUTE FUNCTION event_live_on_close();

-- Alerts are listed newest first (a hypertable has this index already).
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb') THEN
    CREATE INDEX event_open_started_idx ON event_open (ts DESC);
  END IF;
END $$;

-- Each step of a case, as complaint_step keeps a complaint's.
CREATE TABLE work_case_step (
  case_id     bigint NOT NULL REFERENCES work_case (id),
  at          timestamptz NOT NULL DEFAULT now(),
  user_id     bigint REFERENCES app_user (id),
  from_status text,
  to_status   text NOT NULL,
  note        text NOT NULL DEFAULT ''
);
CREATE INDEX work_case_step_idx ON work_case_step (case_id, at);

ALTER TABLE work_case
  ADD COLUMN status_at timestamptz NOT NULL DEFAULT now(),
  ADD CONSTRAINT work_case_rectified_has_text CHECK (status = 'open' OR rectification IS NOT NULL),
  ADD CONSTRAINT work_case_verified_has_text CHECK (status NOT IN ('verified', 'closed') OR verification IS NOT NULL),
  ADD CONSTRAINT work_case_closed_at CHECK ((status = 'closed') = (closed_at IS NOT NULL));
CREATE INDEX work_case_owner_idx ON work_case (owner_id, status);

GRANT SELECT, INSERT ON event_ack TO hallwatch_app;
GRANT SELECT, INSERT, DELETE ON event_live TO hallwatch_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON work_case_step TO hallwatch_app;
