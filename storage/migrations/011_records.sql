-- Supervision records: complaints, inspections of every kind with checklists, scores, findings and
-- evidence, and cases that track any finding to closure. See docs/records.md.

CREATE TABLE complaint (
  id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  hall_id             text NOT NULL REFERENCES hall (id),
  window_id           text,
  officer_badge       text,            -- the officer complained about (officer.badge, migration 020)
  responsible_officer text,            -- first-question responsibility: who first took the matter
  channel             text NOT NULL CHECK (channel IN ('hotline', 'web', 'in_person', 'letter')),
  category            text NOT NULL CHECK (category IN ('attitude', 'delay', 'error', 'discipline',
                                                         'environment', 'other')),
  summary             text NOT NULL CHECK (length(summary) BETWEEN 1 AND 4000),
  contact_name        text NOT NULL DEFAULT '',
  contact_phone       text NOT NULL DEFAULT '',
  received_at         timestamptz NOT NULL,
  external_ref        text UNIQUE,     -- the hotline's own id, so a re-import stores a complaint once
  status              text NOT NULL DEFAULT 'received'
                      CHECK (status IN ('received', 'assigned', 'in_progress', 'resolved', 'closed', 'rejected')),
  status_at           timestamptz NOT NULL DEFAULT now(),
  assignee_id         bigint REFERENCES app_user (id),
  assign_due_at       timestamptz NOT NULL,
  resolve_due_at      timestamptz NOT NULL,
  resolution          text,
  upheld              boolean,         -- set on resolution: was the complaint justified (scorecards count these)
  reject_reason       text,
  created_by          bigint REFERENCES app_user (id),
  created_at          timestamptz NOT NULL DEFAULT now(),
  FOREIGN KEY (hall_id, window_id) REFERENCES service_window (hall_id, id),
  CHECK (status <> 'rejected' OR length(reject_reason) > 0),
  CHECK (status NOT IN ('resolved', 'closed') OR (resolution IS NOT NULL AND upheld IS NOT NULL))
);
CREATE INDEX complaint_hall_idx ON complaint (hall_id, received_at DESC);
CREATE INDEX complaint_status_idx ON complaint (status, resolve_due_at);

CREATE TABLE complaint_step (
  complaint_id bigint NOT NULL REFERENCES complaint (id),
  at           timestamptz NOT NULL DEFAULT now(),
  user_id      bigint REFERENCES app_user (id),
  from_status  text,
  to_status    text NOT NULL,
  note         text NOT NULL DEFAULT ''
);
CREATE INDEX complaint_step_idx ON complaint_step (complaint_id, at);

CREATE TABLE checklist_template (
  id     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  name   text NOT NULL UNIQUE,
  kind   text CHECK (kind IN ('spot_check', 'secret_shopper', 'cross_inspection', 'social_supervisor')),
  active boolean NOT NULL DEFAULT true
);

CREATE TABLE checklist_item (
  template_id bigint NOT NULL REFERENCES checklist_template (id),
  position    smallint NOT NULL CHECK (position >= 1),
  text        text NOT NULL,
  weight      real NOT NULL CHECK (weight > 0),
  PRIMARY KEY (template_id, position)
);

CREATE TABLE inspection (
  id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  kind           text NOT NULL CHECK (kind IN ('spot_check', 'secret_shopper', 'cross_inspection', 'social_supervisor')),
  hall_id        text NOT NULL REFERENCES hall (id),
  planned_at     timestamptz NOT NULL,
  inspector      text NOT NULL,        -- who visits: a user name, a supervisor or a third-party shopper
  from_hall_id   text REFERENCES hall (id),  -- cross-inspection: the visiting hall
  covert         boolean NOT NULL DEFAULT false,
  template_id    bigint REFERENCES checklist_template (id),
  status         text NOT NULL DEFAULT 'planned'
                 CHECK (status IN ('planned', 'carried_out', 'published', 'cancelled')),
  carried_out_at timestamptz,
  published_at   timestamptz,
  score          real CHECK (score BETWEEN 0 AND 100),
  notes          text NOT NULL DEFAULT '',
  created_by     bigint REFERENCES app_user (id),
  created_at     timestamptz NOT NULL DEFAULT now(),
  CHECK (status IN ('planned', 'cancelled') OR carried_out_at IS NOT NULL),
  CHECK (status <> 'published' OR published_at IS NOT NULL)
);
CREATE INDEX inspection_hall_idx ON inspection (hall_id, planned_at DESC);

CREATE TABLE inspection_score (
  inspection_id bigint NOT NULL REFERENCES inspection (id),
  template_id   bigint NOT NULL,
  position      smallint NOT NULL,
  value         real NOT NULL CHECK (value BETWEEN 0 AND 1),   -- 1 = fully met
  note          text NOT NULL DEFAULT '',
  PRIMARY KEY (inspection_id, position),
  FOREIGN KEY (template_id, position) REFERENCES checklist_item (template_id, position)
);

CREATE TABLE finding (
  id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  inspection_id bigint NOT NULL REFERENCES inspection (id),
  window_id     text,
  category      text NOT NULL CHECK (category IN ('error', 'attitude', 'discipline', 'absence', 'environment',
                                                   'process', 'other')),
  severity      text NOT NULL CHECK (severity IN ('low', 'medium', 'high', 'critical')),
  description   text NOT NULL CHECK (length(description) BETWEEN 1 AND 4000),
  created_by    bigint REFERENCES app_user (id),
  created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX finding_inspection_idx ON finding (inspection_id);

-- The bytes as received (`data`) and with faces blurred (`blurred`), each with its sha256, checked on read.
CREATE TABLE evidence (
  id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  inspection_id  bigint NOT NULL REFERENCES inspection (id),
  finding_id     bigint REFERENCES finding (id),
  source         text NOT NULL CHECK (source IN ('camera', 'upload')),
  camera_id      text,
  taken_at       timestamptz NOT NULL,
  content_type   text NOT NULL CHECK (content_type IN ('image/jpeg', 'image/png')),
  size           integer NOT NULL CHECK (size > 0),
  sha256         text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
  data           bytea NOT NULL,
  blurred_sha256 text NOT NULL CHECK (blurred_sha256 ~ '^[0-9a-f]{64}$'),
  blurred        bytea NOT NULL,
  faces_blurred  integer NOT NULL CHECK (faces_blurred >= 0),
  created_by     bigint REFERENCES app_user (id),
  created_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX evidence_inspection_idx ON evidence (inspection_id);

-- One list of open work: any finding, complaint or video event can become a case.
CREATE TABLE work_case (
  id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  source_kind    text NOT NULL CHECK (source_kind IN ('finding', 'complaint', 'event')),
  source_ref     text NOT NULL,        -- finding id, complaint id, or hall/kind/subject/started_at of an event
  hall_id        text NOT NULL REFERENCES hall (id),
  inspection_id  bigint REFERENCES inspection (id),  -- keeps a case from a covert visit as hidden as the visit
  title          text NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
  owner_id       bigint REFERENCES app_user (id),
  due_at         timestamptz NOT NULL,
  status         text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'rectified', 'verified', 'closed')),
  rectification  text,
  verification   text,
  created_by     bigint REFERENCES app_user (id),
  created_at     timestamptz NOT NULL DEFAULT now(),
  closed_at      timestamptz,
  UNIQUE (source_kind, source_ref)
);
CREATE INDEX work_case_hall_idx ON work_case (hall_id, status, due_at);

GRANT SELECT, INSERT, UPDATE, DELETE ON complaint, complaint_step, checklist_template, checklist_item, inspection,
  inspection_score, finding, evidence, work_case TO hallwatch_app;
