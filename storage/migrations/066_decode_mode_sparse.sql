-- Sparse decoding (ingest.decode: from each keyframe only up to the frames analysis takes) is a third
-- decode mode; the check of migration 005 refused its health rows, so such cameras looked offline.
ALTER TABLE camera_health DROP CONSTRAINT camera_health_decode_mode_check;
ALTER TABLE camera_health
  ADD CONSTRAINT camera_health_decode_mode_check CHECK (decode_mode IN ('full', 'keyframes', 'sparse'));
