"""The web service (FastAPI): the REST API under /api/v1 with its OpenAPI, login by session or bearer token
with roles scoped to the geography, the supervision records (complaints, inspections and evidence, cases,
alerts, officers, rosters, scorecards), overview, trends and rankings, the append-only audit log, the public
on-duty board, the live video wall, and the server-rendered pages for all of it.

Layout:
- `app.py`: the application; includes every `routes/<area>.py` that defines `router`, and answers domain
  errors through one handler.
- `routes/`: one module per area (API and pages); no route module imports another.
- `api.py`: what several routes share: request parameters, response models, the domain error -> HTTP mapping,
  helpers over the site config and the league tables.
- `deps.py`: the dependencies every route uses (database connection, current user, roles, templates).
- `status.py`: the live status of halls, windows, zones and cameras from the newest samples.
- `live/`: the live wall (RTSP sources forwarded over WebRTC, face blurring, overlays).
- `templates/`, `static/`: the pages and every asset they load (no CDN)."""
