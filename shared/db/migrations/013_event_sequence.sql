-- Events of one request share one receive time when the client sends no timestamp; until now
-- their order was decided by event id, a random UUID. Ingest now numbers each event within its
-- request (`seq`, carried in the Kafka message), and ties in event time are broken by it:
-- (event_time, seq, event_id) is the order of a session's events.
ALTER TABLE events ADD COLUMN seq smallint NOT NULL DEFAULT 0;

-- A session's landing attributes (referrer, channel, UTMs, geo, client) now come from its
-- first pageview when it has one, else from its first event; `first_event_id` names that
-- landing event. `landing_at` and `landing_pageview` are NULL on rows written before this
-- migration: readers take `started_at` and `first_event_id = entry_event_id` (the first event
-- was a pageview exactly when it is also the first pageview) instead, so no row is rewritten.
ALTER TABLE sessions
  ADD COLUMN landing_at       timestamptz,
  ADD COLUMN landing_seq      smallint NOT NULL DEFAULT 0,
  ADD COLUMN landing_pageview boolean,
  ADD COLUMN entry_seq        smallint NOT NULL DEFAULT 0,
  ADD COLUMN exit_seq         smallint NOT NULL DEFAULT 0;
