"""Every copy counted against the truth: each service's tables, the county's figures, the
county's at its prefecture's and at the province's aggregator, and theirs in all, and the
plumbing that must be empty once the hub has caught up (parked and waiting events, unpublished
outbox rows).

`count(...)` returns one `Row` per check with what the truth says, what was found, and how many
were lost (missing) or doubled (found beyond the truth); `differences` keeps the rows that do not
agree.
"""
from dataclasses import dataclass
from datetime import date

import requests

from hub.auth import issue_token

FIGURES = ("clients_registered", "clients_closed", "clients_reopened", "clients_transferred_in",
           "clients_transferred_out", "clients_risk_changed", "clients_active", "visits_done",
           "allocations_person_times", "allocations_value_fen", "donations_received",
           "donations_money_fen", "providers_registered", "activities_held",
           "activities_person_times")


@dataclass
class Row:
    check: str
    truth: int
    found: int
    lost: int = 0
    doubled: int = 0

    @property
    def agrees(self):
        return self.truth == self.found and not self.lost and not self.doubled


def of_numbers(check, truth, found):
    return Row(check, truth, found, max(0, truth - found), max(0, found - truth))


def of_sets(check, truth, found):
    """Ids: those missing are lost, those beyond the truth (or there twice) are doubled."""
    found_set = set(found)
    return Row(check, len(truth), len(found), len(set(truth) - found_set),
               len(found_set - set(truth)) + len(found) - len(found_set))


def of_states(check, truth, found):
    """{id: state}: the ids as of_sets, and a state that differs counts as lost."""
    row = of_sets(check, truth, list(found))
    row.lost += sum(1 for k, v in truth.items() if k in found and found[k] != v)
    return row


def ids(rows):
    return [str(r[0]) for r in rows]


def table_rows(county, ledger):
    truth_status = {cid: c["status"] for cid, c in ledger.clients.items()}
    truth_village = {cid: c["village_code"] for cid, c in ledger.clients.items()}
    with county.db("intake") as conn:
        rows = conn.execute("SELECT id, status, village_code FROM clients").fetchall()
        yield of_states("intake clients (status)", truth_status, {str(r[0]): r[1] for r in rows})
        yield of_states("intake clients (village)", truth_village, {str(r[0]): r[2] for r in rows})
    for service, table in (("visits", "visit_clients"), ("resources", "client_view")):
        with county.db(service) as conn:
            rows = conn.execute(f"SELECT client_id, status, village_code FROM {table}").fetchall()
        yield of_states(f"{service} clients (status)", truth_status,
                        {str(r[0]): r[1] for r in rows})
        yield of_states(f"{service} clients (village)", truth_village,
                        {str(r[0]): r[2] for r in rows})
    with county.db("resources") as conn:
        allocations = conn.execute("SELECT id, value_fen FROM allocations "
                                   "WHERE status = 'active'").fetchall()
        donations = conn.execute("SELECT id, amount FROM donations").fetchall()
    yield of_sets("resources allocations", ledger.allocations, ids(allocations))
    yield of_numbers("resources allocations (fen)", sum(ledger.allocations.values()),
                     sum(r[1] for r in allocations))
    yield of_sets("resources donations", ledger.donations, ids(donations))
    with county.db("visits") as conn:
        done = conn.execute("SELECT id FROM visits WHERE status = 'done'").fetchall()
        held = conn.execute("SELECT a.id, count(p.client_id) FROM activities a JOIN "
                            "activity_participants p ON p.activity_id = a.id GROUP BY a.id"
                            ).fetchall()
    yield of_sets("visits completed", ledger.visits_done, ids(done))
    yield of_states("visits activities (participants)", ledger.activities,
                    {str(r[0]): r[1] for r in held})


def figures(settings, level, code):
    """The figures of this year that the hub's stats service answers for a place."""
    token = issue_token(settings, "kill-and-count", "county_admin")
    resp = requests.get(settings.service_url("stats") + "/api/v1/stats", timeout=10,
                        params={"level": level, "code": code, "period": str(date.today().year)},
                        headers={"Authorization": f"Bearer {token}"})
    resp.raise_for_status()
    return {k: v["value"] for k, v in resp.json()["figures"].items()}


def figure_rows(where, settings, level, code, ledger):
    truth = {**ledger.counts, "clients_active": sum(
        1 for c in ledger.clients.values() if c["status"] == "active")}
    found = figures(settings, level, code)
    for key in FIGURES:
        yield of_numbers(f"{where} {key}", truth.get(key, 0), found.get(key, 0))


def session_rows(county, ledger):
    """Every service refuses each closed session's token (401) and still takes each open one:
    GET /api/v1/audit, which every service has, answers 403 to a station worker's live token."""
    for service in county.data_services:
        url = county.settings.service_url(service) + "/api/v1/audit"

        def status(token):
            return requests.get(url, headers={"Authorization": f"Bearer {token}"},
                                timeout=10).status_code
        yield of_numbers(f"{service}: closed sessions refused", len(ledger.sessions_closed),
                         sum(status(t) == 401 for t in ledger.sessions_closed))
        yield of_numbers(f"{service}: open sessions taken", len(ledger.sessions_open),
                         sum(status(t) == 403 for t in ledger.sessions_open))


def plumbing_rows(hubs):
    """Per hub: events waiting for retry or parked, and outbox rows not yet published."""
    waiting = parked = unpublished = 0
    for hub in hubs:
        for service in hub.data_services:
            with hub.db(service) as conn:
                w, p = conn.execute("SELECT count(*) FILTER (WHERE NOT parked), "
                                    "count(*) FILTER (WHERE parked) FROM hub_failed_events"
                                    ).fetchone()
                unpublished += conn.execute("SELECT count(*) FROM hub_outbox "
                                            "WHERE published_seq IS NULL").fetchone()[0]
                waiting, parked = waiting + w, parked + p
    yield of_numbers("events waiting for a retry", 0, waiting)
    yield of_numbers("events parked", 0, parked)
    yield of_numbers("outbox rows unpublished", 0, unpublished)


def delivery_rows(county, aggregators, county_code):
    """Every event the county published, once in the county's stats and once at each
    aggregator (the prefecture's and the province's)."""
    published = set()
    for service in county.data_services:
        with county.db(service) as conn:
            published |= set(ids(conn.execute(
                "SELECT event_id FROM hub_outbox WHERE published_seq IS NOT NULL")))
    with county.db("stats") as conn:
        counted = set(ids(conn.execute("SELECT event_id FROM hub_inbox")))
    yield of_numbers("county stats: published events taken", len(published),
                     len(published & counted))
    for hub in aggregators:
        with hub.db("stats") as conn:
            received = ids(conn.execute("SELECT event_id FROM stats_received "
                                        "WHERE county_code = %s", (county_code,)))
        yield of_sets(f"{hub.name}: county events received", published, received)


def count(hubs, ledger, county_code, prefecture_code, province_code):
    county, city, province_hub = hubs
    return [*table_rows(county, ledger),
            *figure_rows("county:", county.settings, "county", county_code, ledger),
            *(row for hub in (city, province_hub) for row in figure_rows(
                f"{hub.name}, county {county_code}:", hub.settings, "county", county_code,
                ledger)),
            *figure_rows(f"prefecture {prefecture_code}:", city.settings, "prefecture",
                         prefecture_code, ledger),
            *figure_rows(f"province {province_code}:", province_hub.settings, "province",
                         province_code, ledger),
            *session_rows(county, ledger),
            *plumbing_rows(hubs),
            *delivery_rows(county, (city, province_hub), county_code)]


def differences(rows):
    return [r for r in rows if not r.agrees]
