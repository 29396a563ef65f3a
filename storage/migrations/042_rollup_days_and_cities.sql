-- Coarser rollups on top of migration 030's, so that trends over months read hundreds or thousands of rows
-- instead of hundreds of thousands (see storage/rollups.py, docs/grafana.md):
--   desk_day, zone_day, health_day                     per window / zone / camera and UTC day, from the hour ones
--   desk_hall_day, zone_hall_day, health_hall_day      per hall (and zone kind) and day, from the hall-hour ones
--   desk_city_minute, zone_city_minute, health_city_minute
--                                                      per city (and zone kind) and minute: the per-subject
--                                                      minutes summed over the city's halls (hall.city_id)
--   desk_city_hour, zone_city_hour, health_city_hour   per city (and zone kind) and hour: the hall-hours summed
--                                                      over the city's halls
--   desk_city_day, zone_city_day, health_city_day      per city (and zone kind) and day, from the city-hour ones
-- Same columns as the level they come from, with city_id in place of hall_id for the city ones. Samples of a hall
-- the hall table does not know are in no city rollup (as the panels that join `hall` never counted them).

DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb') THEN
    -- Hierarchical continuous aggregates (TimescaleDB >= 2.9; with a JOIN, >= 2.10). A hall moved to another
    -- city does not invalidate them: refresh the city ones over the whole range after such a move.
    EXECUTE $v$
      CREATE MATERIALIZED VIEW desk_day
      WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
      SELECT time_bucket('1 day', bucket) AS bucket, hall_id, window_id,
             sum(samples) AS samples, sum(present) AS present, sum(absent) AS absent,
             sum(unknown) AS unknown, max(people_max) AS people_max
      FROM desk_hour GROUP BY 1, 2, 3 WITH NO DATA $v$;
    EXECUTE $v$
      CREATE MATERIALIZED VIEW zone_day
      WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
      SELECT time_bucket('1 day', bucket) AS bucket, hall_id, zone_id, max(kind) AS kind,
             sum(samples) AS samples, sum(people_sum) AS people_sum, max(people_max) AS people_max
      FROM zone_hour GROUP BY 1, 2, 3 WITH NO DATA $v$;
    EXECUTE $v$
      CREATE MATERIALIZED VIEW health_day
      WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
      SELECT time_bucket('1 day', bucket) AS bucket, hall_id, camera_id,
             sum(samples) AS samples, sum(live) AS live, sum(fps_sum) AS fps_sum
      FROM health_hour GROUP BY 1, 2, 3 WITH NO DATA $v$;
    EXECUTE $v$
      CREATE MATERIALIZED VIEW desk_hall_day
      WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
      SELECT time_bucket('1 day', bucket) AS bucket, hall_id,
             sum(samples) AS samples, sum(present) AS present, sum(absent) AS absent, sum(unknown) AS unknown
      FROM desk_hall_hour GROUP BY 1, 2 WITH NO DATA $v$;
    EXECUTE $v$
      CREATE MATERIALIZED VIEW zone_hall_day
      WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
      SELECT time_bucket('1 day', bucket) AS bucket, hall_id, kind,
             sum(samples) AS samples, sum(people_sum) AS people_sum, max(people_max) AS people_max
      FROM zone_hall_hour GROUP BY 1, 2, 3 WITH NO DATA $v$;
    EXECUTE $v$
      CREATE MATERIALIZED VIEW health_hall_day
      WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
      SELECT time_bucket('1 day', bucket) AS bucket, hall_id, sum(samples) AS samples, sum(live) AS live
      FROM health_hall_hour GROUP BY 1, 2 WITH NO DATA $v$;
    EXECUTE $v$
      CREATE MATERIALIZED VIEW desk_city_minute
      WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
      SELECT time_bucket('1 minute', r.bucket) AS bucket, h.city_id,
             sum(r.samples) AS samples, sum(r.present) AS present, sum(r.absent) AS absent,
             sum(r.unknown) AS unknown
      FROM desk_minute r JOIN hall h ON h.id = r.hall_id GROUP BY 1, 2 WITH NO DATA $v$;
    EXECUTE $v$
      CREATE MATERIALIZED VIEW zone_city_minute
      WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
      SELECT time_bucket('1 minute', r.bucket) AS bucket, h.city_id, r.kind,
             sum(r.samples) AS samples, sum(r.people_sum) AS people_sum, max(r.people_max) AS people_max
      FROM zone_minute r JOIN hall h ON h.id = r.hall_id GROUP BY 1, 2, 3 WITH NO DATA $v$;
    EXECUTE $v$
      CREATE MATERIALIZED VIEW health_city_minute
      WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
      SELECT time_bucket('1 minute', r.bucket) AS bucket, h.city_id, sum(r.samples) AS samples, sum(r.live) AS live
      FROM health_minute r JOIN hall h ON h.id = r.hall_id GROUP BY 1, 2 WITH NO DATA $v$;
    EXECUTE $v$
      CREATE MATERIALIZED VIEW desk_city_hour
      WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
      SELECT time_bucket('1 hour', r.bucket) AS bucket, h.city_id,
             sum(r.samples) AS samples, sum(r.present) AS present, sum(r.absent) AS absent,
             sum(r.unknown) AS unknown
      FROM desk_hall_hour r JOIN hall h ON h.id = r.hall_id GROUP BY 1, 2 WITH NO DATA $v$;
    EXECUTE $v$
      CREATE MATERIALIZED VIEW zone_city_hour
      WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
      SELECT time_bucket('1 hour', r.bucket) AS bucket, h.city_id, r.kind,
             sum(r.samples) AS samples, sum(r.people_sum) AS people_sum, max(r.people_max) AS people_max
      FROM zone_hall_hour r JOIN hall h ON h.id = r.hall_id GROUP BY 1, 2, 3 WITH NO DATA $v$;
    EXECUTE $v$
      CREATE MATERIALIZED VIEW health_city_hour
      WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
      SELECT time_bucket('1 hour', r.bucket) AS bucket, h.city_id, sum(r.samples) AS samples, sum(r.live) AS live
      FROM health_hall_hour r JOIN hall h ON h.id = r.hall_id GROUP BY 1, 2 WITH NO DATA $v$;
    EXECUTE $v$
      CREATE MATERIALIZED VIEW desk_city_day
      WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
      SELECT time_bucket('1 day', bucket) AS bucket, city_id,
             sum(samples) AS samples, sum(present) AS present, sum(absent) AS absent, sum(unknown) AS unknown
      FROM desk_city_hour GROUP BY 1, 2 WITH NO DATA $v$;
    EXECUTE $v$
      CREATE MATERIALIZED VIEW zone_city_day
      WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
      SELECT time_bucket('1 day', bucket) AS bucket, city_id, kind,
             sum(samples) AS samples, sum(people_sum) AS people_sum, max(people_max) AS people_max
      FROM zone_city_hour GROUP BY 1, 2, 3 WITH NO DATA $v$;
    EXECUTE $v$
      CREATE MATERIALIZED VIEW health_city_day
      WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
      SELECT time_bucket('1 day', bucket) AS bucket, city_id, sum(samples) AS samples, sum(live) AS live
      FROM health_city_hour GROUP BY 1, 2 WITH NO DATA $v$;
    RETURN;
  END IF;

  -- Plain PostgreSQL: tables refreshed with the others by refresh_rollups.
  CREATE TABLE desk_day (LIKE desk_hour INCLUDING ALL);
  CREATE TABLE zone_day (LIKE zone_hour INCLUDING ALL);
  CREATE TABLE health_day (LIKE health_hour INCLUDING ALL);
  CREATE TABLE desk_hall_day (LIKE desk_hall_hour INCLUDING ALL);
  CREATE TABLE zone_hall_day (LIKE zone_hall_hour INCLUDING ALL);
  CREATE TABLE health_hall_day (LIKE health_hall_hour INCLUDING ALL);

  CREATE TABLE desk_city_hour (
    bucket  timestamptz NOT NULL,
    city_id text NOT NULL,
    samples bigint NOT NULL,
    present bigint NOT NULL,
    absent  bigint NOT NULL,
    unknown bigint NOT NULL,
    PRIMARY KEY (city_id, bucket)
  );
  CREATE TABLE zone_city_hour (
    bucket     timestamptz NOT NULL,
    city_id    text NOT NULL,
    kind       text NOT NULL,
    samples    bigint NOT NULL,
    people_sum bigint NOT NULL,
    people_max smallint NOT NULL,
    PRIMARY KEY (city_id, kind, bucket)
  );
  CREATE TABLE health_city_hour (
    bucket  timestamptz NOT NULL,
    city_id text NOT NULL,
    samples bigint NOT NULL,
    live    bigint NOT NULL,
    PRIMARY KEY (city_id, bucket)
  );
  CREATE TABLE desk_city_minute (LIKE desk_city_hour INCLUDING ALL);
  CREATE TABLE zone_city_minute (LIKE zone_city_hour INCLUDING ALL);
  CREATE TABLE health_city_minute (LIKE health_city_hour INCLUDING ALL);
  CREATE TABLE desk_city_day (LIKE desk_city_hour INCLUDING ALL);
  CREATE TABLE zone_city_day (LIKE zone_city_hour INCLUDING ALL);
  CREATE TABLE health_city_day (LIKE health_city_hour INCLUDING ALL);
  -- LIKE ... INCLUDING ALL copied the day tables' keys and bucket indexes from the hour ones; the city tables
  -- get their bucket indexes here.
  CREATE INDEX desk_city_minute_bucket ON desk_city_minute (bucket);
  CREATE INDEX zone_city_minute_bucket ON zone_city_minute (bucket);
  CREATE INDEX health_city_minute_bucket ON health_city_minute (bucket);
  CREATE INDEX desk_city_hour_bucket ON desk_city_hour (bucket);
  CREATE INDEX zone_city_hour_bucket ON zone_city_hour (bucket);
  CREATE INDEX health_city_hour_bucket ON health_city_hour (bucket);
  CREATE INDEX desk_city_day_bucket ON desk_city_day (bucket);
  CREATE INDEX zone_city_day_bucket ON zone_city_day (bucket);
  CREATE INDEX health_city_day_bucket ON health_city_day (bucket);

  -- The hall -> city map the city rollups were computed with: a refresh that finds `hall` different
  -- recomputes the city buckets of the halls that moved (or appeared).
  CREATE TABLE rollup_hall_city (
    hall_id text PRIMARY KEY,
    city_id text NOT NULL
  );

  -- What the rollups already hold (everything refreshed so far), carried into the new levels.
  INSERT INTO desk_day SELECT date_bin('1 day', bucket, '2000-01-01 00:00+00'), hall_id, window_id,
    sum(samples), sum(present), sum(absent), sum(unknown), max(people_max) FROM desk_hour GROUP BY 1, 2, 3;
  INSERT INTO zone_day SELECT date_bin('1 day', bucket, '2000-01-01 00:00+00'), hall_id, zone_id, max(kind),
    sum(samples), sum(people_sum), max(people_max) FROM zone_hour GROUP BY 1, 2, 3;
  INSERT INTO health_day SELECT date_bin('1 day', bucket, '2000-01-01 00:00+00'), hall_id, camera_id,
    sum(samples), sum(live), sum(fps_sum) FROM health_hour GROUP BY 1, 2, 3;
  INSERT INTO desk_hall_day SELECT date_bin('1 day', bucket, '2000-01-01 00:00+00'), hall_id,
    sum(samples), sum(present), sum(absent), sum(unknown) FROM desk_hall_hour GROUP BY 1, 2;
  INSERT INTO zone_hall_day SELECT date_bin('1 day', bucket, '2000-01-01 00:00+00'), hall_id, kind,
    sum(samples), sum(people_sum), max(people_max) FROM zone_hall_hour GROUP BY 1, 2, 3;
  INSERT INTO health_hall_day SELECT date_bin('1 day', bucket, '2000-01-01 00:00+00'), hall_id,
    sum(samples), sum(live) FROM health_hall_hour GROUP BY 1, 2;
  INSERT INTO desk_city_minute SELECT r.bucket, h.city_id, sum(r.samples), sum(r.present), sum(r.absent),
    sum(r.unknown) FROM desk_minute r JOIN hall h ON h.id = r.hall_id GROUP BY 1, 2;
  INSERT INTO zone_city_minute SELECT r.bucket, h.city_id, r.kind, sum(r.samples), sum(r.people_sum),
    max(r.people_max) FROM zone_minute r JOIN hall h ON h.id = r.hall_id GROUP BY 1, 2, 3;
  INSERT INTO health_city_minute SELECT r.bucket, h.city_id, sum(r.samples), sum(r.live)
    FROM health_minute r JOIN hall h ON h.id = r.hall_id GROUP BY 1, 2;
  INSERT INTO desk_city_hour SELECT r.bucket, h.city_id, sum(r.samples), sum(r.present), sum(r.absent),
    sum(r.unknown) FROM desk_hall_hour r JOIN hall h ON h.id = r.hall_id GROUP BY 1, 2;
  INSERT INTO zone_city_hour SELECT r.bucket, h.city_id, r.kind, sum(r.samples), sum(r.people_sum),
    max(r.people_max) FROM zone_hall_hour r JOIN hall h ON h.id = r.hall_id GROUP BY 1, 2, 3;
  INSERT INTO health_city_hour SELECT r.bucket, h.city_id, sum(r.samples), sum(r.live)
    FROM health_hall_hour r JOIN hall h ON h.id = r.hall_id GROUP BY 1, 2;
  INSERT INTO desk_city_day SELECT date_bin('1 day', bucket, '2000-01-01 00:00+00'), city_id,
    sum(samples), sum(present), sum(absent), sum(unknown) FROM desk_city_hour GROUP BY 1, 2;
  INSERT INTO zone_city_day SELECT date_bin('1 day', bucket, '2000-01-01 00:00+00'), city_id, kind,
    sum(samples), sum(people_sum), max(people_max) FROM zone_city_hour GROUP BY 1, 2, 3;
  INSERT INTO health_city_day SELECT date_bin('1 day', bucket, '2000-01-01 00:00+00'), city_id,
    sum(samples), sum(live) FROM health_city_hour GROUP BY 1, 2;
  INSERT INTO rollup_hall_city SELECT id, city_id FROM hall;
END $$;
