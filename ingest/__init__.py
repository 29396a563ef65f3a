"""Camera ingest: one RTSP reader per camera (`reader`: bounded timeouts, reconnect with backoff, a
watchdog, latest frame only), decoding (`decode`), per-camera health (`health`), the motion gate
(`motion`) and local sources for `hallwatch analyze` (`sources`). Imports only `core`."""
