"""The statistics rules, pure: what each event contributes, when and where it lands, the figures
derived from it, and how Chinese reports word them ("2万余元", "同比增长40%", "16.42%").

A *fact* is `(key, n)` with key `(measure, day, county, township, village, categories, group,
details)`: `n` added to `measure` on the event's effective `day` at its places, counted under
every category of the client (and under none), their age group (and none), and each detail such
as `risk:high` or `level:senior` (and none). The rollups add facts up by place x period.

Most facts come from one event alone. Two kinds of figure are *stocks* that depend on an
entity's history: active clients (from all of a client's events) and open overdue visits. Their
contribution is computed from the whole history, so the result does not depend on the order in
which events arrive: applying an event adds contribution(history + event) - contribution(history).
Certified social workers are a stock too, but a certificate event carries its holder's timeline
before and after it, so its share is their difference and nothing is kept between events.
"""
from collections import Counter, namedtuple
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache

from contracts.events.stats import RATINGS
from hub.i18n import _

AGE_GROUP_NAMES = {"elderly": "老年人", "child": "儿童", "other": "其他"}
LEVELS = ("province", "prefecture", "county", "township", "village")
CODE_LENGTHS = {"county": 6, "township": 9, "village": 12, "province": 6, "prefecture": 6}
PERIOD_KINDS = {4: "y", 7: "m", 10: "d"}           # length of "2023", "2023-05", "2023-05-14"

FactKey = namedtuple("FactKey", "measure day county township village categories group details")


def fact(measure, day, place, categories=(), group="", details=(), n=1):
    county, township, village = place
    return FactKey(measure, day, county, township or "", village or "", tuple(categories),
                   group or "", tuple(details)), n


# -- where an event happened ------------------------------------------------------------------
@lru_cache(maxsize=4096)
def _county_in_source(source):
    parts = source.split("/")
    if len(parts) > 2 and len(parts[2]) == 6 and parts[2].isdigit():
        return parts[2]
    return None


def county_of(event):
    """The county an event comes from: its source `/hub/<county>/<service>`, else its data."""
    county = _county_in_source(str(event.get("source", "")))
    if county:
        return county
    data = event.get("data") or {}
    code = data.get("county_code") or data.get("township_code") or data.get("village_code") or ""
    return code[:6]


def prefecture_of(county_code):
    """The prefecture (市) a county belongs to: the first four digits of its code, then 00
    (GB/T 2260: 341721 东至县 is in 341700 池州市)."""
    return county_code[:4] + "00"


def place_of(event, township_key="township_code", village_key="village_code"):
    data = event["data"]
    return county_of(event), data.get(township_key) or "", data.get(village_key) or ""


def as_date(value):
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def as_time(value):
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))


# -- facts of one event -----------------------------------------------------------------------
def _client_flow(measure, detail=None):
    """A client event counted once, with its categories, age group and one detail (label, field)."""
    def extract(event):
        d = event["data"]
        value = d.get(detail[1]) if detail else None     # an aggregator keeps no risk level
        details = (f"{detail[0]}:{value}",) if value else ()
        return [fact(measure, as_date(d["effective_date"]), place_of(event), d["categories"],
                     d["age_group"], details)]
    return extract


def _transferred(event):
    d = event["data"]
    day, cats, grp = as_date(d["effective_date"]), d["categories"], d["age_group"]
    county = county_of(event)
    return [fact("clients.transferred_in", day,
                 (county, d["township_code"], d.get("village_code")), cats, grp),
            fact("clients.transferred_out", day,
                 (county, d["previous_township_code"], d.get("previous_village_code")), cats, grp)]


def _visit_completed(event):
    d = event["data"]
    day, place = as_date(d["visited_on"]), place_of(event)
    details = (f"mode:{d['mode']}", f"kind:{d['kind']}")
    facts = [fact("visits.done", day, place, d["categories"], d["age_group"], details)]
    if d["delay_days"] <= 0:
        facts.append(fact("visits.on_time", day, place, d["categories"], d["age_group"], details))
    return facts


def overdue_day(data):
    """The day a visit was found overdue: its due date plus the days it was overdue then."""
    return as_date(data["due_on"]) + timedelta(days=int(data["days_overdue"]))


def _visit_simple(measure, day_key, detail_key=None):
    def extract(event):
        d = event["data"]
        day = overdue_day(d) if day_key is None else as_date(d[day_key])
        details = (f"{detail_key}:{d[detail_key]}",) if detail_key else ()
        return [fact(measure, day, place_of(event), (), "", details)]
    return extract


def _need(measure):
    def extract(event):
        d = event["data"]
        return [fact(measure, as_date(d["effective_date"]), place_of(event), d["categories"],
                     d["age_group"], (f"kind:{d['kind']}",))]
    return extract


def _donation(event):
    d = event["data"]
    day, place = as_date(d["effective_date"]), place_of(event)
    source = (f"provider:{d['provider_kind']}", f"five:{d['five_society']}")
    facts = [fact("donations.received", day, place, details=source + (f"kind:{d['kind']}",))]
    if d["kind"] == "money":
        facts.append(fact("donations.money_fen", day, place, details=source,
                          n=d["amount_fen"] or 0))
    else:
        facts.append(fact("donations.goods_value_fen", day, place, details=source,
                          n=d["value_fen"]))
    return facts


def _allocation(sign):
    def extract(event):
        d = event["data"]
        day, place = as_date(d["allocated_on"]), place_of(event)
        cats, grp, kind = d["categories"], d["age_group"], (f"kind:{d['kind']}",)
        facts = [fact("allocations.person_times", day, place, cats, grp, kind, sign),
                 fact("allocations.value_fen", day, place, cats, grp, kind, sign * d["value_fen"])]
        if sign < 0:
            facts.append(fact("allocations.reversed", as_date(d["effective_date"]), place, cats,
                              grp, (f"reason:{d['reason']}",)))
        return facts
    return extract


def _referral_created(event):
    d = event["data"]
    return [fact("referrals.created", as_date(d["effective_date"]), place_of(event),
                 d["categories"], d["age_group"], (f"kind:{d['kind']}",))]


def _referral_status(event):
    d = event["data"]
    day, place, cats, grp = (as_date(d["effective_date"]), place_of(event), d["categories"],
                             d["age_group"])
    return [fact(f"referrals.{d['status']}", day, place, cats, grp, (f"kind:{d['kind']}",))]


def _activity(event):
    d = event["data"]
    day, place = as_date(d["held_on"]), place_of(event)
    facts = [fact("activities.held", day, place, details=(f"kind:{d['kind']}",))]
    people = d["participants"]
    for p in people:
        facts.append(fact("activities.person_times", day, place, p["categories"], p["age_group"]))
    # attendees who are not registered clients: a headcount, by age group and sex where known
    cells = attendee_cells(d.get("attendees") or {})
    for group, sex, n in cells:
        facts.append(fact("activities.person_times", day, place, group=group, n=n))
        facts.append(fact("activities.attendees", day, place, group=group,
                          details=(f"sex:{sex}",) if sex else (), n=n))
    unnamed = int(d["person_times"]) - len(people) - sum(n for _, _, n in cells)
    if unnamed > 0:   # person-times counted without a registered client behind them
        facts.append(fact("activities.person_times", day, place, n=unnamed))
    return facts


def attendee_cells(attendees):
    """An activity's headcount of attendees as (age group, sex, n) cells ("" where not known)
    whose sums by age group and by sex are the counts given: the two are known apart, so the
    cells pair them off in order; the figures only ever read their sums."""
    total = int(attendees.get("total") or 0)
    margins = []
    for counts in (attendees.get("by_age_group") or {}, attendees.get("by_sex") or {}):
        known = [[key, int(n)] for key, n in sorted(counts.items()) if int(n) > 0]
        margins.append(known + [["", max(0, total - sum(n for _, n in known))]])
    groups, sexes = margins
    cells, i, j = [], 0, 0
    while i < len(groups) and j < len(sexes):
        n = min(groups[i][1], sexes[j][1])
        if n > 0:
            cells.append((groups[i][0], sexes[j][0], n))
        groups[i][1] -= n
        sexes[j][1] -= n
        i += groups[i][1] <= 0
        j += sexes[j][1] <= 0
    return cells


def _worker(event):
    d = event["data"]
    day, place, level = as_date(d["effective_date"]), place_of(event), d["certificate_level"]
    kind = event["type"]
    if kind.startswith("worker.registered"):
        facts = [fact("workers.registered", day, place), fact("workers.active", day, place)]
        if level:
            facts.append(fact("workers.certified", day, place, details=(f"level:{level}",)))
        return facts
    if kind.startswith("worker.left"):
        facts = [fact("workers.left", day, place), fact("workers.active", day, place, n=-1)]
        if level:
            facts.append(fact("workers.certified", day, place, details=(f"level:{level}",), n=-1))
        return facts
    facts = [fact("workers.certifications", day, place, details=(f"level:{level}",)),
             fact("workers.certified", day, place, details=(f"level:{level}",))]
    if d["previous_level"]:
        facts.append(fact("workers.certified", day, place,
                          details=(f"level:{d['previous_level']}",), n=-1))
    return facts


def _certificate(event):
    """A roster change counts as the difference between the holder's timeline after it and
    before it: summed over a holder's events in any order, that is their whole timeline's."""
    d, county = event["data"], county_of(event)
    return delta(holder_contribution(county, d.get("previous_timeline")),
                 holder_contribution(county, d["timeline"]))


CERTIFICATE_LEVELS = ("assistant", "intermediate", "senior")


def holder_contribution(county, timeline):
    """The certified social workers stock of one holder's timeline (certificate.* events): from
    1 January of the year of their first certificate (only the year is known), under the highest
    level passed by each year, at the township they worked in (none: the county level), until
    they left the area."""
    if not timeline:
        return []
    passed = [(e["passed_year"], CERTIFICATE_LEVELS.index(e["level"]), e["level"])
              for e in timeline["levels"]]
    start = date(min(year for year, _, _ in passed), 1, 1)
    places = [(as_date(p["since"]) if p["since"] else start, p) for p in timeline["places"]]
    days = sorted({start} | {date(year, 1, 1) for year, _, _ in passed}
                  | {day for day, _ in places if day > start})
    spans = []              # (from, (township, level) or None when away): where either changes
    for day in days:
        level = max((p for p in passed if p[0] <= day.year), key=lambda p: p[1])[2]
        where = [p for since, p in places if since <= day][-1]
        held = (where["township_code"] or "", level) if where["status"] == "holding" else None
        if not spans or spans[-1][1] != held:
            spans.append((day, held))
    facts = []
    for i, (day, held) in enumerate(spans):
        if held is None:
            continue
        township, level = held
        place, detail = (county, township, ""), (f"level:{level}",)
        facts.append(fact("certificates.held", day, place, details=detail))
        if i + 1 < len(spans):
            facts.append(fact("certificates.held", spans[i + 1][0], place, details=detail, n=-1))
    return facts


def _volunteer_hours(event):
    d = event["data"]
    return [fact("volunteers.minutes", as_date(d["effective_date"]), place_of(event),
                 details=(f"activity:{d['activity']}",), n=int(d["minutes"]))]


def _simple(measure, day_key="effective_date", details=()):
    def extract(event):
        d = event["data"]
        return [fact(measure, as_date(d[day_key]), place_of(event),
                     details=tuple(f"{k}:{d[f]}" for k, f in details))]
    return extract


def _project(event):
    d = event["data"]
    day, place = as_date(d["effective_date"]), (county_of(event), "", "")
    return [fact("projects.created", day, place),
            fact("projects.budget_fen", day, place, n=int(d["budget_fen"]))]


def _nothing(event):
    return []


# event type -> what it contributes on its own (stateful parts are below)
EXTRACTORS = {
    "client.registered.v1": _client_flow("clients.registered", ("risk", "risk_level")),
    "client.closed.v1": _client_flow("clients.closed", ("reason", "reason")),
    "client.reopened.v1": _client_flow("clients.reopened"),
    "client.risk_changed.v1": _client_flow("clients.risk_changed", ("risk", "risk_level")),
    "client.transferred.v1": _transferred,
    "client.updated.v1": _nothing,
    "visit.completed.v1": _visit_completed,
    "visit.missed.v1": _visit_simple("visits.missed", "missed_on", "reason"),
    "visit.cancelled.v1": _visit_simple("visits.cancelled", "cancelled_on", "reason"),
    "visit.overdue.v1": _visit_simple("visits.overdue", None),
    "visit.escalated.v1": _visit_simple("visits.escalated", None, "level"),
    "visit.scheduled.v1": _nothing,
    "visit.risk_assessed.v1": _nothing,       # intake turns it into client.risk_changed
    "needs.identified.v1": _nothing,          # resources turns each into need.opened
    "need.opened.v1": _need("needs.opened"),
    "need.reopened.v1": _need("needs.reopened"),
    "need.met.v1": _need("needs.met"),
    "donation.received.v1": _donation,
    "allocation.made.v1": _allocation(1),
    "allocation.reversed.v1": _allocation(-1),
    "referral.created.v1": _referral_created,
    "referral.status_changed.v1": _referral_status,
    "activity.held.v1": _activity,
    "volunteer.registered.v1": _simple("volunteers.registered"),
    "volunteer.hours_logged.v1": _volunteer_hours,
    "worker.registered.v1": _worker,
    "worker.certified.v1": _worker,
    "worker.left.v1": _worker,
    "certificate.recorded.v1": _certificate,
    "certificate.changed.v1": _certificate,
    "provider.registered.v1": _simple("providers.registered",
                                      details=(("provider", "kind"), ("five", "five_society"))),
    "project.created.v1": _project,
    "verification.round_opened.v1": _nothing,
    "verification.round_closed.v1": _nothing,
    # stats' own: kept in tables of their own (ratings, sign-offs, places), not as facts
    "station.rated.v1": _nothing,
    # the station network's: their stocks (stations open) are each opening's (stats.network)
    "station.opened.v1": _nothing,
    "station.changed.v1": _nothing,
    "station.closed.v1": _nothing,
    "stats.signed_off.v1": _nothing,
    "stats.county_profile.v1": _nothing,
    # accounts': every service applies it (hub.inbox's chassis events); no figure
    "tokens.revoked.v1": _nothing,
}
CLIENT_TYPES = frozenset(k for k in EXTRACTORS if k.startswith("client."))
VISIT_FLAG_TYPES = frozenset({"visit.overdue.v1", "visit.completed.v1", "visit.missed.v1",
                              "visit.cancelled.v1"})


def handles(type_key):
    return type_key in EXTRACTORS


def facts_of(event):
    """The facts an event contributes by itself ([] for a type without figures)."""
    return EXTRACTORS[event["type"]](event)


# -- stocks: active clients ---------------------------------------------------------------------
@dataclass(frozen=True, order=True)
class ClientState:
    """A client as one event left them: active or not, where, in which categories."""
    at: datetime          # the event's time: the order of a client's events
    event_id: str
    day: date             # effective date
    active: bool
    county: str
    township: str
    village: str
    categories: tuple
    group: str
    risk: str


def client_state(event):
    d = event["data"]
    return ClientState(as_time(event["time"]), str(event["id"]), as_date(d["effective_date"]),
                       d["status"] == "active", county_of(event), d["township_code"],
                       d.get("village_code") or "", tuple(d["categories"]), d["age_group"],
                       d.get("risk_level") or "")     # an aggregator keeps neither (minimise.py)


def client_contribution(states):
    """Active-client facts of one client's history: each active state counts from its day until
    the next state's day (a later state's day may even come first; the sums stay right)."""
    ordered = sorted(states)
    facts = []
    for i, s in enumerate(ordered):
        if not s.active:
            continue
        place = (s.county, s.township, s.village)
        risk = (f"risk:{s.risk}",) if s.risk else ()
        facts.append(fact("clients.active", s.day, place, s.categories, s.group, risk))
        if i + 1 < len(ordered):
            facts.append(fact("clients.active", ordered[i + 1].day, place, s.categories, s.group,
                              risk, -1))
    return facts


# -- stocks: open overdue visits ----------------------------------------------------------------
@dataclass(frozen=True)
class VisitFlags:
    county: str
    township: str
    village: str
    overdue_on: date | None
    resolved_on: date | None


def visit_resolution_day(event):
    """The day a visit stopped being open, or None when the event cannot close an overdue visit
    (a visit done on time was never overdue: no row is kept for it)."""
    d, kind = event["data"], event["type"]
    if kind == "visit.completed.v1":
        return as_date(d["visited_on"]) if d["delay_days"] > 0 else None
    if kind == "visit.missed.v1":
        return as_date(d["missed_on"])
    if kind == "visit.cancelled.v1":
        return as_date(d["cancelled_on"])
    return None


def changes_visit_flags(event):
    """Whether a visit event can change its visit's flags: found overdue, or closed on a day of
    its own (a visit done on time leaves them as they are, whatever they are)."""
    return event["type"] == "visit.overdue.v1" or visit_resolution_day(event) is not None


def visit_flags_after(flags, event):
    """The visit's flags once this event is applied (None: nothing to keep)."""
    d = event["data"]
    county, township, village = place_of(event)
    if event["type"] == "visit.overdue.v1":
        day = overdue_day(d)
        overdue = min(day, flags.overdue_on) if flags and flags.overdue_on else day
        return VisitFlags(county, township, village, overdue, flags.resolved_on if flags else None)
    resolved = visit_resolution_day(event)
    if resolved is None:
        return flags
    return VisitFlags(county, township, village, flags.overdue_on if flags else None, resolved)


def visit_contribution(flags):
    if flags is None or flags.overdue_on is None:
        return []
    place = (flags.county, flags.township, flags.village)
    facts = [fact("visits.overdue_open", flags.overdue_on, place)]
    if flags.resolved_on is not None:
        facts.append(fact("visits.overdue_open", flags.resolved_on, place, n=-1))
    return facts


def delta(before, after):
    """after - before, as facts (zero sums dropped)."""
    total = Counter()
    for key, n in after:
        total[key] += n
    for key, n in before:
        total[key] -= n
    return [(k, n) for k, n in total.items() if n]


# -- periods ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Period:
    text: str        # 2023 | 2023-05 | 2023-05-14
    kind: str        # y | m | d
    start: date
    end: date

    @property
    def year(self):
        return self.start.year

    def previous_year(self):
        """The same period a year earlier (29 February becomes the 28th)."""
        y = self.start.year - 1
        if self.kind == "y":
            return parse_period(f"{y:04d}")
        if self.kind == "m":
            return parse_period(f"{y:04d}-{self.start.month:02d}")
        leap_day = (self.start.month, self.start.day) == (2, 29)
        day = 28 if leap_day else self.start.day
        return parse_period(f"{y:04d}-{self.start.month:02d}-{day:02d}")


NOT_A_PERIOD = _("must be a year (2023), a month (2023-05) or a day (2023-05-14)")


def parse_period(text):
    """A Period from "2023", "2023-05" or "2023-05-14"; ValueError when it is none of them."""
    text = str(text).strip()
    kind = PERIOD_KINDS.get(len(text))
    if kind is None:
        raise ValueError(NOT_A_PERIOD)
    try:
        if kind == "y":
            start = date(int(text), 1, 1)
            return Period(text, kind, start, date(start.year, 12, 31))
        if kind == "m":
            y, m = text.split("-")
            start = date(int(y), int(m), 1)
            following = date(start.year + (start.month == 12), start.month % 12 + 1, 1)
            return Period(text, kind, start, following - timedelta(days=1))
        day = date.fromisoformat(text)
        return Period(text, kind, day, day)
    except ValueError:
        raise ValueError(NOT_A_PERIOD)


# -- figures ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Figure:
    key: str
    label: str           # 中文
    measure: str
    stock: bool          # a balance at the period's end rather than a sum over the period
    unit: str            # 人, 次, 人次, 分 (money), 小时 ...
    scale: float = 1     # volunteer minutes are shown in hours


FIGURES = (
    Figure("clients_registered", "新登记服务对象", "clients.registered", False, "人"),
    Figure("clients_closed", "结案服务对象", "clients.closed", False, "人"),
    Figure("clients_reopened", "重新开案服务对象", "clients.reopened", False, "人"),
    Figure("clients_transferred_in", "转入服务对象", "clients.transferred_in", False, "人"),
    Figure("clients_transferred_out", "转出服务对象", "clients.transferred_out", False, "人"),
    Figure("clients_risk_changed", "风险等级调整", "clients.risk_changed", False, "次"),
    Figure("clients_active", "在册服务对象", "clients.active", True, "人"),
    Figure("visits_done", "完成走访", "visits.done", False, "次"),
    Figure("visits_on_time", "按时完成走访", "visits.on_time", False, "次"),
    Figure("visits_missed", "未遇走访", "visits.missed", False, "次"),
    Figure("visits_cancelled", "取消走访", "visits.cancelled", False, "次"),
    Figure("visits_overdue", "逾期走访", "visits.overdue", False, "次"),
    Figure("visits_escalated", "逾期督办", "visits.escalated", False, "次"),
    Figure("visits_overdue_open", "逾期未完成走访", "visits.overdue_open", True, "次"),
    Figure("needs_opened", "新增需求", "needs.opened", False, "个"),
    Figure("needs_reopened", "重新开启需求", "needs.reopened", False, "个"),
    Figure("needs_met", "满足需求", "needs.met", False, "个"),
    Figure("donations_received", "接收捐赠", "donations.received", False, "笔"),
    Figure("donations_money_fen", "链接爱心资金", "donations.money_fen", False, "分"),
    Figure("donations_goods_value_fen", "捐赠物资估值", "donations.goods_value_fen", False, "分"),
    Figure("allocations_person_times", "发放人次", "allocations.person_times", False, "人次"),
    Figure("allocations_value_fen", "发放金额（含物资估值）", "allocations.value_fen", False, "分"),
    Figure("allocations_reversed", "撤销发放", "allocations.reversed", False, "笔"),
    Figure("referrals_created", "转介", "referrals.created", False, "次"),
    Figure("referrals_accepted", "转介已受理", "referrals.accepted", False, "次"),
    Figure("referrals_completed", "转介已完成", "referrals.completed", False, "次"),
    Figure("referrals_declined", "转介未受理", "referrals.declined", False, "次"),
    Figure("activities_held", "开展活动", "activities.held", False, "场"),
    Figure("activities_person_times", "活动参与", "activities.person_times", False, "人次"),
    Figure("activities_attendees", "活动参与群众（非登记对象）", "activities.attendees", False,
           "人次"),
    Figure("volunteers_registered", "新注册志愿者", "volunteers.registered", False, "人"),
    Figure("volunteers_total", "实名注册志愿者", "volunteers.registered", True, "人"),
    Figure("volunteer_hours", "志愿服务时长", "volunteers.minutes", False, "小时", 1 / 60),
    Figure("workers_registered", "新入职社工", "workers.registered", False, "人"),
    Figure("workers_left", "离职社工", "workers.left", False, "人"),
    Figure("workers_active", "在岗社工", "workers.active", True, "人"),
    Figure("workers_certified", "在岗持证社工", "workers.certified", True, "人"),
    Figure("certified_workers", "持证社工", "certificates.held", True, "人"),
    Figure("workers_certifications", "新取得证书", "workers.certifications", False, "人"),
    Figure("providers_registered", "新增爱心单位和个人", "providers.registered", False, "个"),
    Figure("projects_created", "公益创投项目", "projects.created", False, "个"),
    Figure("projects_budget_fen", "项目资金", "projects.budget_fen", False, "分"),
    # the station network (stats.network): open at the period's end; by.tier county, township,
    # village (社工室)
    Figure("stations_open", "社工站（室）", "stations.open", True, "个"),
    Figure("service_points_open", "志愿服务站点", "service_points.open", True, "个"),
)
FIGURES_BY_KEY = {f.key: f for f in FIGURES}
# 服务人次: each time a client receives something, from whichever figure counts it
PERSON_TIME_SOURCES = {"visit": "visits_done", "allocation": "allocations_person_times",
                       "referral": "referrals_completed", "activity": "activities_person_times"}
PERSON_TIME_MEASURES = tuple(FIGURES_BY_KEY[k].measure for k in PERSON_TIME_SOURCES.values())
STOCK_MEASURES = tuple(sorted({f.measure for f in FIGURES if f.stock}))
DERIVED_LABELS = {
    "person_times": ("服务人次", "人次"),
    "visits_on_time_rate": ("走访按时率", "%"),
    "volunteers_share_percent": ("志愿者占人口比例", "%"),
    "station_coverage_percent": ("乡镇社工站覆盖率", "%"),
    "village_room_coverage_percent": ("村（社区）社工室覆盖率", "%"),
}


def figure_values(flows, stocks, category="", group=""):
    """{figure: {"value": n, "by": {dim: {value: n}}}} from summed rows of one period.

    `flows` and `stocks` map (measure, category, age_group, detail) -> n; `category`/`group`
    pick a breakdown cell ("" = all clients).
    """
    cells = ({}, {})                     # flows, stocks: measure -> {detail: n}
    for table, rows in zip(cells, (flows, stocks)):
        for (measure, cat, grp, detail), n in rows.items():
            if cat == category and grp == group:
                table.setdefault(measure, {})[detail] = n
    out = {}
    for f in FIGURES:
        details = cells[f.stock].get(f.measure, {})
        entry = {"value": scaled(f, details.get("", 0))}
        by = {}
        for detail, n in details.items():
            if detail:
                dim, _, value = detail.partition(":")
                by.setdefault(dim, {})[value] = scaled(f, n)
        if by:
            entry["by"] = by
        out[f.key] = entry
    sources = {source: out[key]["value"] for source, key in PERSON_TIME_SOURCES.items()}
    out["person_times"] = {"value": sum(sources.values()), "by": {"source": sources}}
    return out


def scaled(figure, n):
    return round(n * figure.scale, 1) if figure.scale != 1 else n


def derived_values(values, population, townships, *, villages=0):
    """Rates and shares from the plain figures (None where the denominator is 0): of the
    `townships`, those with an open township station (one at most each: stats.network), and of
    the `villages`, those with an open room."""
    def value(key):
        return values[key]["value"]
    tiers = values["stations_open"].get("by", {}).get("tier", {})
    towns, rooms = tiers.get("township", 0), tiers.get("village", 0)
    return {
        "visits_on_time_rate": {"value": share(value("visits_on_time"), value("visits_done"))},
        "volunteers_share_percent": {"value": share(value("volunteers_total"), population),
                                     "population": population},
        "station_coverage_percent": {"value": share(towns, townships),
                                     "stations_open": towns, "townships": townships},
        "village_room_coverage_percent": {"value": share(rooms, villages),
                                          "rooms_open": rooms, "villages": villages},
    }


def share(part, whole, places=2):
    """part as a percentage of whole, rounded half up (None when whole is 0)."""
    if not whole:
        return None
    return float((Decimal(part) * 100 / Decimal(whole)).quantize(Decimal(1).scaleb(-places),
                                                                 rounding=ROUND_HALF_UP))


def growth(value, previous, places=2):
    """Growth on the previous period in percent (None when the previous value is 0 or missing)."""
    if value is None or not previous:
        return None
    return float((Decimal(value - previous) * 100 / Decimal(previous)).quantize(
        Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP))


def with_previous(current, previous):
    """Merge a period's figures with the year-earlier ones: value, previous, growth_percent."""
    merged = {}
    for key, cur in current.items():
        prev = previous.get(key, {})
        entry = dict(cur)
        entry["previous"] = prev.get("value")
        entry["growth_percent"] = growth(cur.get("value"), prev.get("value"))
        if "by" in cur:
            earlier = prev.get("by", {})
            entry["by"] = {dim: {k: {"value": v, "previous": earlier.get(dim, {}).get(k, 0)}
                                 for k, v in values.items()}
                           for dim, values in cur["by"].items()}
        merged[key] = entry
    return merged


# -- Chinese wording -------------------------------------------------------------------------
def approx_yuan(fen):
    """An amount in fen the way reports round it: 2,345,600 fen -> "2万余元", 52万 -> "50余万元",
    exactly 95万 -> "95万元", 8,650 yuan -> "8000余元". Negative amounts get a minus sign."""
    if fen < 0:
        return "-" + approx_yuan(-fen)
    yuan, cents = divmod(int(fen), 100)
    if yuan < 1000:
        return f"{yuan}元" if not cents else f"{fen / 100:.2f}元"
    for unit, name in ((100_000_000, "亿"), (10_000, "万"), (1, "")):
        if yuan >= unit:
            whole, rest = divmod(yuan, unit)
            break
    if unit == 1:                                  # 1000 - 9999 yuan: "8000余元"
        lead = 10 ** (len(str(yuan)) - 1)
        head, rest = divmod(yuan, lead)
        return f"{head * lead}元" if not rest and not cents else f"{head * lead}余元"
    if not rest and not cents:
        return f"{whole}{name}元"                  # an exact number of 万: "95万元"
    if whole < 10:
        return f"{whole}{name}余元"                # "2万余元"
    lead = 10 ** (len(str(whole)) - 1)
    return f"{whole // lead * lead}余{name}元"     # "50余万元"


def percent_text(value, places=2):
    """16.42 -> "16.42%", 40.0 -> "40%" (rounded half up to `places`, trailing zeros dropped)."""
    q = Decimal(str(value)).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    text = format(q, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return f"{text}%"


def value_text(figure_key, value):
    """A figure's value as a report shows it: money rounded the Chinese way, counts with units."""
    if value is None:
        return "—"
    if figure_key in DERIVED_LABELS:
        unit = DERIVED_LABELS[figure_key][1]
        return percent_text(value) if unit == "%" else f"{value}{unit}"
    figure = FIGURES_BY_KEY[figure_key]
    if figure.unit == "分":
        return approx_yuan(value)
    return f"{value}{figure.unit}"


# What a report of a whole area calls it: "全市实名注册志愿者达369320人，占全市人口总数的16.42%"
SCOPES = {"county": "全县", "prefecture": "全市", "province": "全省"}
# The figure of certified social workers the narrative words ("全市取得社会工作者职业水平证书的
# 人员已达到2104人，同比增长40%"): the roster's holders, each counted from the year they passed
# (certificate.* events); not workers_certified, the hub's own staff with a certificate.
CERTIFIED_WORKERS_FIGURE = "certified_workers"
# the figure of volunteer service points open at the period's end ("城乡社区志愿服务站点达711个"):
# the station network's (stats.network)
SERVICE_POINTS_FIGURE = "service_points_open"


def subject_name(level, name):
    """What the narrative calls the place: a township's station, a county or province by name."""
    return f"{name}社工站" if level == "township" else name


def narrative(year, level, name, figures, ratings=None):
    """The year's figures as a paragraph in the style of the seed reports (only what is not 0).

    "2023年，新开岭镇社工站链接爱心资金2万余元，为困境儿童发放43人次，为困难老人发放17人次。…"
    """
    def v(key):
        return (figures.get(key) or {}).get("value") or 0

    def by_category(key, category):
        return (figures.get(key, {}).get("by_category") or {}).get(category) or 0

    def by_group(key, group):
        return (figures.get(key, {}).get("by_group") or {}).get(group) or 0

    sentences = []
    giving = []
    if v("donations_money_fen") > 0:
        giving.append(f"链接爱心资金{approx_yuan(v('donations_money_fen'))}")
    children = by_category("allocations_person_times", "child_in_difficulty")
    elderly = by_group("allocations_person_times", "elderly")
    if children:
        giving.append(f"为困境儿童发放{children}人次")
    if elderly:
        giving.append(f"为困难老人发放{elderly}人次")
    if not children and not elderly and v("allocations_person_times") > 0:
        giving.append(f"发放爱心资金和物资{v('allocations_person_times')}人次")
    service = []
    if v("visits_done") > 0:
        rate = figures.get("visits_on_time_rate", {}).get("value")
        service.append(f"走访服务对象{v('visits_done')}次"
                       + (f"，按时率{percent_text(rate)}" if rate is not None else ""))
    if v("activities_held") > 0:     # (a figure suppressed outside the county is None: unsaid)
        served = v("activities_person_times")
        service.append(f"开展活动{v('activities_held')}场"
                       + (f"、服务{served}人次" if served else ""))
    if v("clients_active") > 0:
        service.append(f"年末在册服务对象{v('clients_active')}人")
    first = giving + service
    if first:
        sentences.append(f"{year}年，{subject_name(level, name)}" + "，".join(first) + "。")
    else:
        sentences.append(f"{year}年，{subject_name(level, name)}暂无统计数据。")
    scope = SCOPES.get(level)       # a whole area speaks as the seed's 玉溪 paragraph: 全市…
    certified = figures.get(CERTIFIED_WORKERS_FIGURE, {})
    if certified.get("value"):
        text = (f"{scope}取得社会工作者职业水平证书的人员已达到{certified['value']}人" if scope
                else f"持证社工{certified['value']}人")
        g = certified.get("growth_percent")
        if g is not None and g > 0:
            text += f"，同比增长{percent_text(g, 1)}"
        elif g is not None and g < 0:
            text += f"，同比下降{percent_text(-g, 1)}"
        sentences.append(text + "。")
    volunteers = v("volunteers_total")
    points = v(SERVICE_POINTS_FIGURE) if SERVICE_POINTS_FIGURE else 0
    if volunteers:
        text = (f"{scope}实名注册志愿者达{volunteers}人" if scope
                else f"实名注册志愿者{volunteers}人")
        pct = figures.get("volunteers_share_percent", {}).get("value")
        if pct is not None:
            text += f"，占{scope or ''}人口总数的{percent_text(pct)}"
        if points and scope:
            text += f"，城乡社区志愿服务站点达{points}个"
        sentences.append(text + "。")
    elif points and scope:
        sentences.append(f"{scope}城乡社区志愿服务站点达{points}个。")
    coverage = figures.get("station_coverage_percent", {})
    rooms = (figures.get("village_room_coverage_percent") or {}).get("rooms_open")
    rooms = f"建成村（社区）社工室{rooms}个" if rooms else ""
    if scope and coverage.get("townships"):
        if coverage["stations_open"] == coverage["townships"]:
            text = f"已实现{scope}{coverage['townships']}个乡镇社工站建设全覆盖"
        else:
            text = (f"{scope}{coverage['townships']}个乡镇中已有{coverage['stations_open']}"
                    "个建成社工站")
        sentences.append(text + (f"，{rooms}" if rooms else "") + "。")
    elif scope and rooms:
        sentences.append(f"{scope}{rooms}。")
    if ratings:
        rated = "、".join(f"{RATINGS[r]}{n}个" for r, n in ratings.items() if n)
        if rated:
            sentences.append(f"社工站年度评定：{rated}。")
    return "".join(sentences)
