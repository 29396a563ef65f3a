"""Supervision records: SQL and domain rules per record kind (complaints, inspections, evidence, cases, alerts,
officers, rosters, scorecards). Every function a user's request calls takes the user (or their scope) and keeps
to it in the storage layer: lists filter by it in SQL, a record outside it is not found (NotFound), a hall or
city named outside it is refused (OutOfScope). The functions without a user are building blocks: they take
halls or records a scoped function has already checked, or serve callers acting for nobody in particular (the
CLI, imports, seeding)."""
