-- Geography mirrored from the site file: province -> city -> hall -> window, and each hall's
-- cameras and zones. Rows the site file no longer has stay (samples and records refer to them),
-- marked inactive.

CREATE TABLE province (
  id   text PRIMARY KEY,
  name text NOT NULL
);

CREATE TABLE city (
  id          text PRIMARY KEY,
  province_id text NOT NULL REFERENCES province (id),
  name        text NOT NULL
);

CREATE TABLE hall (
  id      text PRIMARY KEY,
  city_id text NOT NULL REFERENCES city (id),
  name    text NOT NULL,
  size    text NOT NULL CHECK (size IN ('large', 'medium', 'small')),
  flow    text NOT NULL CHECK (flow IN ('one_window_quick', 'precheck_assisted', 'self_service_first')),
  active  boolean NOT NULL DEFAULT true
);

CREATE TABLE service_window (
  hall_id text NOT NULL REFERENCES hall (id),
  id      text NOT NULL,
  name    text NOT NULL,
  active  boolean NOT NULL DEFAULT true,
  PRIMARY KEY (hall_id, id)
);

CREATE TABLE camera (
  hall_id      text NOT NULL REFERENCES hall (id),
  id           text NOT NULL,
  name         text,
  url_redacted text NOT NULL,  -- never the password: see core.redact
  active       boolean NOT NULL DEFAULT true,
  PRIMARY KEY (hall_id, id)
);

CREATE TABLE zone (
  hall_id   text NOT NULL REFERENCES hall (id),
  id        text NOT NULL,
  camera_id text NOT NULL,
  kind      text NOT NULL CHECK (kind IN ('desk', 'queue', 'self_service')),
  window_id text,
  polygon   jsonb NOT NULL,
  active    boolean NOT NULL DEFAULT true,
  PRIMARY KEY (hall_id, id)
);
