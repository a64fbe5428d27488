-- depends: hub_0001_chassis
-- Visits' own tables: its view of clients (kept from intake's events), visit plans and visits,
-- the workers visits are assigned to, the county's visit policy, verification rounds and
-- group activities.

-- What visits knows of each client: only ids, codes, categories and risk, from client.* events.
CREATE TABLE IF NOT EXISTS visit_clients (
    client_id     uuid PRIMARY KEY,
    township_code text NOT NULL,
    village_code  text NOT NULL,
    categories    text[] NOT NULL,
    age_group     text NOT NULL,
    risk_level    text NOT NULL,
    risk_flags    text[] NOT NULL DEFAULT '{}',
    status        text NOT NULL,
    first_seen_on date NOT NULL,           -- effective date of the first event about the client
    as_of         timestamptz NOT NULL,    -- time of the newest event applied (older ones are stale)
    updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS visit_clients_township ON visit_clients (township_code);

-- One plan per client (the primary key makes planning idempotent on client_id).
CREATE TABLE IF NOT EXISTS visit_plans (
    client_id     uuid PRIMARY KEY REFERENCES visit_clients (client_id),
    status        text NOT NULL DEFAULT 'active',     -- active | closed
    started_on    date NOT NULL,
    last_visit_on date,
    closed_on     date,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);

-- Who visits: from the county's roster file now, from the resources service's events later.
CREATE TABLE IF NOT EXISTS workers (
    id              uuid PRIMARY KEY,
    code            text NOT NULL,
    kind            text NOT NULL,             -- social_worker | volunteer
    township_code   text NOT NULL,
    weekly_capacity integer NOT NULL CHECK (weekly_capacity > 0),
    status          text NOT NULL DEFAULT 'active',   -- active | left
    source          text NOT NULL,             -- roster | resources
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS workers_township ON workers (township_code, id) WHERE status = 'active';

CREATE TABLE IF NOT EXISTS verification_rounds (
    id             uuid PRIMARY KEY,
    seq            bigserial NOT NULL UNIQUE,
    title          text NOT NULL,
    categories     text[] NOT NULL,
    township_codes text[] NOT NULL,
    opened_on      date NOT NULL,
    deadline       date NOT NULL,
    status         text NOT NULL DEFAULT 'open',      -- open | closed
    closed_on      date,
    opened_by      text NOT NULL,
    closed_by      text,
    recorded_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS visits (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    seq              bigserial NOT NULL UNIQUE,
    client_id        uuid NOT NULL,
    kind             text NOT NULL DEFAULT 'routine',  -- routine | verification
    round_id         uuid REFERENCES verification_rounds (id),
    township_code    text NOT NULL,
    village_code     text NOT NULL,
    status           text NOT NULL DEFAULT 'scheduled',
    due_on           date NOT NULL,
    previous_due_on  date,
    worker_id        uuid,
    escalation_level smallint NOT NULL DEFAULT 0,      -- 0 none, 1 township, 2 county
    scheduled_reason text NOT NULL,
    visited_at       timestamptz,
    visited_on       date,
    mode             text,
    completed_by     uuid,
    notes            text,
    verification     jsonb,
    needs            jsonb,
    risk_assessment  jsonb,
    delay_days       integer,
    missed_on        date,
    missed_reason    text,
    missed_note      text,
    cancelled_on     date,
    cancel_reason    text,
    reassigned_on    date,
    recorded_by      text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);
-- A client has at most one open routine visit, and one visit per verification round.
CREATE UNIQUE INDEX IF NOT EXISTS visits_one_open_routine ON visits (client_id)
    WHERE kind = 'routine' AND status IN ('scheduled', 'due', 'overdue');
CREATE UNIQUE INDEX IF NOT EXISTS visits_one_per_round ON visits (round_id, client_id)
    WHERE round_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS visits_client ON visits (client_id, seq);
-- The overdue sweep reads, per status and level, only the open visits crossing a line today.
CREATE INDEX IF NOT EXISTS visits_sweep ON visits (status, escalation_level, due_on)
    WHERE status IN ('scheduled', 'due', 'overdue');
CREATE INDEX IF NOT EXISTS visits_township ON visits (township_code, seq);
CREATE INDEX IF NOT EXISTS visits_worker ON visits (worker_id, due_on);
CREATE INDEX IF NOT EXISTS visits_round ON visits (round_id) WHERE round_id IS NOT NULL;

-- The county's visit policy (one row: a hub serves one county), seeded with the brief's defaults:
-- critical every 7 days, high 14, medium 30, low 90; any child or solitary-elderly category at
-- most 30; the strictest rule wins. A critical client's first visit is due within a day.
CREATE TABLE IF NOT EXISTS visit_policy (
    id             smallint PRIMARY KEY DEFAULT 1 CHECK (id = 1),
    document       jsonb NOT NULL,
    version        integer NOT NULL DEFAULT 1,
    effective_date date NOT NULL DEFAULT current_date,
    updated_by     text NOT NULL DEFAULT 'migration',
    updated_at     timestamptz NOT NULL DEFAULT now()
);
INSERT INTO visit_policy (id, document) VALUES (1, '{
    "risk_levels": {"critical": 7, "high": 14, "medium": 30, "low": 90},
    "categories": {"left_behind_child": 30, "child_in_difficulty": 30, "unsupported_child": 30,
                   "solitary_elderly": 30},
    "first_visit_days": {"critical": 1},
    "grace_days": 3,
    "missed_retry_days": 7,
    "escalation": {"township_after_days": 7, "county_after_days": 30}
}') ON CONFLICT (id) DO NOTHING;

CREATE TABLE IF NOT EXISTS visit_policy_history (
    version        integer PRIMARY KEY,
    document       jsonb NOT NULL,
    effective_date date NOT NULL,
    updated_by     text NOT NULL,
    updated_at     timestamptz NOT NULL
);

CREATE TABLE IF NOT EXISTS activities (
    id            uuid PRIMARY KEY,
    seq           bigserial NOT NULL UNIQUE,
    township_code text NOT NULL,
    kind          text NOT NULL,
    title         text NOT NULL,
    held_on       date NOT NULL,
    worker_ids    uuid[] NOT NULL DEFAULT '{}',
    volunteer_ids uuid[] NOT NULL DEFAULT '{}',
    note          text,
    recorded_by   text NOT NULL,
    recorded_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS activities_township ON activities (township_code, held_on);

-- Each participant is one person-time (人次), with their categories at the time of the activity.
CREATE TABLE IF NOT EXISTS activity_participants (
    activity_id uuid NOT NULL REFERENCES activities (id),
    client_id   uuid NOT NULL,
    categories  text[] NOT NULL,
    age_group   text NOT NULL,
    PRIMARY KEY (activity_id, client_id)
);
