"""Supervision records: SQL and domain rules per record kind (complaints, inspections, evidence, cases,
officers, rosters, scorecards). Every query takes the user and filters by their scope in SQL."""
