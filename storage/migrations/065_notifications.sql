-- Alerts sent to people (monitor/notify, docs/notifications.md): one row per alert change (opened or closed)
-- and channel, inserted ON CONFLICT DO NOTHING by whichever dispatcher sees the change first, so that however
-- many processes dispatch, each change is queued once per channel; a dispatcher takes a row to send it with
-- FOR UPDATE SKIP LOCKED and marks it `sending` until `claimed_until`, so no other one sends it meanwhile.
-- Every attempt is logged in notification_attempt with its error text (secrets masked before they get here).

CREATE TABLE notification (
  id            bigserial PRIMARY KEY,
  channel_id    text NOT NULL,
  hall_id       text NOT NULL,
  kind          text NOT NULL,
  subject       text NOT NULL,
  ts            timestamptz NOT NULL,  -- when the event started: the key of its opening (event_open)
  change        text NOT NULL CHECK (change IN ('opened', 'closed')),
  status        text NOT NULL CHECK (status IN ('pending', 'sending', 'sent', 'failed', 'suppressed')),
  reason        text NOT NULL DEFAULT '',  -- why it was suppressed or given up
  attempts      integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
  queued_at     timestamptz NOT NULL DEFAULT now(),
  next_at       timestamptz NOT NULL DEFAULT now(),  -- pending: not before this (backoff)
  claimed_by    text,
  claimed_until timestamptz,
  sent_at       timestamptz,
  UNIQUE (channel_id, hall_id, kind, subject, ts, change)
);
CREATE INDEX notification_due_idx ON notification (next_at) WHERE status IN ('pending', 'sending');
CREATE INDEX notification_queued_idx ON notification (queued_at DESC);

CREATE TABLE notification_attempt (
  notification_id bigint NOT NULL REFERENCES notification (id),
  attempt         integer NOT NULL CHECK (attempt >= 1),
  at              timestamptz NOT NULL DEFAULT now(),
  worker          text NOT NULL,
  ok              boolean NOT NULL,
  error           text NOT NULL DEFAULT '' CHECK (length(error) <= 2000),
  PRIMARY KEY (notification_id, attempt)
);

-- Closings are looked up by when they happened.
CREATE INDEX event_close_ended_idx ON event_close (ended_at DESC);

GRANT SELECT, INSERT, UPDATE ON notification TO hallwatch_app;
GRANT SELECT, INSERT ON notification_attempt TO hallwatch_app;
