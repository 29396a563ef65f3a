-- Excuses after the fact need approval from above the hall (docs/rosters.md, "Approval").
--
-- An absence entered before it begins (planned leave, training) is approved as it is recorded; one entered after
-- it began is pending until someone above the hall (city or province scope, a role that writes the roster)
-- approves it, unless such a person entered it. Only approved absences excuse: `unstaffed_excuse` (and through
-- it `event_excuse`, the alerts, cases and scorecards) and `storage.records.rosters.absences_between` (presence
-- in the week view and the scorecards, the public board).

ALTER TABLE absence
  ADD COLUMN approved_at timestamptz,  -- NULL: pending, excuses nothing
  ADD COLUMN approved_by text,         -- who approved from above the hall; NULL when approved as recorded
  ADD CHECK (approved_by IS NULL OR approved_at IS NOT NULL);

-- The absences recorded so far were valid under the rules they were recorded under: approved as recorded.
UPDATE absence SET approved_at = recorded_at;

-- The absences that excuse a window left unstaffed from p_from to p_until, as a JSON array (oldest first) of
-- {absence_id, reason, note, officer, starts_at, ends_at}; NULL when the time counts against the window: some
-- moment of it is not excused, or was rostered to an officer who was not excused (a colleague's absence does
-- not excuse the window). Only approved absences excuse (a pending one is as if it were not there). An absence
-- of the window excuses it; an absence of an officer excuses the time that officer was rostered there (as
-- storage.records.rosters.excuses_for). One row; a table function so that the planner inlines it into the
-- query that asks (`(SELECT excused_by FROM unstaffed_excuse(...))`): as a scalar function it was planned again
-- for every event, about ten times slower. Migration 045's version, with `a.approved_at IS NOT NULL`.
CREATE OR REPLACE FUNCTION unstaffed_excuse(p_hall text, p_window text, p_from timestamptz, p_until timestamptz,
                                            p_tz text)
  RETURNS TABLE (excused_by jsonb) LANGUAGE sql STABLE PARALLEL SAFE AS $$
  WITH span AS (
    SELECT CASE WHEN p_until > p_from THEN tstzrange(p_from, p_until) ELSE tstzrange(p_from, p_from, '[]') END AS ev
  ), slot AS (
    SELECT r.officer_id, r.span * span.ev AS part FROM roster_slots(p_hall, p_window, p_from, p_until, p_tz) r, span
  ), excuse AS (
    SELECT a.*, tstzrange(a.starts_at, a.ends_at) * span.ev AS part
    FROM absence a, span
    WHERE a.hall_id = p_hall AND a.starts_at <= p_until AND tstzrange(a.starts_at, a.ends_at) && span.ev
      AND a.approved_at IS NOT NULL
      AND (a.window_id = p_window
           OR a.window_id IS NULL AND EXISTS (SELECT 1 FROM slot s WHERE s.officer_id = a.officer_id
                                               AND s.part && tstzrange(a.starts_at, a.ends_at)))
  ), excused AS (  -- the time each absence excuses: all of a window's, the rostered time of an officer's
    SELECT e.part FROM excuse e WHERE e.window_id = p_window
    UNION ALL
    SELECT e.part * s.part FROM excuse e JOIN slot s ON e.window_id IS NULL AND s.officer_id = e.officer_id
  ), accountable AS (  -- what of each slot no absence excuses
    SELECT tstzmultirange(s.part) - coalesce((SELECT range_agg(e.part) FROM excuse e
                                              WHERE e.window_id = p_window OR e.officer_id = s.officer_id
                                                AND e.window_id IS NULL), '{}') AS left_over
    FROM slot s
  )
  SELECT jsonb_agg(jsonb_build_object('absence_id', e.id, 'reason', e.reason, 'note', e.note, 'officer', o.name,
                                      'starts_at', e.starts_at, 'ends_at', e.ends_at) ORDER BY e.starts_at, e.id)
  FROM excuse e LEFT JOIN officer o ON o.id = e.officer_id
  WHERE NOT EXISTS (SELECT 1 FROM accountable WHERE NOT isempty(left_over))
    AND isempty(tstzmultirange((SELECT ev FROM span)) - coalesce((SELECT range_agg(part) FROM excused), '{}'))
$$;
-- `event_excuse` (migration 045) asks `unstaffed_excuse` and so excuses only by approved absences as well.
