-- How each camera is decoded and what broke on the way, beside its other health figures: the decode
-- mode (every frame, or keyframes only when they come as often as analysis needs), packets the
-- decoder refused and frames it marked corrupt (both counted since the camera's reader started, so
-- a rise between two samples is what broke in between). Rows from before this migration have
-- decode_mode NULL and zero counts.
ALTER TABLE camera_health
  ADD COLUMN decode_mode    text CHECK (decode_mode IN ('full', 'keyframes')),
  ADD COLUMN decode_errors  integer NOT NULL DEFAULT 0 CHECK (decode_errors >= 0),
  ADD COLUMN corrupt_frames integer NOT NULL DEFAULT 0 CHECK (corrupt_frames >= 0);
