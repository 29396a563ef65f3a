"""Camera ingest: RTSP readers with health, and the camera simulator."""
