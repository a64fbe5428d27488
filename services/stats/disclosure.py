"""What leaves the county: figures and reports as readers outside it see them, with no count of
people below k (HUB_SUPPRESSION_K, default 5) and none that can be worked out from the others.

Who is outside is the token's role (hub.access.reads_exact_figures), on a county hub and at an
aggregator alike: county and station staff (county_admin, township_admin, station_worker) read
exact figures, as do an aggregator's own operators (its county_admin tokens: they hold its
database anyway); every other reader (province_viewer) reads them through here. They read years
only, and places down to the township: a month or a day, or a village, is refused (403 naming
the field), because the months of a year and the villages of a township would be more tables to
keep consistent for cells of one or two people.

What is protected, and how:

- Every count of people or of what happened to them (clients, visits, needs, allocations,
  referrals, activity participants, volunteers, workers, certificate holders, person-times) is a
  *cell* per place, year, category, age group and detail. A cell of 1 .. k-1 is hidden; then
  complementary suppression and its audit (stats/suppression.py) hide more, so that none can be
  worked out by subtraction along any *line*: a figure and its breakdown by category, by age
  group, by each detail; a place and the places under it (county and townships; province,
  prefectures and counties); person-times and the four figures they add up; and a stock's year
  (active clients, workers, volunteers) and the year's flows that move it, the year before taken
  as known. Lines never join two years, so a year's cells are hidden the same way whichever
  request shows them (as `value` or as `previous`).
- The computation takes the whole family of places of the request at once (the county and all
  its townships; the aggregator's whole area), so a township reads the same hidden cells as its
  county and its neighbours do.
- Money given to people (allocations_value_fen) is hidden where the count of people it went to
  is; rates and shares, and growth on the year before, where a figure they come from is.
- Figures that do not count people (donations and their money, donors, projects, activities
  held, volunteer hours, stations and service points, station coverage) are shown as they are.
- A hidden count reads "<k" (its text, and `suppressed` says which numbers of a figure are
  hidden); a number hidden because of another one reads "x". Values are null. Which hidden count
  is small and which is hidden beside one is not told, on purpose (told apart, a total of 6 with
  one "<5" and one ">=5" would give both away).
- Pending corrections (a signed-off year's late events) are not shown outside the county, and
  the narrative is worded again from the hidden figures, so that it states no hidden number.
"""
from collections import defaultdict

from hub.access import reads_exact_figures
from hub.errors import Forbidden
from hub.i18n import _
from stats import domain
from stats.suppression import Line, suppress

DEPENDENT = "x"          # the text of a number hidden because one it is worked out from is
NOT_SHOWN = "为保护个人信息，部分数字未予公布。"     # the narrative's last sentence, when so
# figures that do not count people: shown as they are
NOT_PEOPLE = frozenset({
    "donations_received", "donations_money_fen", "donations_goods_value_fen",
    "providers_registered", "projects_created", "projects_budget_fen", "activities_held",
    "volunteer_hours", "stations_open", "service_points_open"})
# money given to people: hidden where the count of those it went to is (same cells)
FOLLOWS = {"allocations_value_fen": "allocations_person_times"}
# rates and shares: hidden where a figure they are worked out from is (a derived figure not
# named here is hidden altogether)
DERIVED_FROM = {"visits_on_time_rate": ("visits_on_time", "visits_done"),
                "volunteers_share_percent": ("volunteers_total",),
                "station_coverage_percent": (), "village_room_coverage_percent": ()}
# stock at the year's end - stock a year earlier = the year's flows, signed
BALANCES = {
    "clients_active": (("clients_registered", 1), ("clients_reopened", 1),
                       ("clients_transferred_in", 1), ("clients_closed", -1),
                       ("clients_transferred_out", -1)),
    "workers_active": (("workers_registered", 1), ("workers_left", -1)),
    "volunteers_total": (("volunteers_registered", 1),),
}


def outside(principal):
    """Whether the caller reads figures with small counts suppressed."""
    return not reads_exact_figures(principal)


def check_request(level=None, period=None):
    """Readers outside the county read years, and places down to the township."""
    if level == "village":
        raise Forbidden(_("Figures of a village are for the county's own staff."), fields={
            "level": [_("must be county or township for a reader outside the county")]})
    if period is not None and len(str(period).strip()) != 4:
        raise Forbidden(_("Figures of a month or a day are for the county's own staff."), fields={
            "period": [_("must be a year (2023) for a reader outside the county")]})


def check_report(config, code):
    if not config.is_province and len(code) == domain.CODE_LENGTHS["village"]:
        raise Forbidden(_("Figures of a village are for the county's own staff."), fields={
            "code": [_("must be a county or township for a reader outside the county")]})


def snapshot(tx):
    """Read everything of one answer from one snapshot (the family's figures and the place's),
    so that what is hidden is worked out from the numbers shown. The transaction's first
    statement."""
    tx.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")


# -- the answers ---------------------------------------------------------------------------------
def protect_stats(tx, config, answer):
    """GET /stats as a reader outside the county sees it (the answer is changed in place)."""
    hidden = Hidden(tx, config, answer["code"], int(answer["period"]))
    place, cur, prev = answer["code"], answer["period"], answer["previous_period"]
    hidden.mask(answer["figures"], place, cur, prev)
    for dimension, values in (answer.get("breakdown") or {}).items():
        for value, figures in values.items():
            pick = (value, "") if dimension == "category" else ("", value)
            hidden.mask(figures, place, cur, prev, pick)
    answer.pop("pending_corrections", None)
    answer["suppression"] = hidden.legend()
    return answer


def protect_report(tx, config, report):
    """GET /reports/annual as a reader outside the county sees it, its narrative worded from the
    hidden figures (the report is changed in place)."""
    year = report["year"]
    hidden = Hidden(tx, config, report["code"], year)
    hidden.mask(report["figures"], report["code"], str(year), str(year - 1))
    text = domain.narrative(year, report["level"], report["name"], report["figures"],
                            report["ratings"])
    if hidden.hid_any:
        subject = f"{year}年，{domain.subject_name(report['level'], report['name'])}"
        text = text.replace(f"{subject}暂无统计数据。", f"{subject}暂无可公布的统计数据。")
        text += NOT_SHOWN
    report["narrative"] = text
    report["suppression"] = hidden.legend()
    return report


# -- working out what is hidden ------------------------------------------------------------------
class Hidden:
    """The hidden cells of a family of places for a year and the year before, and masking."""

    def __init__(self, tx, config, code, year, k=None):
        self.k = k or config.suppression_k
        self.small = f"<{self.k}"
        self.hid_any = False
        lines_between = family(tx, config, code)
        places = sorted({p for parent, children in lines_between for p in (parent, *children)})
        self.places = set(places)
        periods = (str(year), str(year - 1))
        rows = read_family(tx, places, periods)
        self.cells = set()
        for period in periods:
            values = {}
            lines = []
            for place in places:
                cells = place_cells(*rows[(place, period)])
                values.update({(place, period) + key: n for key, n in cells.items()})
                lines += place_lines(place, period, cells)
            keys = {key[2:] for key in values}
            for parent, children in lines_between:
                for key in keys:
                    lines.append(Line(tuple((c, period) + key for c in children),
                                      (parent, period) + key))
            self.cells |= set(suppress(values, lines, self.k))

    def legend(self):
        return {"k": self.k, "count": self.small, "dependent": DEPENDENT}

    def hides(self, place, period, key, category="", group="", detail=""):
        """Whether a plain figure's cell is hidden."""
        return (place, period, key, category, group, detail) in self.cells

    def mask(self, figures, place, cur, prev, pick=("", "")):
        """Null every hidden number of the figures ({key: entry}, as answers hold them) and mark
        it in the entry's `suppressed` ({path: text}); the entry's text too."""
        if place not in self.places:        # never shown unprotected (family() includes it)
            raise RuntimeError(f"{place} is not among the places protected together")
        for key, entry in figures.items():
            marks = {}
            if key in domain.DERIVED_LABELS and key != "person_times":
                sources = DERIVED_FROM.get(key)
                for field, period in (("value", cur), ("previous", prev)):
                    if sources is None or any(self.hides(place, period, s, *pick)
                                              for s in sources):
                        marks[field] = DEPENDENT
            elif key not in NOT_PEOPLE:
                marks = self._counts(key, entry, place, cur, prev, pick)
            if "value" in marks or "previous" in marks:
                marks["growth_percent"] = DEPENDENT
            for field in ("value", "previous", "growth_percent"):
                if field in marks and field in entry:
                    entry[field] = None
            if "value" in marks:
                entry["text"] = marks["value"]
            if marks:
                entry["suppressed"] = marks
                self.hid_any = True

    def _counts(self, key, entry, place, cur, prev, pick):
        """The marks of a count's entry (or of money that follows a count), its `by`,
        `by_category` and `by_group` numbers nulled."""
        text = DEPENDENT if key in FOLLOWS else self.small
        cell = FOLLOWS.get(key, key)
        marks = {}
        for field, period in (("value", cur), ("previous", prev)):
            if self.hides(place, period, cell, *pick):
                marks[field] = text
        for dim, values in (entry.get("by") or {}).items():
            for value, both in values.items():
                for field, period in (("value", cur), ("previous", prev)):
                    if key == "person_times":       # its sources are the figures themselves
                        hidden = self.hides(place, period, domain.PERSON_TIME_SOURCES[value],
                                            *pick)
                    else:
                        hidden = self.hides(place, period, cell, *pick, f"{dim}:{value}")
                    if hidden:
                        marks[f"by.{dim}.{value}.{field}"] = text
                        both[field] = None
        for dim, cut in (("by_category", lambda v: (v, "")), ("by_group", lambda v: ("", v))):
            for value in entry.get(dim) or {}:
                if self.hides(place, cur, cell, *cut(value)):
                    marks[f"{dim}.{value}"] = text
                    entry[dim][value] = None
        return marks


def family(tx, config, code):
    """The places whose figures are protected together with `code`'s: [(parent, [children])];
    `code` is always one of them (a place known from its figures alone is a child of the
    family's root)."""
    if not config.is_province:
        county = code[:6]
        towns = [r["code"] for r in tx.all("SELECT code FROM stats_places WHERE level = "
                                           "'township' AND county_code = %s", (county,))]
        lines = [(county, sorted(set(towns) | ({code} if code != county else set())))]
    else:
        root = config.province_code
        prefix = root[:2] if config.role == "province" else root[:4]
        counties = {r["code"] for r in tx.all(
            "SELECT code FROM stats_places WHERE level = 'county' AND code LIKE %(p)s UNION "
            "SELECT county_code FROM stats_links WHERE county_code LIKE %(p)s",
            {"p": prefix + "%"})}
        if config.role != "province":
            lines = [(root, sorted(counties))]
        else:
            prefectures = defaultdict(list)
            for county in sorted(counties):
                prefectures[domain.prefecture_of(county)].append(county)
            lines = [(root, sorted(prefectures))] + sorted(prefectures.items())
    if not any(code == parent or code in children for parent, children in lines):
        lines[0] = (lines[0][0], sorted(lines[0][1] + [code]))
    return lines


FAMILY_FLOWS = """SELECT place_code, period, measure, category, age_group, detail, n
                  FROM stats_rollup WHERE place_code = ANY(%(places)s) AND kind = 'y'
                  AND period = ANY(%(periods)s)"""
FAMILY_STOCKS = """SELECT place_code, measure, category, age_group, detail,
                          sum(n) FILTER (WHERE period <= %(cur)s)::bigint AS cur,
                          sum(n) FILTER (WHERE period <= %(prev)s)::bigint AS prev
                   FROM stats_rollup WHERE place_code = ANY(%(places)s) AND kind = 'y'
                   AND measure = ANY(%(measures)s) AND period <= %(cur)s
                   GROUP BY place_code, measure, category, age_group, detail"""


def read_family(tx, places, periods):
    """{(place, year): (flows, stocks)} for every place of the family, as figures.read_rows
    reads one place's year (and the year before)."""
    cur, prev = periods
    out = {(p, y): (defaultdict(int), defaultdict(int)) for p in places for y in periods}
    for r in tx.all(FAMILY_FLOWS, {"places": places, "periods": list(periods)}):
        out[(r["place_code"], r["period"])][0][
            (r["measure"], r["category"], r["age_group"], r["detail"])] = r["n"]
    for r in tx.all(FAMILY_STOCKS, {"places": places, "cur": cur, "prev": prev,
                                    "measures": list(domain.STOCK_MEASURES)}):
        key = (r["measure"], r["category"], r["age_group"], r["detail"])
        out[(r["place_code"], cur)][1][key] = r["cur"] or 0
        out[(r["place_code"], prev)][1][key] = r["prev"] or 0
    return out


def place_cells(flows, stocks):
    """{(figure, category, group, detail): n} of one place's year: the counts of people its
    answers show (a figure, by one category or one age group, or by one detail), person-times
    included."""
    cells = defaultdict(int)
    for figure in domain.FIGURES:
        if figure.key in NOT_PEOPLE or figure.key in FOLLOWS:
            continue
        rows = stocks if figure.stock else flows
        for (measure, category, group, detail), n in rows.items():
            if measure != figure.measure or (category and group) or (detail and (category or
                                                                                  group)):
                continue
            if n:
                cells[(figure.key, category, group, detail)] += n
    for (key, category, group, detail), n in list(cells.items()):
        if key in domain.PERSON_TIME_SOURCES.values() and not detail:
            cells[("person_times", category, group, "")] += n
    return {key: n for key, n in cells.items() if n}


def place_lines(place, period, cells):
    """The lines within one place's year: each figure and its breakdowns, person-times and their
    sources, and each stock and the flows that move it."""
    parts = defaultdict(lambda: defaultdict(list))   # figure -> breakdown -> its cells
    for key in cells:
        figure, category, group, detail = key
        if category:
            parts[figure]["category"].append(key)
        elif group:
            parts[figure]["group"].append(key)
        elif detail:
            parts[figure][detail.partition(":")[0]].append(key)
        else:
            parts[figure]

    def cell(key):
        return (place, period) + key
    lines = []
    for figure, breakdowns in parts.items():
        total = cell((figure, "", "", ""))
        for members in breakdowns.values():
            lines.append(Line(tuple(cell(k) for k in members), total))
    picks = {key[1:3] for key in cells if key[0] == "person_times"}
    sources = domain.PERSON_TIME_SOURCES.values()
    for category, group in picks:
        lines.append(Line(tuple(cell((s, category, group, "")) for s in sources),
                          cell(("person_times", category, group, ""))))
    for stock, flows in BALANCES.items():
        members = (cell((stock, "", "", "")),) + tuple(cell((f, "", "", "")) for f, _ in flows)
        lines.append(Line(members, signs=(1,) + tuple(-sign for _, sign in flows)))
    return lines
