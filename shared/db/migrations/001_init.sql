-- Goalpost initial schema.
-- Idempotency is designed in here: the event time is fixed once at ingest and travels in the
-- Kafka message, so a replayed event has the same (event_id, event_time) and cannot create a
-- second row. TimescaleDB requires unique indexes on a hypertable to include the time column.

CREATE EXTENSION IF NOT EXISTS timescaledb;

CREATE TABLE websites (
  id              text PRIMARY KEY CHECK (id ~ '^site_[0-9a-z]{10}$'),
  numeric_id      bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
  name            text NOT NULL,
  domain          text NOT NULL,
  allowed_origins text[] NOT NULL DEFAULT '{}',
  timezone        text NOT NULL DEFAULT 'UTC',
  bot_policy      text NOT NULL DEFAULT 'balanced' CHECK (bot_policy IN ('off', 'balanced', 'strict')),
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now()
);

-- API keys are 128-bit random secrets: stored as SHA-256 only, looked up by hash.
CREATE TABLE api_keys (
  id           text PRIMARY KEY,
  name         text NOT NULL,
  key_hash     bytea NOT NULL UNIQUE,
  key_prefix   text NOT NULL,
  kind         text NOT NULL DEFAULT 'manage' CHECK (kind IN ('manage', 'collect')),
  -- NULL = all websites; otherwise the website ids this key may touch.
  website_ids  text[],
  created_at   timestamptz NOT NULL DEFAULT now(),
  last_used_at timestamptz,
  revoked_at   timestamptz
);

CREATE TABLE goals (
  id                 text PRIMARY KEY CHECK (id ~ '^goal_[0-9a-z]{21}$'),
  numeric_id         bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
  website_id         text NOT NULL REFERENCES websites (id) ON DELETE CASCADE,
  name               text NOT NULL,
  description        text,
  goal_type          text NOT NULL CHECK (goal_type IN ('event', 'pageview')),
  match_operator     text NOT NULL DEFAULT 'equals'
                       CHECK (match_operator IN ('equals', 'starts_with', 'ends_with', 'contains', 'glob', 'regex')),
  match_value        text NOT NULL,
  case_sensitive     boolean NOT NULL DEFAULT true,
  property_filters   jsonb NOT NULL DEFAULT '[]',
  value_mode         text NOT NULL DEFAULT 'none' CHECK (value_mode IN ('none', 'fixed', 'event_property')),
  fixed_value        numeric CHECK (fixed_value >= 0),
  value_property_key text,
  currency           text NOT NULL DEFAULT 'USD',
  -- Bumped whenever matching or value fields change; caches and backfills key on it.
  definition_version integer NOT NULL DEFAULT 1,
  backfill           jsonb,
  created_at         timestamptz NOT NULL DEFAULT now(),
  updated_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX goals_website_idx ON goals (website_id);

CREATE TABLE events (
  event_id        uuid NOT NULL,
  event_time      timestamptz NOT NULL,
  received_at     timestamptz NOT NULL,
  website_id      text NOT NULL,
  session_id      text NOT NULL,
  visitor_id      text NOT NULL,
  user_id         text,
  type            text NOT NULL,
  event_name      text,
  hostname        text,
  path            text,
  querystring     text,
  page_title      text,
  referrer        text,
  referrer_domain text,
  channel         text,
  utm_source      text,
  utm_medium      text,
  utm_campaign    text,
  utm_term        text,
  utm_content     text,
  properties      jsonb,
  browser         text,
  os              text,
  device          text,
  screen_width    integer,
  language        text,
  country         text,
  region          text,
  city            text,
  bot_score       smallint NOT NULL DEFAULT 0,
  is_bot          boolean NOT NULL DEFAULT false,
  UNIQUE (event_id, event_time)
);
SELECT create_hypertable('events', by_range('event_time', INTERVAL '1 day'));
CREATE INDEX events_website_time_idx ON events (website_id, event_time DESC);

-- No foreign key to goals: a deleted goal's conversions stay, detached from any definition.
CREATE TABLE conversions (
  goal_id            text NOT NULL,
  event_id           uuid NOT NULL,
  event_time         timestamptz NOT NULL,
  website_id         text NOT NULL,
  session_id         text NOT NULL,
  value              numeric,
  currency           text,
  is_bot             boolean NOT NULL DEFAULT false,
  definition_version integer NOT NULL,
  UNIQUE (goal_id, event_id, event_time)
);
SELECT create_hypertable('conversions', by_range('event_time', INTERVAL '7 days'));
CREATE INDEX conversions_goal_time_idx ON conversions (goal_id, event_time DESC);
