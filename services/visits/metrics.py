"""The visits service's Prometheus metrics: open visits by township, lateness, and the sweep."""
from prometheus_client import Counter, Gauge, Histogram

from visits.domain import ESCALATION_LEVELS

VISITS_DUE = Gauge(
    "hub_visits_due", "Visits due now (past their due date, within the grace period), by township",
    ["township"])
VISITS_OVERDUE = Gauge(
    "hub_visits_overdue", "Overdue visits by township and escalation level (none, township, county)",
    ["township", "escalation"])
VISITS_UNASSIGNED = Gauge(
    "hub_visits_unassigned", "Open visits no worker could take (every worker at weekly capacity)",
    ["township"])
COMPLETION_DELAY = Histogram(
    "hub_visit_completion_delay_days", "Days between a visit's due date and the visit (0 if early)",
    ["kind"], buckets=(0, 1, 3, 7, 14, 30, 60, 90, 180))
ESCALATIONS = Counter(
    "hub_visit_escalations_total", "Overdue visits escalated, by level", ["level"])
SWEEP_SECONDS = Histogram(
    "hub_visit_sweep_duration_seconds", "Time one overdue sweep took",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))


def set_open_visits(county, rows):
    """Set the gauges from rows of (township_code, status, escalation_level, unassigned, n);
    townships with none read 0."""
    due, overdue, unassigned = {}, {}, {}
    for r in rows:
        town = r["township_code"]
        if r["status"] == "due":
            due[town] = due.get(town, 0) + r["n"]
        elif r["status"] == "overdue":
            key = (town, r["escalation_level"])
            overdue[key] = overdue.get(key, 0) + r["n"]
        if r["unassigned"]:
            unassigned[town] = unassigned.get(town, 0) + r["n"]
    for town in county.townships:
        VISITS_DUE.labels(town).set(due.get(town, 0))
        VISITS_UNASSIGNED.labels(town).set(unassigned.get(town, 0))
        for level, name in enumerate(ESCALATION_LEVELS):
            VISITS_OVERDUE.labels(town, name).set(overdue.get((town, level), 0))
