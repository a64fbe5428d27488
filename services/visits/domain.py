"""The visits service's rules: the visit policy (strictest wins), due dates, and who takes a visit.

Pure functions and values only (no database, no HTTP), so each rule is unit-tested on its own.
Whether an open visit is scheduled, due or overdue, and its escalation level, is decided
set-based in SQL by the sweep (visits/sweep.py) from the same policy values.
"""
import heapq
from dataclasses import dataclass
from datetime import date, timedelta

from contracts.events.visits import (  # noqa: F401  (the contract's words, used as the rules')
    ACTIVITY_KINDS,
    CANCEL_REASONS,
    ESCALATION_LEVELS,
    MISSED_REASONS,
    MODES,
    NEED_KINDS,
    OPEN_STATUSES,
    SCHEDULE_REASONS,
    STATUSES,
    VISIT_KINDS,
)
from hub.i18n import _

WORKER_KINDS = ("social_worker", "volunteer")


@dataclass(frozen=True)
class Policy:
    """A county's visit policy: how often each client is visited, and when lateness escalates."""
    risk_levels: dict            # risk level -> interval in days (every level present)
    categories: dict             # category -> at most this many days between visits
    first_visit_days: dict       # risk level -> first visit due within this many days
    grace_days: int              # a visit is overdue once this many days past its due date
    missed_retry_days: int       # after a missed visit, try again within this many days
    township_after_days: int     # overdue more than this many days: escalate to the township
    county_after_days: int       # ... and more than this many: to the county

    @classmethod
    def from_document(cls, doc):
        return cls(dict(doc["risk_levels"]), dict(doc.get("categories", {})),
                   dict(doc.get("first_visit_days", {})), int(doc["grace_days"]),
                   int(doc["missed_retry_days"]), int(doc["escalation"]["township_after_days"]),
                   int(doc["escalation"]["county_after_days"]))

    def to_document(self):
        return {"risk_levels": dict(self.risk_levels), "categories": dict(self.categories),
                "first_visit_days": dict(self.first_visit_days), "grace_days": self.grace_days,
                "missed_retry_days": self.missed_retry_days,
                "escalation": {"township_after_days": self.township_after_days,
                               "county_after_days": self.county_after_days}}

    # -- intervals ---------------------------------------------------------------------------
    def interval_days(self, risk_level, categories):
        """Days between visits: every rule that applies gives a maximum; the strictest wins."""
        limits = [self.risk_levels[risk_level]]
        limits += [self.categories[c] for c in categories if c in self.categories]
        return min(limits)

    def first_due(self, risk_level, categories, registered_on):
        """A new (or reopened) client's first visit: within the level's first-visit days if it
        has one (critical: 1, i.e. within 24 hours), never later than one interval."""
        days = self.interval_days(risk_level, categories)
        first = self.first_visit_days.get(risk_level)
        return registered_on + timedelta(days=days if first is None else min(first, days))

    def next_due(self, risk_level, categories, visited_on):
        """After a visit, the next one is due one interval later."""
        return visited_on + timedelta(days=self.interval_days(risk_level, categories))

    def retry_due(self, risk_level, categories, missed_on):
        """After a missed visit, try again soon: the retry days, or the interval if shorter."""
        days = min(self.missed_retry_days, self.interval_days(risk_level, categories))
        return missed_on + timedelta(days=days)

    def rescheduled_due(self, risk_level, categories, last_visit_on, current_due, changed_on,
                        *, risk_changed=False):
        """The open visit's due date after a change of risk, categories or policy on `changed_on`.

        One interval after the last visit (or the plan's start), but never before the change
        itself; a risk level with a first-visit rule (critical) makes it due within those days
        of the change. A visit already due when the change happened keeps its date: lateness is
        never erased by rescheduling.
        """
        if current_due <= changed_on:
            return current_due
        due = max(last_visit_on + timedelta(days=self.interval_days(risk_level, categories)),
                  changed_on)
        first = self.first_visit_days.get(risk_level)
        if risk_changed and first is not None:
            due = min(due, changed_on + timedelta(days=first))
        return due


def policy_errors(doc):
    """Field errors of a policy document beyond its schema ({} when it is consistent)."""
    errors = {}
    esc = doc["escalation"]
    if esc["county_after_days"] <= esc["township_after_days"]:
        errors["escalation"] = [_("county_after_days must be more than township_after_days")]
    if doc["grace_days"] > esc["township_after_days"]:
        errors["grace_days"] = [_("must not exceed escalation.township_after_days")]
    return errors


def week_start(day):
    """The Monday of the ISO week a day falls in (weekly capacity is counted per such week)."""
    return day - timedelta(days=day.weekday())


def round_due_dates(opened_on, deadline):
    """The dates a verification visit may be due on: the end of each week of the round, the
    deadline last, so visits spread over the round rather than piling up on its last week."""
    dates, day = [], week_start(opened_on) + timedelta(days=6)
    while day < deadline:
        if day >= opened_on:
            dates.append(day)
        day += timedelta(days=7)
    return dates + [deadline]


class StationLoads:
    """Workers' capacities and loads, to give each visit to a worker of its station.

    `workers` maps worker id -> (township code, weekly capacity); `week_load` maps
    (worker id, week start) -> visits that week; `open_load` maps worker id -> open visits.
    `assign` picks, for the first candidate date in whose week anyone has room: the preferred
    worker if they have room, else the station's worker with the fewest open visits (then the
    fewest that week, then the lowest id). Loads are updated as visits are given out.
    """

    def __init__(self, workers, week_load=None, open_load=None):
        self.capacity = {w: cap for w, (_, cap) in workers.items()}
        self.station = {}
        for w, (township, _) in sorted(workers.items()):
            self.station.setdefault(township, []).append(w)
        self.week_load = dict(week_load or {})
        self.open_load = dict(open_load or {})
        self._heaps = {}    # (township, week) -> heap of (open, week load, rank, worker)

    def assign(self, township, candidates, preferred=None):
        """(worker id or None, due date) for a visit that may fall due on any of `candidates`."""
        for due in candidates:
            week = week_start(due)
            if preferred in self.capacity and preferred in self.station.get(township, ()) \
                    and self.week_load.get((preferred, week), 0) < self.capacity[preferred]:
                pick = preferred
            else:
                pick = self._least_loaded(township, week)
            if pick is not None:
                self.week_load[(pick, week)] = self.week_load.get((pick, week), 0) + 1
                self.open_load[pick] = self.open_load.get(pick, 0) + 1
                return pick, due
        return None, candidates[-1]

    def _least_loaded(self, township, week):
        """The station's worker with room that week and the least load (a heap per station and
        week; an entry whose loads changed since it was pushed is refreshed when it surfaces)."""
        heap = self._heaps.get((township, week))
        if heap is None:
            heap = [(self.open_load.get(w, 0), self.week_load.get((w, week), 0), rank, w)
                    for rank, w in enumerate(self.station.get(township, ()))]
            heapq.heapify(heap)
            self._heaps[(township, week)] = heap
        while heap:
            open_n, week_n, rank, worker = heap[0]
            now = (self.open_load.get(worker, 0), self.week_load.get((worker, week), 0))
            if now[1] >= self.capacity[worker]:
                heapq.heappop(heap)                         # full that week
            elif now != (open_n, week_n):
                heapq.heapreplace(heap, (*now, rank, worker))
            else:
                return worker
        return None

    def has_room(self, worker, due):
        return self.week_load.get((worker, week_start(due)), 0) < self.capacity.get(worker, 0)


def today():
    return date.today()
