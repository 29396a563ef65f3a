-- Events from analytics and ingest (a window unstaffed while people wait, a camera offline, ...) and
-- the per-minute waiting time of each queue zone.
--
-- An event is two append-only facts, its opening and its closing, so that both go through the same
-- idempotent sample writer (and its disk spool) as every other row: a replay stores nothing twice,
-- and a closing that arrives before its opening (reordered replay) still joins it. `event_span`
-- puts them together; an event without a closing is open.

CREATE TABLE event_open (
  ts         timestamptz NOT NULL,  -- when the event started
  hall_id    text NOT NULL,
  camera_id  text NOT NULL,
  kind       text NOT NULL CHECK (kind IN ('unstaffed_while_waiting', 'queue_over_limit', 'wait_over_sla',
                                           'camera_offline', 'camera_obstructed', 'camera_moved')),
  subject    text NOT NULL,  -- the window, zone or camera the event is about
  details    jsonb NOT NULL DEFAULT '{}',
  PRIMARY KEY (hall_id, kind, subject, ts)
);
SELECT hallwatch_timeseries('event_open');

CREATE TABLE event_close (
  ts         timestamptz NOT NULL,  -- when the event started: the key of its opening
  hall_id    text NOT NULL,
  kind       text NOT NULL,
  subject    text NOT NULL,
  ended_at   timestamptz NOT NULL,
  PRIMARY KEY (hall_id, kind, subject, ts),
  CHECK (ended_at >= ts)
);

CREATE VIEW event_span AS
SELECT o.hall_id, o.camera_id, o.kind, o.subject, o.ts AS started_at, c.ended_at, o.details
FROM event_open o
LEFT JOIN event_close c USING (hall_id, kind, subject, ts);

-- One row per queue zone and minute in which the analytics saw the queue: how long the people who
-- left the queue that minute had waited (from their tracks), and the Little's-law estimate (mean
-- queue length over the rate at which people left it) for comparison.
CREATE TABLE wait_sample (
  ts          timestamptz NOT NULL,  -- start of the minute
  hall_id     text NOT NULL,
  zone_id     text NOT NULL,
  camera_id   text NOT NULL,
  served      smallint NOT NULL CHECK (served >= 0),
  dwell_p50_s real CHECK (dwell_p50_s >= 0),
  dwell_p90_s real CHECK (dwell_p90_s >= 0),
  littles_s   real CHECK (littles_s >= 0),
  mean_queue  real CHECK (mean_queue >= 0),
  PRIMARY KEY (hall_id, zone_id, ts)
);
SELECT hallwatch_timeseries('wait_sample');
