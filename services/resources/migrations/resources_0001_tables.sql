-- depends: hub_0001_chassis
-- The resources service's own tables: its view of clients, providers, donations and their
-- allocations, needs, workers, volunteers, referrals and public-benefit projects.

-- What this service knows of intake's clients, from client.* events (never intake's tables).
CREATE TABLE IF NOT EXISTS client_view (
    client_id     uuid PRIMARY KEY,
    status        text NOT NULL,
    categories    text[] NOT NULL,
    age_group     text NOT NULL,
    age_band      text NOT NULL,
    township_code text NOT NULL,
    village_code  text NOT NULL,
    as_of         timestamptz NOT NULL          -- time of the newest event applied
);

CREATE TABLE IF NOT EXISTS providers (
    id            uuid PRIMARY KEY,
    seq           bigserial NOT NULL UNIQUE,
    name          text NOT NULL,
    kind          text NOT NULL,
    five_society  text NOT NULL,
    contact       text,
    township_code text,
    services      text[] NOT NULL DEFAULT '{}',
    registered_on date NOT NULL,
    recorded_by   text NOT NULL,
    recorded_at   timestamptz NOT NULL DEFAULT now()
);

-- `amount` is fen for money and a count of units for goods; `remaining` the same unit.
CREATE TABLE IF NOT EXISTS donations (
    id                    uuid PRIMARY KEY,
    seq                   bigserial NOT NULL UNIQUE,
    provider_id           uuid NOT NULL REFERENCES providers (id),
    kind                  text NOT NULL CHECK (kind IN ('money', 'goods')),
    amount                bigint NOT NULL CHECK (amount > 0),
    remaining             bigint NOT NULL CHECK (remaining >= 0 AND remaining <= amount),
    value_fen             bigint NOT NULL CHECK (value_fen >= 0),
    item                  text,
    unit                  text,
    received_on           date NOT NULL,
    township_code         text,
    earmark_category      text,
    earmark_township_code text,
    earmark_client_id     uuid,
    note                  text,
    recorded_by           text NOT NULL,
    recorded_at           timestamptz NOT NULL DEFAULT now()
) WITH (fillfactor = 50);
-- `remaining` changes with every allocation: no index may cover it, so those updates stay HOT
-- (heap-only, room left by the fillfactor) and a much-allocated donation's row does not bloat.
CREATE INDEX IF NOT EXISTS donations_kind ON donations (kind, received_on);

CREATE TABLE IF NOT EXISTS needs (
    id                   uuid PRIMARY KEY,
    seq                  bigserial NOT NULL UNIQUE,
    client_id            uuid NOT NULL,
    visit_id             uuid,
    kind                 text NOT NULL,
    description          text,
    township_code        text NOT NULL,
    source               text NOT NULL,
    status               text NOT NULL DEFAULT 'open',
    opened_on            date NOT NULL,
    met_on               date,
    met_by_allocation_id uuid,
    met_by_referral_id   uuid,
    recorded_at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS needs_client ON needs (client_id, seq);
CREATE INDEX IF NOT EXISTS needs_open ON needs (township_code, seq) WHERE status = 'open';

CREATE TABLE IF NOT EXISTS allocations (
    id              uuid PRIMARY KEY,
    seq             bigserial NOT NULL UNIQUE,
    donation_id     uuid NOT NULL REFERENCES donations (id),
    client_id       uuid NOT NULL,
    need_id         uuid REFERENCES needs (id),
    kind            text NOT NULL,
    amount          bigint NOT NULL CHECK (amount > 0),
    value_fen       bigint NOT NULL,
    allocated_on    date NOT NULL,
    township_code   text NOT NULL,
    categories      text[] NOT NULL,
    age_group       text NOT NULL,
    age_band        text NOT NULL,
    status          text NOT NULL DEFAULT 'active',
    reversed_on     date,
    reversal_reason text,
    reversal_note   text,
    note            text,
    recorded_by     text NOT NULL,
    recorded_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS allocations_donation ON allocations (donation_id, seq);
CREATE INDEX IF NOT EXISTS allocations_client ON allocations (client_id, seq);

CREATE TABLE IF NOT EXISTS workers (
    id                uuid PRIMARY KEY,
    seq               bigserial NOT NULL UNIQUE,
    name              text NOT NULL,
    staff_code        text UNIQUE,
    township_code     text,
    certificate_level text,
    certified_year    integer,
    weekly_capacity   integer NOT NULL,
    status            text NOT NULL DEFAULT 'active',
    joined_on         date NOT NULL,
    left_on           date,
    left_reason       text,
    recorded_at       timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS worker_certificates (
    id             bigserial PRIMARY KEY,
    worker_id      uuid NOT NULL REFERENCES workers (id),
    level          text NOT NULL,
    certified_year integer NOT NULL,
    effective_date date NOT NULL,
    recorded_by    text NOT NULL,
    recorded_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS volunteers (
    id               uuid PRIMARY KEY,
    seq              bigserial NOT NULL UNIQUE,
    name             text NOT NULL,
    id_number_enc    bytea NOT NULL,
    id_number_hash   text NOT NULL UNIQUE,
    id_number_masked text NOT NULL,
    sex              text NOT NULL,
    age_band         text NOT NULL,
    phone            text,
    township_code    text,
    registered_on    date NOT NULL,
    minutes_logged   bigint NOT NULL DEFAULT 0,
    recorded_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS volunteer_hours (
    id           uuid PRIMARY KEY,
    volunteer_id uuid NOT NULL REFERENCES volunteers (id),
    minutes      integer NOT NULL CHECK (minutes > 0),
    activity     text NOT NULL,
    visit_id     uuid,
    served_on    date NOT NULL,
    recorded_by  text NOT NULL,
    recorded_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS volunteer_hours_volunteer ON volunteer_hours (volunteer_id, served_on);

CREATE TABLE IF NOT EXISTS referrals (
    id             uuid PRIMARY KEY,
    seq            bigserial NOT NULL UNIQUE,
    client_id      uuid NOT NULL,
    provider_id    uuid NOT NULL REFERENCES providers (id),
    need_id        uuid REFERENCES needs (id),
    kind           text NOT NULL,
    status         text NOT NULL DEFAULT 'referred',
    township_code  text NOT NULL,
    referred_on    date NOT NULL,
    accepted_on    date,
    completed_on   date,
    declined_on    date,
    decline_reason text,
    note           text,
    recorded_by    text NOT NULL,
    recorded_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS referrals_client ON referrals (client_id, seq);

CREATE TABLE IF NOT EXISTS projects (
    id                     uuid PRIMARY KEY,
    seq                    bigserial NOT NULL UNIQUE,
    title                  text NOT NULL,
    budget_fen             bigint NOT NULL CHECK (budget_fen >= 0),
    provider_ids           uuid[] NOT NULL,
    starts_on              date NOT NULL,
    ends_on                date NOT NULL,
    township_codes         text[] NOT NULL DEFAULT '{}',
    beneficiary_categories text[] NOT NULL DEFAULT '{}',
    planned_beneficiaries  integer NOT NULL DEFAULT 0,
    description            text,
    created_on             date NOT NULL,
    recorded_by            text NOT NULL,
    recorded_at            timestamptz NOT NULL DEFAULT now()
);
