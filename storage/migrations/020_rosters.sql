-- Officers, the roster of who staffs which window when (flexible shifts: several a day, different per
-- weekday or per date), and absences that excuse a window left unstaffed. See docs/rosters.md.

CREATE TABLE officer (
  id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  hall_id    text NOT NULL REFERENCES hall (id),
  badge      text NOT NULL UNIQUE CHECK (badge ~ '^[A-Za-z0-9][A-Za-z0-9-]{0,31}$'),
  name       text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
  active     boolean NOT NULL DEFAULT true,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX officer_hall ON officer (hall_id, name);

-- An optional photo, stored like evidence: the bytes with their sha256, checked again on every read.
CREATE TABLE officer_photo (
  officer_id   bigint PRIMARY KEY REFERENCES officer (id) ON DELETE CASCADE,
  content_type text NOT NULL CHECK (content_type IN ('image/jpeg', 'image/png')),
  size         integer NOT NULL CHECK (size > 0),
  sha256       text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
  data         bytea NOT NULL CHECK (octet_length(data) = size),
  uploaded_at  timestamptz NOT NULL DEFAULT now()
);

-- A shift repeats on an ISO weekday (1 = Monday) between valid_from and valid_to, or happens on one date.
-- Times are the hall's local time; a shift whose end is not after its start ends on the next day. A
-- window's dated shifts replace its weekday shifts on that date.
CREATE TABLE roster_shift (
  id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  hall_id    text NOT NULL,
  window_id  text NOT NULL,
  officer_id bigint NOT NULL REFERENCES officer (id),
  weekday    smallint CHECK (weekday BETWEEN 1 AND 7),
  on_date    date,
  starts     time NOT NULL,
  ends       time NOT NULL,
  valid_from date,
  valid_to   date,
  created_at timestamptz NOT NULL DEFAULT now(),
  FOREIGN KEY (hall_id, window_id) REFERENCES service_window (hall_id, id),
  CHECK ((weekday IS NULL) <> (on_date IS NULL)),
  CHECK (on_date IS NULL OR (valid_from IS NULL AND valid_to IS NULL)),
  CHECK (valid_from IS NULL OR valid_to IS NULL OR valid_to >= valid_from),
  CHECK (starts <> ends)
);
CREATE INDEX roster_shift_window ON roster_shift (hall_id, window_id);
CREATE INDEX roster_shift_officer ON roster_shift (officer_id);
-- The same officer at the same window with the same hours is one shift, however often it is imported.
CREATE UNIQUE INDEX roster_shift_unique ON roster_shift
  (hall_id, window_id, officer_id, coalesce(weekday, 0), coalesce(on_date, 'epoch'::date), starts, ends,
   coalesce(valid_from, 'epoch'::date), coalesce(valid_to, 'infinity'::date));

-- An absence excuses rostered time: of one window, or (window_id NULL) of wherever the officer is rostered.
CREATE TABLE absence (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  hall_id     text NOT NULL REFERENCES hall (id),
  window_id   text,
  officer_id  bigint REFERENCES officer (id),
  reason      text NOT NULL CHECK (reason IN ('training', 'leave', 'leader_duty')),
  note        text NOT NULL DEFAULT '' CHECK (length(note) <= 500),
  starts_at   timestamptz NOT NULL,
  ends_at     timestamptz NOT NULL,
  recorded_by text,  -- the user's name; the audit log holds the full trail
  recorded_at timestamptz NOT NULL DEFAULT now(),
  FOREIGN KEY (hall_id, window_id) REFERENCES service_window (hall_id, id),
  CHECK (window_id IS NOT NULL OR officer_id IS NOT NULL),
  CHECK (ends_at > starts_at)
);
CREATE INDEX absence_hall_time ON absence (hall_id, starts_at);

GRANT SELECT, INSERT, UPDATE, DELETE ON officer, officer_photo, roster_shift, absence TO hallwatch_app;
