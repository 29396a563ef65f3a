"""Grafana dashboards as code (`grafana`), the SQL of their panels (`panel_sql`), Grafana's macro
expansion for running that SQL outside Grafana (`grafana_sql`), and export and provisioning
(`provision`). See docs/grafana.md."""
