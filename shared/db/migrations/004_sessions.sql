-- Sessions, maintained by the processor from the events it actually inserted.
--
-- Replay safety: a session row only ever absorbs events whose INSERT INTO events succeeded
-- (ON CONFLICT DO NOTHING … RETURNING) in the same transaction, so a replayed event, already
-- stored, contributes nothing a second time. Counts are therefore exact although they are
-- updated incrementally. Entry, exit and landing attributes are chosen by (event_time,
-- event_id), not by arrival order, so out-of-order arrival gives the same row.
--
-- Only `pageview` and `event` rows count; `performance` rows never create or extend a session.
-- The landing attributes (referrer, channel, UTMs, geo, client) are those of the session's
-- first event; entry/exit pages those of its first/last pageview.
CREATE TABLE sessions (
  website_id       text NOT NULL,
  session_id       text NOT NULL,
  visitor_id       text NOT NULL,
  -- The most recent non-null user id seen (by event time).
  user_id          text,
  user_id_at       timestamptz,
  started_at       timestamptz NOT NULL,
  ended_at         timestamptz NOT NULL,
  duration         integer GENERATED ALWAYS AS (floor(extract(epoch FROM ended_at - started_at))::integer) STORED,
  -- The first event (by event_time, then event_id): landing attributes come from it.
  first_event_id   uuid NOT NULL,
  entry_page       text,
  entry_at         timestamptz,
  entry_event_id   uuid,
  exit_page        text,
  exit_at          timestamptz,
  exit_event_id    uuid,
  pageviews        integer NOT NULL DEFAULT 0,
  events           integer NOT NULL DEFAULT 0,
  hostname         text,
  referrer         text,
  referrer_domain  text,
  channel          text,
  utm_source       text,
  utm_medium       text,
  utm_campaign     text,
  utm_term         text,
  utm_content      text,
  browser          text,
  os               text,
  device           text,
  screen_width     integer,
  language         text,
  country          text,
  region           text,
  city             text,
  is_bot           boolean NOT NULL DEFAULT false,
  updated_at       timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (website_id, session_id)
);
CREATE INDEX sessions_website_started_idx ON sessions (website_id, started_at DESC);
CREATE INDEX sessions_website_ended_idx ON sessions (website_id, ended_at DESC);
-- Retention deletes by end time.
CREATE INDEX sessions_ended_idx ON sessions (ended_at);

-- When the processor inserted each event (its transaction's start). The backfill uses it to
-- re-check events the live processor may have matched with a superseded goal definition.
-- A constant-per-statement default: existing rows get NULL-free values without a rewrite.
ALTER TABLE events ADD COLUMN processed_at timestamptz NOT NULL DEFAULT now();
