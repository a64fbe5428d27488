"""Applying events to the rollups: the same code for a county hub (one event per transaction,
through the chassis inbox), the province (batches of thousands) and a rebuild from the archive.

Facts are summed in Python per batch, then expanded in SQL to every place x period x cell (each
category x age group, either also "all"; each detail, for all clients) and added with one
set-based `INSERT … ON CONFLICT DO UPDATE SET n = n + EXCLUDED.n`, in key order. Facts of a year
its county has signed off go to `stats_pending` instead (a pending correction, shown but not
merged). Stocks (active clients, open overdue visits) are applied as the difference an event
makes to its entity's whole history (see domain.py), under transaction-scoped advisory locks on
the entities' hash buckets, so that concurrent handlers cannot interleave on one entity.
"""
from collections import Counter

from stats import domain

UPSERT = """
INSERT INTO {table} AS r (place_code, kind, period, measure, category, age_group, detail, n)
SELECT p.place_code COLLATE "C", k.kind, k.period COLLATE "C", f.measure COLLATE "C",
       x.category COLLATE "C", x.age_group COLLATE "C", x.detail COLLATE "C", sum(f.n)
FROM unnest(%(measure)b::text[], %(day)b::date[], %(places)b::text[], %(cats)b::text[],
            %(grp)b::text[], %(details)b::text[], %(n)b::bigint[])
     AS f(measure, day, places, cats, grp, details, n)
CROSS JOIN LATERAL unnest(string_to_array(f.places, ',')) AS p(place_code)
CROSS JOIN LATERAL (VALUES ('y'::"char", to_char(f.day, 'YYYY')),
                           ('m'::"char", to_char(f.day, 'YYYY-MM')),
                           ('d'::"char", to_char(f.day, 'YYYY-MM-DD'))) AS k(kind, period)
CROSS JOIN LATERAL (
    SELECT c, g, ''
    FROM unnest('{{""}}'::text[] || string_to_array(nullif(f.cats, ''), ',')) AS c
    CROSS JOIN unnest('{{""}}'::text[] || string_to_array(nullif(f.grp, ''), ',')) AS g
    UNION ALL
    SELECT '', '', d FROM unnest(string_to_array(nullif(f.details, ''), ',')) AS d
) AS x(category, age_group, detail)
GROUP BY 1, 2, 3, 4, 5, 6, 7
HAVING sum(f.n) <> 0
ORDER BY 1, 2, 3, 4, 5, 6, 7
ON CONFLICT (place_code, kind, period, measure, category, age_group, detail)
DO UPDATE SET n = r.n + EXCLUDED.n
"""
UPSERT_ROLLUP = UPSERT.format(table="stats_rollup")
UPSERT_PENDING = UPSERT.format(table="stats_pending")
SIGNOFF = "stats.signed_off.v1"
LOCK_BUCKETS = 64                                 # a power of 2
LOCK_SPACES = {"client": 7301, "visit": 7302}      # the first key of pg_advisory_xact_lock


def execute_arrays(tx, sql, params):
    """Run a statement whose parameters are long arrays (%b placeholders: sent in binary, with
    no text escaping)."""
    return tx.conn.execute(sql, params)


class LiveJudge:
    """Live: every event that hits a signed-off year arrived after the sign-off: it is late."""

    def late(self, tx, events):
        return {e["id"] for e in events}


class Rollups:
    """Adds events' facts to the rollups of one role (county or province)."""

    def __init__(self, config, locking=True):
        self.config = config
        self.locking = locking          # a rebuild holds the tables alone: no need

    # -- places ------------------------------------------------------------------------------
    def places(self, key):
        """The place codes a fact is summed into, comma-joined."""
        if self.config.is_province:
            return f"{key.county},{self.config.province_code}"
        return ",".join(c for c in (key.village, key.township, key.county) if c)

    # -- applying ----------------------------------------------------------------------------
    def apply(self, tx, events, judge=None, facts=None):
        """Add the events' facts; returns Counter(counted=…, ignored=…).

        Events are distinct and new (the caller's inbox saw to that). A sign-off in `events`
        takes effect after them: callers split batches at sign-offs (`split_at_signoffs`).
        `facts` may hold each event's own facts, worked out beforehand (by event id).
        """
        judge = judge or LiveJudge()
        handled, outcome = [], Counter()
        per_type = Counter()
        for event in events:
            known = domain.handles(event["type"])
            if known:
                handled.append(event)
            per_type[(event["type"], known)] += 1
            outcome["counted" if known else "ignored"] += 1
        facts = {e["id"]: facts[e["id"]] if facts and e["id"] in facts else domain.facts_of(e)
                 for e in handled}
        clients = [e for e in handled if e["type"] in domain.CLIENT_TYPES]
        if clients:
            for event_id, extra in self._client_deltas(tx, clients).items():
                facts[event_id] = facts[event_id] + extra
        visits = [e for e in handled if e["type"] in domain.VISIT_FLAG_TYPES]
        if visits:
            for event_id, extra in self._visit_deltas(tx, visits).items():
                facts[event_id] = facts[event_id] + extra
        merged, pending, late_rows = self._split_signed_off(tx, handled, facts, judge)
        self.write(tx, self.summed(merged))
        if pending:
            self.write(tx, self.summed(pending), UPSERT_PENDING)
            tx.execute("""INSERT INTO stats_late_events (event_id, county_code, year, type)
                          SELECT * FROM unnest(%s::uuid[], %s::text[], %s::int[], %s::text[])
                          ON CONFLICT DO NOTHING""", [list(c) for c in zip(*late_rows)])
        self._registry(tx, [e for e in handled if e["type"] in REGISTRY_TYPES])
        self._count_types(tx, per_type)
        return outcome

    def summed(self, facts):
        """Facts summed by (measure, day, places, categories, group, details)."""
        total = Counter()
        places = self.places
        for key, n in facts:
            total[(key.measure, key.day, places(key), ",".join(key.categories), key.group,
                   ",".join(key.details))] += n
        return total

    @staticmethod
    def write(tx, summed, sql=UPSERT_ROLLUP):
        """Add summed facts to the rollup (or pending) table in one statement."""
        rows = [k + (n,) for k, n in summed.items() if n]
        if not rows:
            return 0
        cols = [list(c) for c in zip(*rows)]
        execute_arrays(tx, sql, dict(zip(("measure", "day", "places", "cats", "grp", "details",
                                          "n"), cols)))
        return len(rows)

    # -- sign-offs -----------------------------------------------------------------------------
    def _split_signed_off(self, tx, events, facts, judge):
        counties = {domain.county_of(e) for e in events}
        signed = {(r["county_code"], r["year"]) for r in tx.all(
            "SELECT county_code, year FROM stats_signoffs WHERE county_code = ANY(%s)",
            (sorted(counties),))} if counties else set()
        merged, pending, late_rows = [], [], []
        if not signed:
            for e in events:
                merged.extend(facts[e["id"]])
            return merged, pending, late_rows
        hits = [e for e in events
                if any((k.county, k.day.year) in signed for k, _ in facts[e["id"]])]
        late = judge.late(tx, hits) if hits else set()
        for e in events:
            if e["id"] not in late:
                merged.extend(facts[e["id"]])
                continue
            years = set()
            for key, n in facts[e["id"]]:
                if (key.county, key.day.year) in signed:
                    pending.append((key, n))
                    years.add((key.county, key.day.year))
                else:
                    merged.append((key, n))
            for county, year in sorted(years):
                late_rows.append((e["id"], county, year, e["type"]))
        return merged, pending, late_rows

    # -- stocks ----------------------------------------------------------------------------------
    def _lock(self, tx, kind, ids):
        """Serialise transactions that touch the same clients (or visits): a transaction lock on
        each of their buckets (LOCK_BUCKETS of them, so that a batch of thousands takes at most
        that many locks), taken in order."""
        if not self.locking:
            return
        tx.execute("SELECT pg_advisory_xact_lock(%s, b) FROM (SELECT DISTINCT "
                   "hashtext(i) & %s AS b FROM unnest(%s::text[]) AS i) s ORDER BY b",
                   (LOCK_SPACES[kind], LOCK_BUCKETS - 1, list(ids)))

    def _client_deltas(self, tx, events):
        by_client = {}
        for e in events:
            by_client.setdefault(str(e["data"]["client_id"]), []).append(e)
        self._lock(tx, "client", by_client)
        history = {}
        for r in tx.all("""SELECT client_id::text AS client_id, at, event_id::text AS event_id,
                                  day, active, county, township, village, categories, age_group,
                                  risk
                           FROM stats_client_states WHERE client_id = ANY(%s::uuid[])""",
                        (list(by_client),)):
            history.setdefault(r.pop("client_id"), []).append(
                domain.ClientState(r["at"], r["event_id"], r["day"], r["active"], r["county"],
                                   r["township"], r["village"], tuple(r["categories"]),
                                   r["age_group"], r["risk"]))
        out, rows = {}, []
        for client_id, client_events in by_client.items():
            before = history.get(client_id, [])
            seen = {(s.at, s.event_id) for s in before}
            added = [s for s in map(domain.client_state, client_events)
                     if (s.at, s.event_id) not in seen]
            rows += [(client_id, s.at, s.event_id, s.day, s.active, s.county, s.township,
                      s.village, ",".join(s.categories), s.group, s.risk)
                     for s in added]
            change = domain.delta(domain.client_contribution(before),
                                  domain.client_contribution(before + added))
            out[client_events[-1]["id"]] = change
        if rows:
            execute_arrays(tx, """INSERT INTO stats_client_states (client_id, at, event_id, day,
                              active, county, township, village, categories, age_group, risk)
                          SELECT u.client_id, u.at, u.event_id, u.day, u.active, u.county,
                                 u.township, u.village,
                                 coalesce(string_to_array(nullif(u.cats, ''), ','), '{}'),
                                 u.age_group, u.risk
                          FROM unnest(%b::text[]::uuid[], %b::timestamptz[], %b::text[]::uuid[],
                                      %b::date[], %b::bool[], %b::text[], %b::text[], %b::text[],
                                      %b::text[], %b::text[], %b::text[])
                               AS u(client_id, at, event_id, day, active, county, township,
                                    village, cats, age_group, risk)
                          ON CONFLICT DO NOTHING""",
                       [list(c) for c in zip(*rows)])
        return out

    def _visit_deltas(self, tx, events):
        by_visit = {}
        for e in events:
            by_visit.setdefault(str(e["data"]["visit_id"]), []).append(e)
        self._lock(tx, "visit", by_visit)
        current = {r["visit_id"]: domain.VisitFlags(r["county"], r["township"], r["village"],
                                                    r["overdue_on"], r["resolved_on"])
                   for r in tx.all("""SELECT visit_id::text AS visit_id, county, township,
                                             village, overdue_on, resolved_on
                                      FROM stats_visit_flags WHERE visit_id = ANY(%s::uuid[])""",
                                   (list(by_visit),))}
        out, rows = {}, []
        for visit_id, visit_events in by_visit.items():
            before = current.get(visit_id)
            after = before
            for e in visit_events:
                after = domain.visit_flags_after(after, e)
            if after is None or after == before:
                continue
            rows.append((visit_id, after.county, after.township, after.village, after.overdue_on,
                         after.resolved_on))
            out[visit_events[-1]["id"]] = domain.delta(domain.visit_contribution(before),
                                                       domain.visit_contribution(after))
        if rows:
            tx.execute("""INSERT INTO stats_visit_flags AS f (visit_id, county, township, village,
                              overdue_on, resolved_on)
                          SELECT * FROM unnest(%s::uuid[], %s::text[], %s::text[], %s::text[],
                                               %s::date[], %s::date[])
                          ON CONFLICT (visit_id) DO UPDATE SET overdue_on = EXCLUDED.overdue_on,
                              resolved_on = EXCLUDED.resolved_on""",
                       [list(c) for c in zip(*rows)])
        return out

    # -- ratings, sign-offs, places --------------------------------------------------------------
    def _registry(self, tx, events):
        for e in events:
            REGISTRY_TYPES[e["type"]](tx, e)

    @staticmethod
    def _count_types(tx, per_type):
        rows = {}
        for (type_key, known), n in per_type.items():
            counted, ignored = rows.get(type_key, (0, 0))
            rows[type_key] = (counted + n, ignored) if known else (counted, ignored + n)
        keys = sorted(rows)
        tx.execute("""INSERT INTO stats_event_counts AS c (type, counted, ignored)
                      SELECT * FROM unnest(%s::text[], %s::bigint[], %s::bigint[])
                      ON CONFLICT (type) DO UPDATE SET counted = c.counted + EXCLUDED.counted,
                                                       ignored = c.ignored + EXCLUDED.ignored""",
                   (keys, [rows[k][0] for k in keys], [rows[k][1] for k in keys]))

    def reset(self, tx):
        """Forget everything derived from events (before a rebuild); sign-offs, the list of late
        events, places and received events are kept."""
        tx.execute("TRUNCATE stats_rollup, stats_pending, stats_client_states, stats_visit_flags, "
                   "stats_event_counts")


def record_rating(tx, event):
    d = event["data"]
    tx.execute("""INSERT INTO stats_ratings AS r (station_code, year, county_code, rating, rated_at)
                  VALUES (%s, %s, %s, %s, %s)
                  ON CONFLICT (station_code, year) DO UPDATE SET rating = EXCLUDED.rating,
                      rated_at = EXCLUDED.rated_at WHERE r.rated_at <= EXCLUDED.rated_at""",
               (d["station_code"], d["year"], d["county_code"], d["rating"], event["time"]))


def record_signoff(tx, event):
    d = event["data"]
    tx.execute("""INSERT INTO stats_signoffs (county_code, year, signed_by, signed_at)
                  VALUES (%s, %s, %s, %s) ON CONFLICT DO NOTHING""",
               (d["county_code"], d["year"], f"county hub {d['county_code']}", event["time"]))


def record_profile(tx, event):
    d = event["data"]
    county = d["county_code"]
    rows = [(county, "county", county, d["county_name"], d["population"], None)]
    rows += [(t["township_code"], "township", county, t["township_name"], t["population"],
              t["station_opened_on"]) for t in d["townships"]]
    store_places(tx, rows)


def store_places(tx, rows):
    """Upsert places: (code, level, county_code, name, population, station_opened_on)."""
    tx.execute("""INSERT INTO stats_places (code, level, county_code, name, population,
                      station_opened_on)
                  SELECT * FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[],
                                       %s::bigint[], %s::date[])
                  ON CONFLICT (code) DO UPDATE SET level = EXCLUDED.level, name = EXCLUDED.name,
                      county_code = EXCLUDED.county_code, population = EXCLUDED.population,
                      station_opened_on = EXCLUDED.station_opened_on""",
               [list(c) for c in zip(*rows)])


REGISTRY_TYPES = {
    "station.rated.v1": record_rating,
    SIGNOFF: record_signoff,
    "stats.county_profile.v1": record_profile,
}


def split_at_signoffs(events):
    """Cut a batch after each sign-off, so that events before it are judged without it."""
    chunk = []
    for event in events:
        chunk.append(event)
        if event["type"] == SIGNOFF:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
