-- Finished periods without video per camera, from the last frame before to the first frame after,
-- with what began them (offline, stalled, unauthorized, bad_stream). `ts` is the start.
CREATE TABLE camera_offline_spell (
  ts        timestamptz NOT NULL,
  hall_id   text NOT NULL,
  camera_id text NOT NULL,
  ended_at  timestamptz NOT NULL,
  cause     text NOT NULL CHECK (cause IN ('connecting', 'stalled', 'offline', 'unauthorized', 'bad_stream')),
  PRIMARY KEY (hall_id, camera_id, ts),
  CHECK (ended_at >= ts)
);
SELECT hallwatch_timeseries('camera_offline_spell');
