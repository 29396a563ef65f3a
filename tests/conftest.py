"""The shared fixtures and helpers are pytest plugins in tests/fix_*.py (see tests/README.md): a real
PostgreSQL, the web app and Chromium, users, records, simulated cameras, the live wall, detections."""

pytest_plugins = [
    "tests.fix_sites",
    "tests.fix_wait",
    "tests.fix_db",
    "tests.fix_web",
    "tests.fix_auth",
    "tests.fix_records",
    "tests.fix_sim",
    "tests.fix_live",
    "tests.fix_detections",
    "tests.fix_timescale",
]
