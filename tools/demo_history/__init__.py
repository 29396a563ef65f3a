"""A realistic history for `hallwatch demo`: days of samples, events and waits for every window, queue and
camera of a site, officers and rosters with absences, complaints in every workflow state, inspections of every
kind (covert plans among them) with findings and camera snapshots as evidence, cases, and acknowledged alerts.

Everything goes through the code the live system uses, so the pages show what they would show after weeks of
real operation:
- samples: the hall is simulated (officers present during their shifts with breaks, late starts and absences;
  arrivals with morning and afternoon peaks served first in, first out by the staffed windows; a few bad days
  with a long unexcused absence, heavy demand or a camera outage), and each step becomes a `CameraResult` whose
  rows `pipeline.rows.result_samples` makes, with events from `analytics.events.EventBook` and per-minute waits
  from `analytics.waiting.WaitMinutes`; `storage.samples.copy_samples` stores them and `storage.rollups`
  refreshes the rollups;
- records: `storage.records` functions called by users of the right roles (made here, named `demo-...`), so
  the audit log is real; snapshots are drawn by the simulator's scene renderer from what the samples say at
  that moment (`hall_metrics_at`), and blurred by the detector as any evidence is.

Rate: one sample per `step_s` (default 15 s, the scorecards' `sample_hold_s`, so presence is measured without
gaps) while a hall is open (its shifts, with half an hour either side), one a minute while it is closed, and one
a second (the live rate) over the last `live_hours`. 30 days of the example site (three halls, four cameras) are
1.5 M sample rows instead of 40 M at the live rate all along; seeding them costs about 70 CPU seconds (40 in
Python, 30 in PostgreSQL), which is why `hallwatch demo` seeds in the background (`hallwatch.demo`).
Record times (status changes, audit rows) are the time of seeding: the storage functions stamp them with
`now()`; received, planned, visited and due times are spread over the history.

Phases, in this order (`SeedReport.seconds`): people (`cast`: users; `plan`: officers, rosters, absences, and
when each officer is at the desk), samples (`camera`), records (`records`), rollups, and last the mark.

Seeded: the same `seed`, site, days and `now` give the same history. The database is marked (an audit row
`demo.seed`, see `demo_seeded`, written last, with the span of the history) and every user, badge, checklist and
external reference it makes starts with `demo`; every record is created by one of its `demo-` users."""

from tools.demo_history.history import MARK, SeedReport, demo_seeded, seed_history

__all__ = ["MARK", "SeedReport", "demo_seeded", "seed_history"]
