-- depends: stats_0001_rollups
-- The station network: the county's register of stations and volunteer service points (kept
-- by the county hub's API, seeded from the county file), the openings behind the station
-- figures (from station.* events, in both roles), and the workers stats has heard of (from
-- worker.* events: a station's staff must be among them).

-- tier: county | township | village | service_point. place_code: the county (6 digits), a
-- township (9) or a village (12). township_code: the township the station is in (NULL for a
-- county-wide one), by which station roles see their own. changed_at: the time of its latest
-- event. opening: 1, then one more each time it opens again after closing.
CREATE TABLE IF NOT EXISTS stats_stations (
    code          text PRIMARY KEY,
    seq           bigserial NOT NULL UNIQUE,
    name          text NOT NULL,
    tier          text NOT NULL,
    parent_code   text REFERENCES stats_stations (code),
    place_code    text NOT NULL,
    township_code text,
    opened_on     date NOT NULL,
    closed_on     date,
    opening       integer NOT NULL DEFAULT 1,
    staff         uuid[] NOT NULL DEFAULT '{}',
    changed_at    timestamptz NOT NULL DEFAULT now(),
    CHECK (closed_on IS NULL OR closed_on >= opened_on)
);
CREATE INDEX IF NOT EXISTS stats_stations_parent ON stats_stations (parent_code);
CREATE INDEX IF NOT EXISTS stats_stations_place ON stats_stations (place_code text_pattern_ops);
-- one open station of a tier at a place (volunteer service points: as many as there are)
CREATE UNIQUE INDEX IF NOT EXISTS stats_stations_one_open ON stats_stations (tier, place_code)
    WHERE closed_on IS NULL AND tier <> 'service_point';

-- Each opening of a station as its latest event left it: behind the stock figures stations_open
-- and service_points_open (+1 on opened_on, -1 on closed_on at the station's place). The latest
-- event (at, event_id) of an opening wins, whatever order events arrive in.
CREATE TABLE IF NOT EXISTS stats_station_openings (
    county       text NOT NULL,
    station_code text NOT NULL,
    opening      integer NOT NULL,
    at           timestamptz NOT NULL,
    event_id     uuid NOT NULL,
    tier         text NOT NULL,
    township     text NOT NULL,
    village      text NOT NULL,
    opened_on    date NOT NULL,
    closed_on    date,
    PRIMARY KEY (county, station_code, opening)
);

-- How many villages each township has (the county file's list, in a county hub and at an
-- aggregator from stats.county_profile): the denominator of the village rooms' share.
ALTER TABLE stats_places ADD COLUMN IF NOT EXISTS villages integer NOT NULL DEFAULT 0;

-- Workers as their events told: registered (with their township), and the day they left.
CREATE TABLE IF NOT EXISTS stats_workers (
    worker_id     uuid PRIMARY KEY,
    township_code text,
    left_on       date
);
