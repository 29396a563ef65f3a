-- Workers share the cameras through leases (see hallwatch/leases.py and docs/workers.md). A worker
-- is live while its registration has not expired; a camera is analysed by the worker whose lease
-- on it has not expired. All times are the database server's clock, so the machines' clocks do
-- not have to agree.

CREATE TABLE worker (
  id           text PRIMARY KEY,
  host         text NOT NULL,
  pid          integer NOT NULL,
  started_at   timestamptz NOT NULL,
  heartbeat_at timestamptz NOT NULL,
  expires_at   timestamptz NOT NULL  -- live while expires_at > now(); set to now() on a clean stop
);

-- One row per camera, seeded from the site file; worker_id is null while the camera is free.
CREATE TABLE camera_lease (
  hall_id      text NOT NULL,
  camera_id    text NOT NULL,
  worker_id    text,
  acquired_at  timestamptz,
  heartbeat_at timestamptz,
  expires_at   timestamptz,
  PRIMARY KEY (hall_id, camera_id),
  FOREIGN KEY (hall_id, camera_id) REFERENCES camera (hall_id, id),
  CHECK ((worker_id IS NULL) = (expires_at IS NULL))
);
CREATE INDEX camera_lease_worker ON camera_lease (worker_id);

-- Every handover, so that who held which camera when can be checked afterwards. `expired` is
-- written by the worker that takes over an expired lease, stamped with the old lease's expiry.
CREATE TABLE camera_lease_event (
  id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  ts        timestamptz NOT NULL,
  hall_id   text NOT NULL,
  camera_id text NOT NULL,
  worker_id text NOT NULL,
  event     text NOT NULL CHECK (event IN ('acquired', 'released', 'expired'))
);
CREATE INDEX camera_lease_event_camera ON camera_lease_event (hall_id, camera_id, ts);
