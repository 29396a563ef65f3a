-- An unstaffed window excused by an absence (docs/rosters.md, "Unstaffed events and absences").
--
-- An event `unstaffed_while_waiting` stays an event: people waited, and the centre may send someone to cover.
-- But when approved absences cover all of it (the window's own absence, or that of every officer rostered
-- there at each moment of it), it is "excused (absence: reason)" and is not counted against the window in the
-- scorecards. Roster times are local: each function takes the halls' time zone.

-- The roster's slots of one window that meet [p_from, p_until]: who, and when. The SQL twin of
-- storage.records.rosters.expand: a shift whose end is not after its start ends the next day, and a
-- window's dated shifts on a day replace its weekday shifts.
CREATE FUNCTION roster_slots(p_hall text, p_window text, p_from timestamptz, p_until timestamptz, p_tz text)
  RETURNS TABLE (officer_id bigint, span tstzrange) LANGUAGE sql STABLE PARALLEL SAFE AS $$
  WITH shift AS (
    SELECT * FROM roster_shift WHERE hall_id = p_hall AND window_id = p_window
  ), day AS (
    SELECT d::date AS day FROM generate_series((p_from AT TIME ZONE p_tz)::date - 1,
                                               (p_until AT TIME ZONE p_tz)::date, interval '1 day') d
  ), slot AS (
    SELECT s.officer_id, tstzrange((d.day + s.starts) AT TIME ZONE p_tz,
                                   ((d.day + (s.ends <= s.starts)::int) + s.ends) AT TIME ZONE p_tz) AS span
    FROM day d JOIN shift s ON s.on_date = d.day
      OR (s.on_date IS NULL AND s.weekday = extract(isodow FROM d.day)
          AND d.day >= coalesce(s.valid_from, '-infinity') AND d.day <= coalesce(s.valid_to, 'infinity')
          AND NOT EXISTS (SELECT 1 FROM shift x WHERE x.on_date = d.day))
  )
  SELECT officer_id, span FROM slot WHERE span && tstzrange(p_from, p_until, '[]')
$$;

-- The absences that excuse a window left unstaffed from p_from to p_until, as a JSON array (oldest first) of
-- {absence_id, reason, note, officer, starts_at, ends_at}; NULL when the time counts against the window: some
-- moment of it is not excused, or was rostered to an officer who was not excused (a colleague's absence does
-- not excuse the window). An absence of the window excuses it; an absence of an officer excuses the time that
-- officer was rostered there (as storage.records.rosters.excuses_for). One row; a table function so that
-- the planner inlines it into the query that asks (`(SELECT excused_by FROM unstaffed_excuse(...))`): as a
-- scalar function it was planned again for every event, about ten times slower.
CREATE FUNCTION unstaffed_excuse(p_hall text, p_window text, p_from timestamptz, p_until timestamptz, p_tz text)
  RETURNS TABLE (excused_by jsonb) LANGUAGE sql STABLE PARALLEL SAFE AS $$
  WITH span AS (
    SELECT CASE WHEN p_until > p_from THEN tstzrange(p_from, p_until) ELSE tstzrange(p_from, p_from, '[]') END AS ev
  ), slot AS (
    SELECT r.officer_id, r.span * span.ev AS part FROM roster_slots(p_hall, p_window, p_from, p_until, p_tz) r, span
  ), excuse AS (
    SELECT a.*, tstzrange(a.starts_at, a.ends_at) * span.ev AS part
    FROM absence a, span
    WHERE a.hall_id = p_hall AND a.starts_at <= p_until AND tstzrange(a.starts_at, a.ends_at) && span.ev
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

-- The excuse of the event an alert id names (`event_ref`, migration 041), for unstaffed events (no row for
-- others); an open event is judged up to now.
CREATE FUNCTION event_excuse(p_ref text, p_tz text)
  RETURNS TABLE (excused_by jsonb) LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT x.excused_by
  FROM (SELECT regexp_match(p_ref, '^([^:]+):unstaffed_while_waiting:(.+):(-?[0-9]{1,18})$') AS m) k
  JOIN event_open o ON o.hall_id = k.m[1] AND o.kind = 'unstaffed_while_waiting' AND o.subject = k.m[2]
    AND o.ts = timestamptz 'epoch' + (k.m[3]::bigint / 1000000) * interval '1 second'
                                   + (k.m[3]::bigint % 1000000) * interval '1 microsecond'
  LEFT JOIN event_close c ON (c.hall_id, c.kind, c.subject, c.ts) = (o.hall_id, o.kind, o.subject, o.ts)
  CROSS JOIN LATERAL unstaffed_excuse(o.hall_id, o.subject, o.ts, coalesce(c.ended_at, now()), p_tz) x
$$;
