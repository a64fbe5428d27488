-- depends: hub_0001_chassis
-- Statistics: facts summed by place x period x category x age group x detail, the state behind
-- the stock figures, sign-offs with their pending corrections, ratings, places and, in the
-- province role, the received events (its inbox and its archive).

-- place_code: village (12 digits), township (9), county (6) or, in the province role, county and
-- province (6). kind/period: y 2023 | m 2023-05 | d 2023-05-14. '' in category, age_group or
-- detail means "all"; detail is "dimension:value", e.g. risk:high, level:senior.
-- Codes compare bytewise (COLLATE "C"): sorting and index lookups skip locale rules.
CREATE TABLE IF NOT EXISTS stats_rollup (
    place_code text COLLATE "C" NOT NULL,
    kind       "char" NOT NULL,
    period     text COLLATE "C" NOT NULL,
    measure    text COLLATE "C" NOT NULL,
    category   text COLLATE "C" NOT NULL,
    age_group  text COLLATE "C" NOT NULL,
    detail     text COLLATE "C" NOT NULL,
    n          bigint NOT NULL,
    PRIMARY KEY (place_code, kind, period, measure, category, age_group, detail)
) WITH (fillfactor = 70);    -- room on each page: adding to a row is a HOT update, no index entry

-- The same, for facts that arrived after their year was signed off: shown, not merged.
CREATE TABLE IF NOT EXISTS stats_pending (LIKE stats_rollup INCLUDING ALL);

CREATE TABLE IF NOT EXISTS stats_late_events (
    event_id    uuid PRIMARY KEY,
    county_code text NOT NULL,
    year        integer NOT NULL,
    type        text NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS stats_late_events_year ON stats_late_events (county_code, year);

CREATE TABLE IF NOT EXISTS stats_signoffs (
    county_code text NOT NULL,
    year        integer NOT NULL,
    signed_by   text NOT NULL,
    signed_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (county_code, year)
);

-- Every client event's state (ids, codes and categories only): the history behind active clients.
CREATE TABLE IF NOT EXISTS stats_client_states (
    client_id  uuid NOT NULL,
    at         timestamptz NOT NULL,
    event_id   uuid NOT NULL,
    day        date NOT NULL,
    active     boolean NOT NULL,
    county     text NOT NULL,
    township   text NOT NULL,
    village    text NOT NULL,
    categories text[] NOT NULL,
    age_group  text NOT NULL,
    risk       text NOT NULL,
    PRIMARY KEY (client_id, at, event_id)
);

-- Visits that were found overdue, or closed late: behind open overdue visits.
CREATE TABLE IF NOT EXISTS stats_visit_flags (
    visit_id    uuid PRIMARY KEY,
    county      text NOT NULL,
    township    text NOT NULL,
    village     text NOT NULL,
    overdue_on  date,
    resolved_on date
);

CREATE TABLE IF NOT EXISTS stats_ratings (
    station_code text NOT NULL,
    year         integer NOT NULL,
    county_code  text NOT NULL,
    rating       text NOT NULL,
    rated_at     timestamptz NOT NULL,
    PRIMARY KEY (station_code, year)
);

-- Counties and townships with population and station opening date (from configuration in a
-- county hub, from the counties' stats.county_profile events in the province).
CREATE TABLE IF NOT EXISTS stats_places (
    code              text PRIMARY KEY,
    level             text NOT NULL,
    county_code       text NOT NULL,
    name              text NOT NULL,
    population        bigint NOT NULL DEFAULT 0,
    station_opened_on date
);

CREATE TABLE IF NOT EXISTS stats_event_counts (
    type    text PRIMARY KEY,
    counted bigint NOT NULL DEFAULT 0,
    ignored bigint NOT NULL DEFAULT 0
);

-- Province role: each county's events as received, once (the dedupe key is the event id).
-- `json`, not jsonb: kept as received (checked, not re-encoded), which is twice as fast to write.
CREATE TABLE IF NOT EXISTS stats_received (
    seq         bigserial NOT NULL,
    event_id    uuid PRIMARY KEY,
    county_code text NOT NULL,
    type        text NOT NULL,
    event       json NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS stats_received_seq ON stats_received (seq);

-- Province role: each county link's last heartbeat and event.
CREATE TABLE IF NOT EXISTS stats_links (
    county_code       text PRIMARY KEY,
    last_heartbeat_at timestamptz,
    last_event_at     timestamptz,
    events            bigint NOT NULL DEFAULT 0
);

-- Messages the province refused (not an event, or carrying personal details): no content kept.
CREATE TABLE IF NOT EXISTS stats_rejected (
    id          bigserial PRIMARY KEY,
    message_id  text,
    county_code text,
    reason      text NOT NULL,
    rejected_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS stats_meta (
    key   text PRIMARY KEY,
    value text NOT NULL
);

-- The rollup statements are short and run thousands of times: JIT compiling them (planned on
-- rough row estimates of unnest()) would cost more than running them.
DO $$ BEGIN
    EXECUTE format('ALTER DATABASE %I SET jit = off', current_database());
END $$;
