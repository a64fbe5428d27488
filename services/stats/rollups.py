"""Applying events to the rollups: the same code for a county hub (one event per transaction,
through the chassis inbox), the province (batches of thousands) and a rebuild from the archive.

Facts are added up in Python into rollup rows, one per place x period x cell (each category x
age group, either also "all"; each detail, for all clients), and written with one set-based
`INSERT … ON CONFLICT DO UPDATE SET n = n + EXCLUDED.n`, in key order. Facts of a year its
county has signed off go to `stats_pending` instead (a pending correction, shown but not
merged). Stocks (active clients, open overdue visits) are applied as the difference an event
makes to its entity's whole history (see domain.py), under transaction-scoped advisory locks on
the entities' hash buckets, so that concurrent handlers cannot interleave on one entity.

What events contribute on their own needs no database: the province works it out (`WorkedOut`,
rows included) while the previous batch is being written, and its transaction only adds the
stocks' differences.
"""
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache

from stats import domain, network, worker_view

# to join texts with: control characters first (none of them is in a code or a JSON text), then
# private-use ones
SEPARATORS = [*range(0x1f, 0, -1), *range(0xe000, 0xf900)]


def texts(values):
    """A list of texts as one statement parameter, for `split(name)` in the statement: joined by
    a character none of them holds, which also comes first. psycopg would dump a list element by
    element, which for thousands of them costs more than the statement itself. No texts: None
    (NULL, no rows)."""
    if not values:
        return None
    for code in SEPARATORS:
        sep = chr(code)
        joined = sep.join(values)
        if joined.count(sep) == len(values) - 1:
            return sep + joined
    raise ValueError("no character left to separate the texts with")


def split(name):
    """SQL for the text[] that `texts()` made the named parameter of."""
    param = f"%({name})s::text"
    return f"(string_to_array({param}, left({param}, 1)))[2:]"


def columns(names, rows):
    """Rows of texts as `texts()` parameters, one a column: {name: column}."""
    return {name: texts(column) for name, column in zip(names, zip(*rows))}


def unnest(names, alias):
    """SQL for the rows that `columns(names, rows)` made parameters of, as alias(names)."""
    return f"unnest({', '.join(map(split, names))}) AS {alias}({', '.join(names)})"


# rows as sent: in key order (the order of their row locks), summed, none of them 0
UPSERT = f"""
INSERT INTO {{table}} AS r (place_code, kind, period, measure, category, age_group, detail, n)
SELECT place_code, kind::"char", period, measure, category, age_group, detail, n
FROM unnest({split("place")}, {split("kind")}, {split("period")},
            {split("measure")}, {split("category")}, {split("age_group")},
            {split("detail")}, {split("n")}::bigint[]) WITH ORDINALITY
     AS u(place_code, kind, period, measure, category, age_group, detail, n, i)
ORDER BY i
ON CONFLICT (place_code, kind, period, measure, category, age_group, detail)
DO UPDATE SET n = r.n + EXCLUDED.n
"""
ROW_COLUMNS = ("place", "kind", "period", "measure", "category", "age_group", "detail")

CLIENT_STATE_COLUMNS = ("client_id", "at", "event_id", "day", "active", "county", "township",
                        "village", "categories", "age_group", "risk")
INSERT_CLIENT_STATES = f"""
INSERT INTO stats_client_states (client_id, at, event_id, day, active, county, township, village,
                                 categories, age_group, risk)
SELECT u.client_id::uuid, u.at::timestamptz, u.event_id::uuid, u.day::date, u.active::bool,
       u.county, u.township, u.village,
       coalesce(string_to_array(nullif(u.categories, ''), ','), '{{}}'), u.age_group, u.risk
FROM {unnest(CLIENT_STATE_COLUMNS, "u")}
ON CONFLICT DO NOTHING
"""
VISIT_FLAG_COLUMNS = ("visit_id", "county", "township", "village", "overdue_on", "resolved_on")
INSERT_VISIT_FLAGS = f"""
INSERT INTO stats_visit_flags AS f (visit_id, county, township, village, overdue_on, resolved_on)
SELECT v.visit_id::uuid, v.county, v.township, v.village, nullif(v.overdue_on, '')::date,
       nullif(v.resolved_on, '')::date
FROM {unnest(VISIT_FLAG_COLUMNS, "v")}
ON CONFLICT (visit_id) DO UPDATE SET overdue_on = EXCLUDED.overdue_on,
    resolved_on = EXCLUDED.resolved_on
"""
UPSERT_ROLLUP = UPSERT.format(table="stats_rollup")
UPSERT_PENDING = UPSERT.format(table="stats_pending")
SIGNOFF = "stats.signed_off.v1"
LOCK_BUCKETS = 64                                 # a power of 2
LOCK_SPACES = {"client": 7301, "visit": 7302,      # the first key of pg_advisory_xact_lock
               "station": 7303}


@lru_cache(maxsize=8192)
def periods_of(day):
    """The rollup periods a day belongs to: [(kind, period)] for its year, month and day."""
    text = day.isoformat()
    return (("y", text[:4]), ("m", text[:7]), ("d", text))


@lru_cache(maxsize=8192)
def cells_of(categories, group, details):
    """The (category, age_group, detail) cells a fact is counted in: every category of the client
    and none, crossed with their age group and none; and each detail, for all clients."""
    groups = ("", group) if group else ("",)
    return tuple((c, g, "") for c in ("",) + categories for g in groups) + tuple(
        ("", "", d) for d in details)


@dataclass
class WorkedOut:
    """What events contribute on their own, worked out before their transaction: facts and
    client states by event id; and, when it is known which events the transaction will apply,
    all their facts added up into rollup rows, with the (county, year)s those facts fall in."""
    facts: dict = field(default_factory=dict)            # event id -> [(FactKey, n)]
    client_states: dict = field(default_factory=dict)    # event id -> domain.ClientState
    rows: dict | None = None                             # rollup row key -> n
    years: set = field(default_factory=set)


class LiveJudge:
    """Live: every event that hits a signed-off year arrived after the sign-off: it is late."""

    def late(self, tx, events):
        return {e["id"] for e in events}


class Rollups:
    """Adds events' facts to the rollups of one role (county or province)."""

    def __init__(self, config, locking=True):
        self.config = config
        self.locking = locking          # a rebuild holds the tables alone: no need
        self._areas = {}                # aggregator: county -> the places its facts go to

    # -- places ------------------------------------------------------------------------------
    def places(self, key):
        """The place codes a fact is summed into: at an aggregator its county, the county's
        prefecture and the aggregator's own area (once, for a prefecture's aggregator), in the
        same statement, so that every total is exactly the sum of its parts."""
        if self.config.is_province:
            at = self._areas.get(key.county)
            if at is None:
                at = self._areas[key.county] = tuple(dict.fromkeys((
                    key.county, domain.prefecture_of(key.county), self.config.province_code)))
            return at
        return tuple(c for c in (key.village, key.township, key.county) if c)

    def rows(self, facts, into=None, years=None):
        """Facts added up into rollup rows {(place, kind, period, measure, category, age_group,
        detail): n}, or added to `into`; the (county, year)s they fall in are added to `years`.
        Facts with the same key, then with the same places, are summed first: a batch's
        thousands of facts have a few hundred keys."""
        by_key = {}
        for key, n in facts:
            by_key[key] = by_key.get(key, 0) + n
        if years is not None:
            years.update({(key.county, key.day.year) for key in by_key})
        by_places = {}
        places = self.places
        for key, n in by_key.items():
            k = (key.measure, key.day, places(key), key.categories, key.group, key.details)
            by_places[k] = by_places.get(k, 0) + n
        rows = {} if into is None else into
        for (measure, day, at, categories, group, details), n in by_places.items():
            if not n:
                continue
            cells = cells_of(categories, group, details)
            for place in at:
                for kind, period in periods_of(day):
                    head = (place, kind, period, measure)
                    for cell in cells:
                        row = head + cell
                        rows[row] = rows.get(row, 0) + n
        return rows

    # -- applying ----------------------------------------------------------------------------
    def apply(self, tx, events, judge=None, worked=None):
        """Add the events' facts; returns Counter(counted=…, ignored=…).

        Events are distinct and new (the caller's inbox saw to that). A sign-off in `events`
        takes effect after them: callers split batches at sign-offs (`split_at_signoffs`).
        `worked` (WorkedOut) may hold what the events contribute on their own; its rows, if
        any, must be those of exactly `events`: they are written as they are, plus the stocks'
        differences, unless a signed-off year is in the way.
        """
        worked = worked or WorkedOut()
        per_type = Counter(e["type"] for e in events)
        known = {type_key: domain.handles(type_key) for type_key in per_type}
        handled = [e for e in events if known[e["type"]]]
        stocks = {}                 # event id -> the difference it makes to a stock
        clients = [e for e in handled if e["type"] in domain.CLIENT_TYPES]
        if clients:
            stocks.update(self._client_deltas(tx, clients, worked.client_states))
        visits = [e for e in handled
                  if e["type"] in domain.VISIT_FLAG_TYPES and domain.changes_visit_flags(e)]
        if visits:
            for event_id, extra in self._visit_deltas(tx, visits).items():
                stocks[event_id] = stocks.get(event_id, []) + extra
        openings = [e for e in handled if e["type"] in network.STATION_TYPES]
        if openings:
            for event_id, extra in self._opening_deltas(tx, openings).items():
                stocks[event_id] = stocks.get(event_id, []) + extra
        if not (worked.rows is not None and self._write_worked_out(tx, worked, stocks)):
            self._write_each(tx, handled, worked.facts, stocks, judge or LiveJudge())
        self._registry(tx, [e for e in handled if e["type"] in REGISTRY_TYPES])
        self._count_types(tx, per_type, known)
        return +Counter(counted=len(handled), ignored=len(events) - len(handled))

    def _write_worked_out(self, tx, worked, stocks):
        """Write the rows worked out beforehand with the stocks' differences, unless a signed-off
        year is in the way; returns whether it wrote them."""
        years = set(worked.years)
        rows = self.rows((f for extra in stocks.values() for f in extra), years=years)
        if self._signed(tx, years) & years:
            return False
        for row, n in rows.items():
            rows[row] = worked.rows.get(row, 0) + n
        self.write(tx, {**worked.rows, **rows})
        return True

    def _write_each(self, tx, events, own, stocks, judge):
        """Write each event's facts: those of a signed-off year as pending corrections if the
        judge finds the event late."""
        facts = {e["id"]: own[e["id"]] if e["id"] in own else domain.facts_of(e) for e in events}
        for event_id, extra in stocks.items():
            facts[event_id] = facts[event_id] + extra
        signed = self._signed(tx, {(k.county, k.day.year) for f in facts.values() for k, _ in f})
        merged, pending, late_rows = self._split_signed_off(tx, events, facts, signed, judge)
        self.write(tx, self.rows(merged))
        if pending:
            self.write(tx, self.rows(pending), UPSERT_PENDING)
            tx.execute("""INSERT INTO stats_late_events (event_id, county_code, year, type)
                          SELECT * FROM unnest(%s::uuid[], %s::text[], %s::int[], %s::text[])
                          ON CONFLICT DO NOTHING""", [list(c) for c in zip(*late_rows)])

    @staticmethod
    def write(tx, rows, sql=UPSERT_ROLLUP):
        """Add rollup rows ({key: n}) to the rollup (or pending) table in one statement."""
        keys = sorted(k for k, n in rows.items() if n)
        if not keys:
            return 0
        params = columns(ROW_COLUMNS, keys)
        params["n"] = texts([str(rows[k]) for k in keys])
        tx.execute(sql, params)
        return len(keys)

    # -- sign-offs -----------------------------------------------------------------------------
    @staticmethod
    def _signed(tx, years):
        """The signed-off (county, year)s of the counties in `years` ((county, year)s)."""
        counties = sorted({county for county, _ in years})
        if not counties:
            return set()
        return {(r["county_code"], r["year"]) for r in tx.all(
            "SELECT county_code, year FROM stats_signoffs WHERE county_code = ANY(%s)",
            (counties,))}

    def _split_signed_off(self, tx, events, facts, signed, judge):
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
        tx.execute("SELECT pg_advisory_xact_lock(%(space)s, b) FROM (SELECT DISTINCT "
                   f"hashtext(i) & %(mask)s AS b FROM unnest({split('ids')}) AS i) s ORDER BY b",
                   {"space": LOCK_SPACES[kind], "mask": LOCK_BUCKETS - 1, "ids": texts(list(ids))})

    def _client_deltas(self, tx, events, states=None):
        states = states or {}
        by_client = {}
        for e in events:
            by_client.setdefault(str(e["data"]["client_id"]), []).append(e)
        self._lock(tx, "client", by_client)
        history = {}
        for r in tx.all(f"""SELECT client_id::text AS client_id, at, event_id::text AS event_id,
                                   day, active, county, township, village, categories,
                                   age_group, risk FROM stats_client_states
                            WHERE client_id = ANY({split('ids')}::uuid[])""",
                        {"ids": texts(list(by_client))}):
            history.setdefault(r.pop("client_id"), []).append(
                domain.ClientState(r["at"], r["event_id"], r["day"], r["active"], r["county"],
                                   r["township"], r["village"], tuple(r["categories"]),
                                   r["age_group"], r["risk"]))
        out, rows = {}, []
        for client_id, client_events in by_client.items():
            before = history.get(client_id, [])
            seen = {(s.at, s.event_id) for s in before}
            added = [s for s in (states.get(e["id"]) or domain.client_state(e)
                                 for e in client_events) if (s.at, s.event_id) not in seen]
            rows += [(client_id, str(s.at), s.event_id, s.day.isoformat(), "t" if s.active else "f",
                      s.county, s.township, s.village, ",".join(s.categories), s.group, s.risk)
                     for s in added]
            change = domain.delta(domain.client_contribution(before),
                                  domain.client_contribution(before + added))
            out[client_events[-1]["id"]] = change
        if rows:
            tx.execute(INSERT_CLIENT_STATES, columns(CLIENT_STATE_COLUMNS, rows))
        return out

    def _visit_deltas(self, tx, events):
        by_visit = {}
        for e in events:
            by_visit.setdefault(str(e["data"]["visit_id"]), []).append(e)
        self._lock(tx, "visit", by_visit)
        current = {r["visit_id"]: domain.VisitFlags(r["county"], r["township"], r["village"],
                                                    r["overdue_on"], r["resolved_on"])
                   for r in tx.all(f"""SELECT visit_id::text AS visit_id, county, township,
                                              village, overdue_on, resolved_on
                                       FROM stats_visit_flags
                                       WHERE visit_id = ANY({split('ids')}::uuid[])""",
                                   {"ids": texts(list(by_visit))})}
        out, rows = {}, []
        for visit_id, visit_events in by_visit.items():
            before = current.get(visit_id)
            after = before
            for e in visit_events:
                after = domain.visit_flags_after(after, e)
            if after is None or after == before:
                continue
            rows.append((visit_id, after.county, after.township, after.village,
                         after.overdue_on.isoformat() if after.overdue_on else "",
                         after.resolved_on.isoformat() if after.resolved_on else ""))
            out[visit_events[-1]["id"]] = domain.delta(domain.visit_contribution(before),
                                                       domain.visit_contribution(after))
        if rows:
            tx.execute(INSERT_VISIT_FLAGS, columns(VISIT_FLAG_COLUMNS, rows))
        return out

    def _opening_deltas(self, tx, events):
        """The difference station events make to the stations open: each opening of a station
        counts as its latest event (by time) has it (stats.network), whatever order they came."""
        by_opening = {}
        for e in events:
            key, opening = network.opening_of(e)
            by_opening.setdefault(key, []).append((e["id"], opening))
        self._lock(tx, "station", ["/".join(map(str, key)) for key in by_opening])
        keys = list(by_opening)
        stored = {}
        for r in tx.all("""SELECT county, station_code, opening, at, event_id::text AS event_id,
                                  tier, township, village, opened_on, closed_on
                           FROM stats_station_openings
                           JOIN unnest(%s::text[], %s::text[], %s::int[])
                                AS k(county, station_code, opening)
                                USING (county, station_code, opening)""",
                        [[k[i] for k in keys] for i in range(3)]):
            stored[(r["county"], r["station_code"], r["opening"])] = network.Opening(
                r["at"], r["event_id"], r["tier"], r["township"], r["village"], r["opened_on"],
                r["closed_on"])
        out, rows = {}, []
        for key, arrived in by_opening.items():
            before = after = stored.get(key)
            for _, opening in arrived:
                if opening.newer_than(after):
                    after = opening
            if after is before:
                continue
            rows.append((*key, after.at, after.event_id, after.tier, after.township, after.village,
                         after.opened_on, after.closed_on))
            out[arrived[-1][0]] = domain.delta(network.opening_contribution(key[0], before),
                                               network.opening_contribution(key[0], after))
        if rows:
            tx.execute_each("""INSERT INTO stats_station_openings (county, station_code, opening,
                                   at, event_id, tier, township, village, opened_on, closed_on)
                               VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
                               ON CONFLICT (county, station_code, opening) DO UPDATE SET
                                   at = EXCLUDED.at, event_id = EXCLUDED.event_id,
                                   tier = EXCLUDED.tier, township = EXCLUDED.township,
                                   village = EXCLUDED.village, opened_on = EXCLUDED.opened_on,
                                   closed_on = EXCLUDED.closed_on""", rows)
        return out

    # -- ratings, sign-offs, places --------------------------------------------------------------
    def _registry(self, tx, events):
        for e in events:
            REGISTRY_TYPES[e["type"]](tx, e)

    @staticmethod
    def _count_types(tx, per_type, known):
        rows = {type_key: (n, 0) if known[type_key] else (0, n)
                for type_key, n in per_type.items()}
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
                   "stats_station_openings, stats_event_counts")


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
    store_village_counts(tx, {t["township_code"]: t.get("villages", 0) for t in d["townships"]})


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


def store_village_counts(tx, counts):
    """How many villages each township has ({township code: n}; the county file's list): the
    denominator of village_room_coverage_percent, in a county hub and at an aggregator alike."""
    tx.execute("""UPDATE stats_places p SET villages = c.n
                  FROM unnest(%s::text[], %s::int[]) AS c(code, n)
                  WHERE p.code = c.code AND p.villages IS DISTINCT FROM c.n""",
               (list(counts), list(counts.values())))


REGISTRY_TYPES = {
    "worker.registered.v1": worker_view.record,
    "worker.certified.v1": worker_view.record,
    "worker.left.v1": worker_view.record,
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
