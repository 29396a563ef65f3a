"""The web service: status API and live status page (later: records, auth, live wall)."""
