"""The central dashboard's queries and Grafana dashboards as code (not built yet: see the dashboard
issue). Kept as a package so the layout is in place for it."""
