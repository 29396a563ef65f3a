-- Minute and hour rollups of the timeseries, for dashboards over long ranges (see storage/rollups.py
-- and docs/grafana.md). The same relation names and columns on both paths:
--   desk_minute / desk_hour     per window: samples seen in each desk state, most people at the desk
--   zone_minute / zone_hour     per queue or self-service zone: samples, sum and max of people
--   health_minute / health_hour per camera: health samples, how many of them live, sum of fps
--   desk_hall_hour, zone_hall_hour, health_hall_hour: the hour rollups summed per hall (and zone kind),
--   which province and city trends over months read
-- `bucket` is the start of the minute or hour (UTC). Shares and means are computed by the reader
-- (present / (present + absent), people_sum / samples), so hours add up from minutes exactly.
--
-- With TimescaleDB they are continuous aggregates (the hour ones on the minute ones), refreshed by
-- `refresh_rollups`; with plain PostgreSQL they are tables that `refresh_rollups` fills from the rows
-- inserted since its last run (`inserted_at`), so a replay of old samples recomputes the old buckets.

DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb') THEN
    EXECUTE $v$
      CREATE MATERIALIZED VIEW desk_minute
      WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
      SELECT time_bucket('1 minute', ts) AS bucket, hall_id, window_id,
             count(*) AS samples,
             count(*) FILTER (WHERE state = 'present') AS present,
             count(*) FILTER (WHERE state = 'absent') AS absent,
             count(*) FILTER (WHERE state = 'unknown') AS unknown,
             max(people) AS people_max
      FROM desk_sample GROUP BY 1, 2, 3 WITH NO DATA $v$;
    EXECUTE $v$
      CREATE MATERIALIZED VIEW zone_minute
      WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
      SELECT time_bucket('1 minute', ts) AS bucket, hall_id, zone_id, kind,
             count(*) AS samples, sum(people) AS people_sum, max(people) AS people_max
      FROM zone_sample GROUP BY 1, 2, 3, 4 WITH NO DATA $v$;
    EXECUTE $v$
      CREATE MATERIALIZED VIEW health_minute
      WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
      SELECT time_bucket('1 minute', ts) AS bucket, hall_id, camera_id,
             count(*) AS samples, count(*) FILTER (WHERE state = 'live') AS live, sum(fps) AS fps_sum
      FROM camera_health GROUP BY 1, 2, 3 WITH NO DATA $v$;
    EXECUTE $v$
      CREATE MATERIALIZED VIEW desk_hour
      WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
      SELECT time_bucket('1 hour', bucket) AS bucket, hall_id, window_id,
             sum(samples) AS samples, sum(present) AS present, sum(absent) AS absent,
             sum(unknown) AS unknown, max(people_max) AS people_max
      FROM desk_minute GROUP BY 1, 2, 3 WITH NO DATA $v$;
    EXECUTE $v$
      CREATE MATERIALIZED VIEW zone_hour
      WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
      SELECT time_bucket('1 hour', bucket) AS bucket, hall_id, zone_id, kind,
             sum(samples) AS samples, sum(people_sum) AS people_sum, max(people_max) AS people_max
      FROM zone_minute GROUP BY 1, 2, 3, 4 WITH NO DATA $v$;
    EXECUTE $v$
      CREATE MATERIALIZED VIEW health_hour
      WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
      SELECT time_bucket('1 hour', bucket) AS bucket, hall_id, camera_id,
             sum(samples) AS samples, sum(live) AS live, sum(fps_sum) AS fps_sum
      FROM health_minute GROUP BY 1, 2, 3 WITH NO DATA $v$;
    EXECUTE $v$
      CREATE MATERIALIZED VIEW desk_hall_hour
      WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
      SELECT time_bucket('1 hour', bucket) AS bucket, hall_id,
             sum(samples) AS samples, sum(present) AS present, sum(absent) AS absent, sum(unknown) AS unknown
      FROM desk_hour GROUP BY 1, 2 WITH NO DATA $v$;
    EXECUTE $v$
      CREATE MATERIALIZED VIEW zone_hall_hour
      WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
      SELECT time_bucket('1 hour', bucket) AS bucket, hall_id, kind,
             sum(samples) AS samples, sum(people_sum) AS people_sum, max(people_max) AS people_max
      FROM zone_hour GROUP BY 1, 2, 3 WITH NO DATA $v$;
    EXECUTE $v$
      CREATE MATERIALIZED VIEW health_hall_hour
      WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
      SELECT time_bucket('1 hour', bucket) AS bucket, hall_id, sum(samples) AS samples, sum(live) AS live
      FROM health_hour GROUP BY 1, 2 WITH NO DATA $v$;
    RETURN;
  END IF;

  -- Plain PostgreSQL. `inserted_at` is the inserting transaction's start (now()): nullable, so that
  -- the writer's staging table (LIKE without defaults) still takes rows; it is set by the default
  -- when rows move from there into the table.
  ALTER TABLE desk_sample ADD COLUMN inserted_at timestamptz DEFAULT now();
  ALTER TABLE zone_sample ADD COLUMN inserted_at timestamptz DEFAULT now();
  ALTER TABLE camera_health ADD COLUMN inserted_at timestamptz DEFAULT now();
  CREATE INDEX desk_sample_inserted_brin ON desk_sample USING brin (inserted_at);
  CREATE INDEX zone_sample_inserted_brin ON zone_sample USING brin (inserted_at);
  CREATE INDEX camera_health_inserted_brin ON camera_health USING brin (inserted_at);

  CREATE TABLE desk_minute (
    bucket     timestamptz NOT NULL,
    hall_id    text NOT NULL,
    window_id  text NOT NULL,
    samples    integer NOT NULL,
    present    integer NOT NULL,
    absent     integer NOT NULL,
    unknown    integer NOT NULL,
    people_max smallint NOT NULL,
    PRIMARY KEY (hall_id, window_id, bucket)
  );
  CREATE TABLE zone_minute (
    bucket     timestamptz NOT NULL,
    hall_id    text NOT NULL,
    zone_id    text NOT NULL,
    kind       text NOT NULL,
    samples    integer NOT NULL,
    people_sum integer NOT NULL,
    people_max smallint NOT NULL,
    PRIMARY KEY (hall_id, zone_id, bucket)
  );
  CREATE TABLE health_minute (
    bucket    timestamptz NOT NULL,
    hall_id   text NOT NULL,
    camera_id text NOT NULL,
    samples   integer NOT NULL,
    live      integer NOT NULL,
    fps_sum   double precision NOT NULL,
    PRIMARY KEY (hall_id, camera_id, bucket)
  );
  CREATE TABLE desk_hour (LIKE desk_minute INCLUDING ALL);
  CREATE TABLE zone_hour (LIKE zone_minute INCLUDING ALL);
  CREATE TABLE health_hour (LIKE health_minute INCLUDING ALL);
  ALTER TABLE desk_hour ALTER samples TYPE bigint, ALTER present TYPE bigint, ALTER absent TYPE bigint,
    ALTER unknown TYPE bigint;
  ALTER TABLE zone_hour ALTER samples TYPE bigint, ALTER people_sum TYPE bigint;
  ALTER TABLE health_hour ALTER samples TYPE bigint, ALTER live TYPE bigint;

  CREATE TABLE desk_hall_hour (
    bucket  timestamptz NOT NULL,
    hall_id text NOT NULL,
    samples bigint NOT NULL,
    present bigint NOT NULL,
    absent  bigint NOT NULL,
    unknown bigint NOT NULL,
    PRIMARY KEY (hall_id, bucket)
  );
  CREATE TABLE zone_hall_hour (
    bucket     timestamptz NOT NULL,
    hall_id    text NOT NULL,
    kind       text NOT NULL,
    samples    bigint NOT NULL,
    people_sum bigint NOT NULL,
    people_max smallint NOT NULL,
    PRIMARY KEY (hall_id, kind, bucket)
  );
  CREATE TABLE health_hall_hour (
    bucket  timestamptz NOT NULL,
    hall_id text NOT NULL,
    samples bigint NOT NULL,
    live    bigint NOT NULL,
    PRIMARY KEY (hall_id, bucket)
  );

  -- Province and city trends read every subject of a time range.
  CREATE INDEX desk_minute_bucket ON desk_minute (bucket);
  CREATE INDEX zone_minute_bucket ON zone_minute (bucket);
  CREATE INDEX health_minute_bucket ON health_minute (bucket);
  CREATE INDEX desk_hour_bucket ON desk_hour (bucket);
  CREATE INDEX zone_hour_bucket ON zone_hour (bucket);
  CREATE INDEX health_hour_bucket ON health_hour (bucket);
  CREATE INDEX desk_hall_hour_bucket ON desk_hall_hour (bucket);
  CREATE INDEX zone_hall_hour_bucket ON zone_hall_hour (bucket);
  CREATE INDEX health_hall_hour_bucket ON health_hall_hour (bucket);

  -- Per source table: rows inserted from `inserted_from` on are not yet in the rollups.
  CREATE TABLE rollup_watermark (
    source        text PRIMARY KEY,
    inserted_from timestamptz NOT NULL
  );
  INSERT INTO rollup_watermark (source, inserted_from)
  VALUES ('desk_sample', '-infinity'), ('zone_sample', '-infinity'), ('camera_health', '-infinity');
END $$;
