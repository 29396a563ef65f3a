-- Retention of the raw per-second samples (storage/retention.py, docs/operations.md): old days are dropped whole,
-- never deleted row by row.
--
-- With TimescaleDB the raw tables are hypertables already (chunks of 7 days); this sets how their chunks are
-- compressed, and storage.retention sets the compression and retention policies from the site file.
--
-- With plain PostgreSQL desk_sample, zone_sample and camera_health become tables partitioned by range of `ts`,
-- one partition per UTC day (`desk_sample_p20261206`), made ahead of time by the retention job, plus a DEFAULT
-- partition (`desk_sample_default`) that takes any row no day partition holds (a camera clock in the future, a
-- replay of days before this migration): nothing is refused. The job moves such rows into their day's partition
-- when it makes it, and deletes those older than the retention from the default partition. Same names, columns,
-- keys and indexes as before, so the writer's COPY and its ON CONFLICT fallback are unchanged.
--
-- Rows stored before this migration stay where they are: the old table becomes one partition,
-- `<table>_legacy`, for everything before tomorrow (UTC), dropped whole by the job once its last day is older
-- than the retention. (Rows dated after that move to the default partition first.) An empty old table is dropped.

-- The partitions of a range-partitioned table and their bounds (NULL: MINVALUE or MAXVALUE); not the default one.
CREATE FUNCTION hallwatch_partitions(parent regclass)
  RETURNS TABLE (partition regclass, lo timestamptz, hi timestamptz) LANGUAGE sql STABLE AS $$
  SELECT c.oid::regclass,
         CASE WHEN b[1] = 'MINVALUE' THEN NULL ELSE trim(BOTH '''' FROM b[1])::timestamptz END,
         CASE WHEN b[2] = 'MAXVALUE' THEN NULL ELSE trim(BOTH '''' FROM b[2])::timestamptz END
  FROM pg_inherits i
  JOIN pg_class c ON c.oid = i.inhrelid
  CROSS JOIN LATERAL regexp_match(pg_get_expr(c.relpartbound, c.oid), 'FROM \((.+)\) TO \((.+)\)') b
  WHERE i.inhparent = parent AND b IS NOT NULL
$$;

-- The partition of `parent` for the UTC day `day`, made unless a partition already holds that day: the day's rows
-- waiting in the default partition move into it. Returns the new partition, or NULL when there was one.
CREATE FUNCTION hallwatch_day_partition(parent regclass, day date) RETURNS regclass LANGUAGE plpgsql AS $$
DECLARE
  part text := format('%s_p%s', parent::text, to_char(day, 'YYYYMMDD'));
  fallback text := parent::text || '_default';
  day_start timestamptz := day::timestamp AT TIME ZONE 'UTC';
  day_end timestamptz := (day + 1)::timestamp AT TIME ZONE 'UTC';
BEGIN
  IF EXISTS (SELECT 1 FROM hallwatch_partitions(parent) p
             WHERE coalesce(p.lo, '-infinity') < day_end AND coalesce(p.hi, 'infinity') > day_start) THEN
    RETURN NULL;
  END IF;
  EXECUTE format('CREATE TABLE %I (LIKE %s INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING STORAGE)', part, parent);
  IF to_regclass(fallback) IS NOT NULL THEN
    -- Writers wait here for a moment rather than add a row of this day to the default partition meanwhile.
    EXECUTE format('LOCK TABLE %I IN EXCLUSIVE MODE', fallback);
    EXECUTE format('WITH moved AS (DELETE FROM %I WHERE ts >= %L AND ts < %L RETURNING *) INSERT INTO %I SELECT * FROM moved',
                   fallback, day_start, day_end, part);
  END IF;
  -- The constraint lets ATTACH skip scanning the new partition; the partition bound replaces it.
  EXECUTE format('ALTER TABLE %I ADD CONSTRAINT %I CHECK (ts >= %L AND ts < %L)', part, part || '_day', day_start,
                 day_end);
  EXECUTE format('ALTER TABLE %s ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)', parent, part, day_start, day_end);
  EXECUTE format('ALTER TABLE %I DROP CONSTRAINT %I', part, part || '_day');
  RETURN part::regclass;
END $$;

DO $$
DECLARE
  spec text[];
  t text;
  legacy text;
  has_rows boolean;
  tomorrow date := (now() AT TIME ZONE 'UTC')::date + 1;
  edge timestamptz := ((now() AT TIME ZONE 'UTC')::date + 1)::timestamp AT TIME ZONE 'UTC';
BEGIN
  IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb') THEN
    -- Compressed per subject, newest first within it: what the trends and the live views read.
    ALTER TABLE desk_sample SET (timescaledb.compress, timescaledb.compress_segmentby = 'hall_id, window_id',
                                 timescaledb.compress_orderby = 'ts DESC');
    ALTER TABLE zone_sample SET (timescaledb.compress, timescaledb.compress_segmentby = 'hall_id, zone_id',
                                 timescaledb.compress_orderby = 'ts DESC');
    ALTER TABLE camera_health SET (timescaledb.compress, timescaledb.compress_segmentby = 'hall_id, camera_id',
                                   timescaledb.compress_orderby = 'ts DESC');
    RETURN;
  END IF;

  FOREACH spec SLICE 1 IN ARRAY ARRAY[['desk_sample', 'hall_id, window_id, ts'],
                                      ['zone_sample', 'hall_id, zone_id, ts'],
                                      ['camera_health', 'hall_id, camera_id, ts']] LOOP
    t := spec[1];
    legacy := t || '_legacy';
    EXECUTE format('ALTER TABLE %I RENAME TO %I', t, legacy);
    EXECUTE format('ALTER INDEX %I RENAME TO %I', t || '_pkey', legacy || '_pkey');
    EXECUTE format('ALTER INDEX %I RENAME TO %I', t || '_ts_brin', legacy || '_ts_brin');
    EXECUTE format('ALTER INDEX %I RENAME TO %I', t || '_inserted_brin', legacy || '_inserted_brin');
    EXECUTE format('CREATE TABLE %I (LIKE %I INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING STORAGE'
                   ' INCLUDING COMMENTS) PARTITION BY RANGE (ts)', t, legacy);
    EXECUTE format('ALTER TABLE %I ADD PRIMARY KEY (%s)', t, spec[2]);
    EXECUTE format('CREATE INDEX %I ON %I USING brin (ts)', t || '_ts_brin', t);
    EXECUTE format('CREATE INDEX %I ON %I USING brin (inserted_at)', t || '_inserted_brin', t);
    EXECUTE format('CREATE TABLE %I PARTITION OF %I DEFAULT', t || '_default', t);
    EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %I TO hallwatch_app', t);

    EXECUTE format('SELECT EXISTS (SELECT 1 FROM %I)', legacy) INTO STRICT has_rows;
    IF has_rows THEN
      EXECUTE format('INSERT INTO %I SELECT * FROM %I WHERE ts >= %L', t, legacy, edge);  -- into the default
      EXECUTE format('DELETE FROM %I WHERE ts >= %L', legacy, edge);
      EXECUTE format('ALTER TABLE %I ADD CONSTRAINT %I CHECK (ts < %L)', legacy, legacy || '_before', edge);
      EXECUTE format('ALTER TABLE %I ATTACH PARTITION %I FOR VALUES FROM (MINVALUE) TO (%L)', t, legacy, edge);
      EXECUTE format('ALTER TABLE %I DROP CONSTRAINT %I', legacy, legacy || '_before');
    ELSE
      EXECUTE format('DROP TABLE %I', legacy);
      PERFORM hallwatch_day_partition(t::regclass, tomorrow - 1);  -- today
    END IF;
    FOR i IN 0..7 LOOP
      PERFORM hallwatch_day_partition(t::regclass, tomorrow + i);
    END LOOP;
  END LOOP;
END $$;
