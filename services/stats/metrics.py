"""The stats service's Prometheus metrics: events taken in, and the provincial operations gauges.

Per county (from the rollups, refreshed every HUB_STATS_GAUGES_SECONDS): active clients, open
overdue visits and person-times this year, labelled with the county's prefecture too (so that a
dashboard sums them by prefecture). Per county link (aggregator roles): seconds since the newest
heartbeat the county sent through its link (its lag), events received and duplicates.
"""
from datetime import date

from prometheus_client import Counter, Gauge, Histogram

from stats import domain

EVENTS = Counter("stats_events_total", "Events the stats service took in, by outcome "
                 "(counted, ignored: a type without figures)", ["role", "type", "outcome"])
COUNTY_ACTIVE_CLIENTS = Gauge("stats_county_active_clients", "Active clients now, per county",
                              ["county", "prefecture"])
COUNTY_OVERDUE_VISITS = Gauge("stats_county_overdue_visits",
                              "Visits found overdue and not yet done, per county",
                              ["county", "prefecture"])
COUNTY_PERSON_TIMES_YEAR = Gauge("stats_county_person_times_year",
                                 "Person-times (人次) this calendar year, per county",
                                 ["county", "prefecture"])
LINK_LAG = Gauge("stats_province_link_lag_seconds",
                 "Seconds since the newest heartbeat received through a county's link was sent",
                 ["county"])
LINK_EVENTS = Counter("stats_province_events_received_total",
                      "Events received from a county (first deliveries)", ["county"])
LINK_DUPLICATES = Counter("stats_province_duplicates_total",
                          "Redelivered events dropped by event id", ["county"])
REJECTED = Counter("stats_province_rejected_total",
                   "Messages refused (not an event, or carrying personal details)", ["reason"])
INGEST_BATCH = Histogram("stats_province_ingest_batch_seconds",
                         "Time to store one batch of received events",
                         buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5))

GAUGES = {"clients.active": COUNTY_ACTIVE_CLIENTS, "visits.overdue_open": COUNTY_OVERDUE_VISITS,
          "person_times": COUNTY_PERSON_TIMES_YEAR}


def county_figures(tx, counties, today=None):
    """{county: {measure: n}} for the gauges: stocks now, person-times this year."""
    year = f"{(today or date.today()).year:04d}"
    out = {c: {m: 0 for m in GAUGES} for c in counties}
    for row in tx.all(
            """SELECT place_code, measure, sum(n)::bigint AS n FROM stats_rollup
               WHERE place_code = ANY(%(codes)s) AND kind = 'y' AND category = ''
                 AND age_group = '' AND detail = ''
                 AND ((measure = ANY(%(stocks)s) AND period <= %(year)s)
                      OR (measure = ANY(%(person_times)s) AND period = %(year)s))
               GROUP BY place_code, measure""",
            {"codes": list(counties), "stocks": ["clients.active", "visits.overdue_open"],
             "person_times": list(domain.PERSON_TIME_MEASURES), "year": year}):
        measure = row["measure"]
        measure = "person_times" if measure in domain.PERSON_TIME_MEASURES else measure
        out[row["place_code"]][measure] += row["n"]
    return out


def refresh_county_gauges(tx, counties):
    for county, values in county_figures(tx, counties).items():
        for measure, gauge in GAUGES.items():
            gauge.labels(county, domain.prefecture_of(county)).set(values[measure])


def refresh_link_lag(tx):
    for row in tx.all("""SELECT county_code, extract(epoch FROM now() - last_heartbeat_at) AS lag
                         FROM stats_links WHERE last_heartbeat_at IS NOT NULL"""):
        LINK_LAG.labels(row["county_code"]).set(float(row["lag"]))
