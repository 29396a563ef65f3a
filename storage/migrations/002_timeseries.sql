-- The first timeseries: desk presence, queue and self-service counts, camera health. Every sample
-- is keyed by its subject and capture time, so a replayed sample is stored once (writers use
-- ON CONFLICT DO NOTHING).

-- The one switch between TimescaleDB and plain PostgreSQL. Later migrations call it for every
-- timeseries table; with the extension it makes a hypertable, without it a BRIN index on time,
-- which keeps range scans cheap on append-only data.
-- TimescaleDB is used only when the server preloads it (shared_preload_libraries): installed but not
-- preloaded, CREATE EXTENSION ends the session with FATAL, which no EXCEPTION clause catches. The loader's
-- own setting exists only when it is preloaded; pg_settings, where the role may read it, must agree.
DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb')
     AND current_setting('timescaledb.bgw_launcher_poll_time', true) IS NOT NULL
     AND NOT EXISTS (SELECT 1 FROM pg_settings WHERE name = 'shared_preload_libraries'
                     AND setting !~ '(^|[ ,"])timescaledb($|[ ,"])') THEN
    BEGIN
      CREATE EXTENSION IF NOT EXISTS timescaledb;
    EXCEPTION WHEN OTHERS THEN
      RAISE NOTICE 'timescaledb is available but cannot be loaded (%): using plain tables', SQLERRM;
    END;
  END IF;
END $$;

CREATE FUNCTION hallwatch_timeseries(tbl regclass) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb') THEN
    PERFORM create_hypertable(tbl, 'ts', if_not_exists => true, migrate_data => true);
    RETURN 'hypertable';
  END IF;
  EXECUTE format('CREATE INDEX IF NOT EXISTS %I ON %s USING brin (ts)', tbl::text || '_ts_brin', tbl);
  RETURN 'brin';
END $$;

CREATE TABLE desk_sample (
  ts          timestamptz NOT NULL,
  hall_id     text NOT NULL,
  window_id   text NOT NULL,
  camera_id   text NOT NULL,
  state       text NOT NULL CHECK (state IN ('present', 'absent', 'unknown')),
  state_since timestamptz NOT NULL,
  people      smallint NOT NULL CHECK (people >= 0),
  PRIMARY KEY (hall_id, window_id, ts)
);
SELECT hallwatch_timeseries('desk_sample');

CREATE TABLE zone_sample (
  ts        timestamptz NOT NULL,
  hall_id   text NOT NULL,
  zone_id   text NOT NULL,
  camera_id text NOT NULL,
  kind      text NOT NULL CHECK (kind IN ('queue', 'self_service')),
  people    smallint NOT NULL CHECK (people >= 0),
  PRIMARY KEY (hall_id, zone_id, ts)
);
SELECT hallwatch_timeseries('zone_sample');

CREATE TABLE camera_health (
  ts            timestamptz NOT NULL,
  hall_id       text NOT NULL,
  camera_id     text NOT NULL,
  state         text NOT NULL
                CHECK (state IN ('connecting', 'live', 'stalled', 'offline', 'unauthorized', 'bad_stream')),
  fps           real NOT NULL CHECK (fps >= 0),
  last_frame_at timestamptz,
  reconnects    integer NOT NULL CHECK (reconnects >= 0),
  error         text,          -- redacted: no credentials
  PRIMARY KEY (hall_id, camera_id, ts)
);
SELECT hallwatch_timeseries('camera_health');
