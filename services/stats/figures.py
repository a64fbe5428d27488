"""Reading figures back: a place's period (and the same period a year earlier) from the rollups.

Flows are the rows of the period itself; stocks (active clients, certified workers, registered
volunteers, open overdue visits) are the sum of every delta up to the period's end: earlier years
by their year rows, the current year by month rows, the current month by day rows. Each is one
indexed range read on (place_code, kind, period).
"""
from collections import defaultdict

from hub.errors import NotFound, ValidationFailed
from hub.i18n import _
from stats import domain
from stats.role import AREA_CODES

ROWS = """SELECT period, measure, category, age_group, detail, n FROM {table}
          WHERE place_code = %(code)s AND kind = %(kind)s AND period = ANY(%(periods)s)"""
STOCK_ROWS = """SELECT measure, category, age_group, detail, sum(n)::bigint AS n FROM {table}
                WHERE place_code = %(code)s AND measure = ANY(%(measures)s) AND ({upto})
                GROUP BY measure, category, age_group, detail"""


def upto(period):
    """SQL (with %(y)s, %(m)s, %(d)s) selecting every delta row up to the end of `period`."""
    if period.kind == "y":
        return "kind = 'y' AND period <= %(y)s", {"y": period.text}
    y = f"{period.year:04d}"
    m = period.text[:7]
    if period.kind == "m":
        return ("(kind = 'y' AND period < %(y)s) OR "
                "(kind = 'm' AND period >= %(m0)s AND period <= %(m)s)"), {"y": y, "m0": f"{y}-01",
                                                                       "m": m}
    return ("(kind = 'y' AND period < %(y)s) OR "
            "(kind = 'm' AND period >= %(m0)s AND period < %(m)s) OR "
            "(kind = 'd' AND period >= %(d0)s AND period <= %(d)s)"), {
                "y": y, "m0": f"{y}-01", "m": m, "d0": f"{m}-01", "d": period.text}


class Place:
    """A place the figures are asked for: level, code, name, population, its townships."""

    def __init__(self, level, code, name, population, townships, opened, villages=0):
        self.level, self.code, self.name = level, code, name
        self.population = population
        self.townships = townships          # [(code, station_opened_on)]
        self.opened = opened
        self.villages = villages            # the villages its county file lists (their number)

    @property
    def prefix(self):
        return code_prefix(self.level, self.code)


def code_prefix(level, code):
    """What the codes of the places inside a place start with ('' for the whole province)."""
    return {"province": "", "prefecture": code[:4]}.get(level, code)


# the levels each role answers for: an aggregator's own area, its prefectures, its counties
LEVELS_OF_ROLE = {"province": ("province", "prefecture", "county"),
                  "prefecture": ("prefecture", "county"),
                  "county": ("county", "township", "village")}


def find_place(tx, config, level, code):
    """The place, or ValidationFailed/NotFound naming `level` or `code`."""
    allowed = LEVELS_OF_ROLE[config.role]
    if level not in allowed:
        raise ValidationFailed(_("This hub answers for levels {levels}.",
                                 levels=", ".join(allowed)),
                               fields={"level": [_("must be one of {levels}",
                                                   levels=", ".join(allowed))]})
    if len(code) != domain.CODE_LENGTHS[level] or not code.isdigit():
        raise ValidationFailed(_("The code does not fit the level."), fields={
            "code": [_("a {level} code has {digits} digits", level=level,
                       digits=domain.CODE_LENGTHS[level])]})
    if level == "province":
        if code != config.province_code:
            raise NotFound(_("This aggregator is for province {code}.", code=config.province_code),
                           fields={"code": [_("not {code}", code=config.province_code)]})
        return area(tx, level, code, config.province_name, config.province_population)
    if level == "prefecture":
        return find_prefecture(tx, config, code)
    row = tx.one("SELECT * FROM stats_places WHERE code = %s AND level = %s", (code, level))
    if row is None:
        known = tx.one("SELECT 1 FROM stats_rollup WHERE place_code = %s LIMIT 1", (code,))
        if known is None or AREA_CODES["prefecture"].fullmatch(code):   # not a county's row
            raise NotFound(_("No {level} {code} is known here.", level=level, code=code),
                           fields={"code": [_("unknown")]})
        row = {"name": code, "population": 0, "station_opened_on": None}
    if level == "county":
        towns = tx.all("SELECT code, station_opened_on FROM stats_places WHERE level = 'township'"
                       " AND county_code = %s", (code,))
        townships = [(r["code"], r["station_opened_on"]) for r in towns]
    elif level == "township":
        townships = [(code, row["station_opened_on"])]
    else:
        townships = []
    villages = 1 if level == "village" else tx.one(
        "SELECT coalesce(sum(villages), 0) AS n FROM stats_places WHERE level = 'township' "
        "AND code LIKE %s", (code + "%",))["n"]
    return Place(level, code, row["name"], row["population"], townships,
                 row["station_opened_on"], villages)


def area(tx, level, code, name, population=0):
    """A province or prefecture: its counties' townships and their villages (their number, from
    each county's profile), and their population unless given."""
    prefix = code_prefix(level, code)
    counties = tx.all("SELECT population FROM stats_places WHERE level = 'county' "
                      "AND code LIKE %s", (prefix + "%",))
    towns = tx.all("""SELECT code, station_opened_on, coalesce(villages, 0) AS villages
                      FROM stats_places WHERE level = 'township' AND county_code LIKE %s""",
                   (prefix + "%",))
    return Place(level, code, name, population or sum(r["population"] for r in counties),
                 [(r["code"], r["station_opened_on"]) for r in towns], None,
                 sum(r["villages"] for r in towns))


def find_prefecture(tx, config, code):
    """A prefecture of this aggregator (a prefecture's aggregator has just its own), named from
    the configuration; NotFound naming `code` for one outside its area or of which nothing is
    known."""
    if not AREA_CODES["prefecture"].fullmatch(code):
        raise ValidationFailed(_("The code does not fit the level."), fields={
            "code": [_("a prefecture's code is the first four digits of its counties' codes, "
                       "then 00 (341700)")]})
    own = config.role == "prefecture"
    if own and code != config.province_code:
        raise NotFound(_("This aggregator is for prefecture {code}.", code=config.province_code),
                       fields={"code": [_("not {code}", code=config.province_code)]})
    name = config.prefecture_name(code)
    if name is None:
        known = tx.one("SELECT 1 FROM stats_rollup WHERE place_code = %s LIMIT 1", (code,))
        if known is None:
            raise NotFound(_("No {level} {code} is known here.", level="prefecture", code=code),
                           fields={"code": [_("unknown")]})
        name = code
    return area(tx, "prefecture", code, name, config.province_population if own else 0)


def read_rows(tx, code, period, previous, table="stats_rollup"):
    """{period text: (flows, stocks)} for the period and the year-earlier one, every dimension."""
    flows = {period.text: defaultdict(int), previous.text: defaultdict(int)}
    for r in tx.all(ROWS.format(table=table),
                    {"code": code, "kind": period.kind, "periods": [period.text, previous.text]}):
        flows[r["period"]][(r["measure"], r["category"], r["age_group"], r["detail"])] = r["n"]
    out = {}
    for p in (period, previous):
        predicate, params = upto(p)
        stocks = defaultdict(int)
        for r in tx.all(STOCK_ROWS.format(table=table, upto=predicate),
                        {"code": code, "measures": list(domain.STOCK_MEASURES), **params}):
            stocks[(r["measure"], r["category"], r["age_group"], r["detail"])] = r["n"]
        out[p.text] = (flows[p.text], stocks)
    return out


def values_for(rows, place, period, category="", group=""):
    flows, stocks = rows
    values = domain.figure_values(flows, stocks, category, group)
    if not category and not group:
        values.update(domain.derived_values(values, place.population, len(place.townships),
                                            villages=place.villages))
    return values


def dimension_values(rows, dimension):
    """The categories (or age groups) that have any row in these (flows, stocks)."""
    index, other = (1, 2) if dimension == "category" else (2, 1)
    seen = set()
    for table in rows:
        for key in table:
            if key[index] and not key[other]:
                seen.add(key[index])
    return sorted(seen)


def stats(tx, config, level, code, period_text, breakdown=None):
    """The answer of GET /stats: figures, the year-earlier figures and growth, a breakdown."""
    try:
        period = domain.parse_period(period_text)
    except ValueError as exc:
        raise ValidationFailed(_("The period is not valid."), fields={"period": [exc.args[0]]})
    place = find_place(tx, config, level, code)
    previous = period.previous_year()
    rows = read_rows(tx, code, period, previous)
    current = values_for(rows[period.text], place, period)
    earlier = values_for(rows[previous.text], place, previous)
    figures = label(domain.with_previous(current, earlier))
    answer = {"level": level, "code": code, "name": place.name, "period": period.text,
              "previous_period": previous.text, "figures": figures}
    if breakdown:
        answer["breakdown"] = {breakdown: breakdown_of(rows, period, previous, place, breakdown)}
    answer.update(signoff_state(tx, config, level, code, period))
    pending = read_rows(tx, code, period, previous, "stats_pending")[period.text]
    corrections = {k: v["value"] for k, v in domain.figure_values(*pending).items() if v["value"]}
    if corrections:
        answer["pending_corrections"] = corrections
    return answer


def breakdown_of(rows, period, previous, place, dimension):
    out = {}
    cur_rows, prev_rows = rows[period.text], rows[previous.text]
    for value in dimension_values(cur_rows + prev_rows, dimension):
        pick = {"category": value} if dimension == "category" else {"group": value}
        cur = values_for(cur_rows, place, period, **pick)
        prev = values_for(prev_rows, place, previous, **pick)
        merged = domain.with_previous(cur, prev)
        out[value] = {k: v for k, v in merged.items() if v["value"] or v["previous"]}
    return out


def label(figures):
    """Add each figure's Chinese label, unit and report text."""
    out = {}
    for key, entry in figures.items():
        if key in domain.FIGURES_BY_KEY:
            f = domain.FIGURES_BY_KEY[key]
            meta = {"label": f.label, "unit": "fen" if f.unit == "分" else f.unit}
        else:
            name, unit = domain.DERIVED_LABELS[key]
            meta = {"label": name, "unit": unit}
        out[key] = {**meta, **entry, "text": domain.value_text(key, entry.get("value"))}
    return out


def signoff_state(tx, config, level, code, period):
    county = code[:6]
    if level in ("province", "prefecture"):
        prefix = code_prefix(level, code) + "%"
        rows = tx.all("SELECT county_code FROM stats_signoffs WHERE year = %s "
                      "AND county_code LIKE %s ORDER BY 1", (period.year, prefix))
        late = tx.one("SELECT count(*) AS n FROM stats_late_events WHERE year = %s "
                      "AND county_code LIKE %s", (period.year, prefix))
        return {"signed_off_counties": [r["county_code"] for r in rows], "late_events": late["n"]}
    row = tx.one("SELECT signed_by, signed_at FROM stats_signoffs WHERE county_code = %s "
                 "AND year = %s", (county, period.year))
    answer = {"signed_off": row is not None}
    if row:
        late = tx.one("SELECT count(*) AS n FROM stats_late_events WHERE county_code = %s "
                      "AND year = %s", (county, period.year))
        answer.update(signed_off_at=row["signed_at"].isoformat(), late_events=late["n"])
    return answer


def ratings(tx, place, year):
    """How many stations in the place got each rating that year."""
    counts = {r: 0 for r in domain.RATINGS}
    for row in tx.all("SELECT rating, count(*) AS n FROM stats_ratings WHERE year = %s "
                      "AND station_code LIKE %s GROUP BY rating", (year, place.prefix + "%")):
        counts[row["rating"]] = row["n"]
    return counts
