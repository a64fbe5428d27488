"""The stats service: figures, annual reports, ratings and sign-offs over HTTP; one consumer of
every event of its hub. With HUB_ROLE=province the same service is the provincial aggregator:
it also consumes the province's ingest queue (fed by each county's link) in batches."""
import json
import logging
from datetime import date

import eventlet
from nameko.extensions import DependencyProvider
from werkzeug.wrappers import Response

from contracts.events import stats as events
from hub.access import COUNTY_ADMINS, FIGURES
from hub.db import database_of
from hub.errors import Conflict, ValidationFailed
from hub.http import api
from hub.i18n import _
from hub.inbox import handle_events
from hub.service import HubService
from stats import consumers, disclosure, figures, metrics, province, reports, stations
from stats.county import Heartbeat, publish_profile
from stats.domain import RATINGS
from stats.ingest import Ingester
from stats.role import StatsConfig
from stats.rollups import Rollups
from stats.schemas import (
    AnnualQuerySchema,
    RatingOutSchema,
    RatingSchema,
    SignoffOutSchema,
    SignoffSchema,
    StationChangeSchema,
    StationCreateSchema,
    StationPageSchema,
    StationQuerySchema,
    StationSchema,
    StatsQuerySchema,
)

log = logging.getLogger(__name__)
V1 = "/api/v1"
# the station network: everyone who reads figures; station roles see their own township's
STATION_READERS = FIGURES.but(scoped=True)


class Runtime:
    """What handlers need: the role's configuration and its rollups."""

    def __init__(self, config):
        self.config = config
        self.rollups = Rollups(config)


class StatsRuntime(DependencyProvider):
    """The role, and its background work: the county's place profile and link heartbeat, or the
    province's ingestion; per-county gauges in both."""

    def setup(self):
        self.config = StatsConfig.from_nameko_config(self.container.config)
        self.runtime = Runtime(self.config)
        self.settings = self.container.config["HUB_SETTINGS"]
        self.stopping = False

    @property
    def amqp_uri(self):
        """The stats service's own broker user."""
        return self.settings.service_amqp_uri(self.container.service_name)

    @property
    def database(self):
        return database_of(self.container)

    def start(self):
        if self.config.is_province:
            self.ingester = Ingester(self.database, self.runtime.rollups, self.amqp_uri,
                                     province.ingest_queue(self.settings.db_prefix), self.config,
                                     sleep=eventlet.sleep,
                                     ssl=self.settings.amqp_ssl_options(self.amqp_uri),
                                     data_key=self.settings.data_key)
            self.container.spawn_managed_thread(self._ingest)
        else:
            self.container.spawn_managed_thread(self._county_chores)
        self.container.spawn_managed_thread(self._gauges)

    def stop(self):
        self.stopping = True

    def kill(self):
        self.stopping = True

    def get_dependency(self, worker_ctx):
        return self.runtime

    # -- province ------------------------------------------------------------------------------
    def _ingest(self):
        while not self.stopping:
            try:
                province.declare_ingest(self.amqp_uri, self.settings.db_prefix,
                                        self.settings.amqp_ssl_options(self.amqp_uri))
                break
            except Exception as exc:
                log.warning("cannot declare the province ingest queue (%s); retrying", exc)
                eventlet.sleep(2)
        self.ingester.run(lambda: self.stopping)

    # -- county ----------------------------------------------------------------------------------
    def _county_chores(self):
        """Publish the place profile once (if it changed), then heartbeat the province link."""
        while not self.stopping:
            try:
                publish_profile(self.database, self.settings)
                break
            except Exception as exc:
                log.warning("cannot record the county's places yet (%s); retrying", exc)
                eventlet.sleep(2)
        heart = Heartbeat(self.settings)
        while not self.stopping:
            heart.beat()
            eventlet.sleep(self.config.heartbeat_seconds)
        heart.close()

    def _gauges(self):
        while not self.stopping:
            try:
                with self.database.transaction() as tx:
                    if self.config.is_province:
                        counties = [r["code"] for r in tx.all(
                            "SELECT code FROM stats_places WHERE level = 'county' UNION "
                            "SELECT county_code FROM stats_links")]
                        metrics.refresh_link_lag(tx)
                    else:
                        counties = [self.settings.county.code]
                    metrics.refresh_county_gauges(tx, counties)
            except Exception as exc:
                log.warning("cannot refresh the county gauges: %s", exc)
            eventlet.sleep(self.config.gauges_seconds)


class StatsService(HubService):
    name = "stats"
    runtime = StatsRuntime()

    @handle_events(*consumers.PATTERNS, batch=True, unknown="ignore")
    def on_events(self, tx, events):
        """Every event of the hub, a batch at a time, into the figures."""
        consumers.on_events(tx, events, self.runtime.rollups, self.runtime.config.role)

    # -- figures ---------------------------------------------------------------------------------
    @api("GET", V1 + "/stats", query=StatsQuerySchema, access=FIGURES)
    def get_stats(self, call):
        """A place's figures for a year, month or day, beside the same period a year earlier."""
        q = call.query
        outside = disclosure.outside(call.principal)
        if outside:         # small counts suppressed (stats/disclosure.py)
            disclosure.check_request(q["level"], q["period"])
            disclosure.snapshot(call.tx)
        answer = figures.stats(call.tx, self.runtime.config, q["level"], q["code"], q["period"],
                               q["breakdown"])
        return disclosure.protect_stats(call.tx, self.runtime.config, answer) if outside else answer

    @api("GET", V1 + "/stats/events", access=FIGURES)
    def event_counts(self, call):
        """How many events of each type were counted or ignored."""
        rows = call.tx.all("SELECT type, counted, ignored FROM stats_event_counts ORDER BY type")
        return {"items": rows}

    @api("GET", V1 + "/stats/links", access=FIGURES)
    def links(self, call):
        """Province: each county link's last heartbeat, last event and events received."""
        rows = call.tx.all("""SELECT county_code, last_heartbeat_at, last_event_at, events,
                                     extract(epoch FROM now() - last_heartbeat_at) AS lag_seconds
                              FROM stats_links ORDER BY county_code""")
        return {"items": [{**r, "lag_seconds": r["lag_seconds"] and float(r["lag_seconds"])}
                          for r in rows]}

    @api("GET", V1 + "/reports/annual", query=AnnualQuerySchema, transaction=False,
         access=FIGURES.but(audit="export"))
    def annual_report(self, call):
        """The year's report as JSON (with the narrative), CSV or XLSX."""
        q = call.query
        outside = disclosure.outside(call.principal)
        with self.db.transaction() as tx:
            if outside:     # small counts suppressed (stats/disclosure.py)
                disclosure.check_report(self.runtime.config, q["code"])
                disclosure.snapshot(tx)
            report = reports.annual(tx, self.runtime.config, q["year"], q["code"])
            if outside:
                disclosure.protect_report(tx, self.runtime.config, report)
        if q["format"] == "json":
            return Response(json.dumps(report, ensure_ascii=False, default=str),
                            content_type="application/json; charset=utf-8")
        body, mime = ((reports.to_csv(report), reports.CSV_TYPE) if q["format"] == "csv"
                      else (reports.to_xlsx(report), reports.XLSX_TYPE))
        name = reports.filename(report, q["format"])
        return Response(body, content_type=mime,
                        headers={"Content-Disposition": f'attachment; filename="{name}"'})

    # -- sign-off ----------------------------------------------------------------------------------
    @api("POST", V1 + "/stats/signoff", body=SignoffSchema, status=201, responds=SignoffOutSchema,
         access=COUNTY_ADMINS)
    def sign_off(self, call):
        """Approve a year's county figures: from now on they are frozen."""
        self._county_hub_only("code")
        body = call.body
        county = self.db.settings.county
        if body["code"] != county.code:
            raise ValidationFailed(_("Sign off this hub's county."),
                                   fields={"code": [_("must be {code} ({county})", code=county.code,
                                                      county=county.name)]})
        row = call.tx.one("""INSERT INTO stats_signoffs (county_code, year, signed_by)
                             VALUES (%s, %s, %s) ON CONFLICT DO NOTHING
                             RETURNING county_code, year, signed_by, signed_at""",
                          (county.code, body["year"], call.principal.subject))
        if row is None:
            raise Conflict(_("{year} is already signed off.", year=body["year"]),
                           fields={"year": [_("already signed off")]})
        call.tx.emit(events.SIGNED_OFF.key, f"county/{county.code}/{body['year']}",
                     {"county_code": county.code, "year": body["year"],
                      "effective_date": date.today().isoformat()})
        return SignoffOutSchema().dump(row)

    @api("GET", V1 + "/stats/signoffs", access=FIGURES)
    def signoffs(self, call):
        rows = call.tx.all("SELECT county_code, year, signed_by, signed_at FROM stats_signoffs "
                           "ORDER BY county_code, year")
        return {"items": SignoffOutSchema(many=True).dump(rows)}

    # -- the station network -----------------------------------------------------------------------
    @api("GET", V1 + "/stations", query=StationQuerySchema, responds=StationPageSchema,
         access=STATION_READERS)
    def list_stations(self, call):
        """The county's stations and volunteer service points, a page at a time."""
        self._county_hub_only("code", registry=True)
        rows, next_cursor = stations.search(call.tx, call.query)
        return {"items": [StationSchema().dump(stations.present(r)) for r in rows],
                "next_cursor": next_cursor}

    @api("GET", V1 + "/stations/<code>", responds=StationSchema, access=STATION_READERS)
    def get_station(self, call, code):
        self._county_hub_only("code", registry=True)
        return StationSchema().dump(stations.present(stations.get(call.tx, code)))

    @api("POST", V1 + "/stations", body=StationCreateSchema, status=201, responds=StationSchema,
         access=COUNTY_ADMINS)
    def open_station(self, call):
        """Open a station (county, township, village room) or a volunteer service point."""
        self._county_hub_only("code", registry=True)
        row = stations.open_station(call.tx, self.db.settings, call.body, call.principal.subject)
        return StationSchema().dump(stations.present(row))

    @api("PATCH", V1 + "/stations/<code>", body=StationChangeSchema, responds=StationSchema,
         access=COUNTY_ADMINS)
    def change_station(self, call, code):
        """Change a station's name, parent, staff or dates; close it, or open it again."""
        self._county_hub_only("code", registry=True)
        row = stations.change_station(call.tx, self.db.settings, code, call.body)
        return StationSchema().dump(stations.present(row))

    # -- ratings -----------------------------------------------------------------------------------
    @api("POST", V1 + "/stations/<code>/ratings", body=RatingSchema, status=201,
         responds=RatingOutSchema, access=COUNTY_ADMINS)
    def rate_station(self, call, code):
        """Record a station's rating for a year (优秀, 良好, 合格, 不合格); a new one replaces it."""
        self._county_hub_only("code")
        county = self.db.settings.county
        if code != county.code and code not in county.townships:
            raise ValidationFailed(_("No such station in this county."), fields={
                "code": [_("must be {code} (the county hub station) or one of its "
                           "township codes", code=county.code)]})
        body = call.body
        event = call.tx.emit(events.STATION_RATED.key, f"station/{code}/{body['year']}", {
            "station_code": code, "county_code": county.code, "year": body["year"],
            "rating": body["rating"], "effective_date": date.today().isoformat()})
        call.tx.execute("""INSERT INTO stats_ratings (station_code, year, county_code, rating,
                               rated_at) VALUES (%s, %s, %s, %s, %s)
                           ON CONFLICT (station_code, year) DO UPDATE SET rating = EXCLUDED.rating,
                               rated_at = EXCLUDED.rated_at""",
                        (code, body["year"], county.code, body["rating"], event["time"]))
        return RatingOutSchema().dump(self._rating(call.tx, code, body["year"]))

    @api("GET", V1 + "/stations/<code>/ratings", access=FIGURES)
    def station_ratings(self, call, code):
        rows = call.tx.all("SELECT station_code, year, rating, rated_at FROM stats_ratings "
                           "WHERE station_code = %s ORDER BY year", (code,))
        return {"items": [RatingOutSchema().dump(self._labelled(r)) for r in rows]}

    def _rating(self, tx, code, year):
        return self._labelled(tx.one("SELECT station_code, year, rating, rated_at FROM "
                                     "stats_ratings WHERE station_code = %s AND year = %s",
                                     (code, year)))

    @staticmethod
    def _labelled(row):
        return {**row, "rating_label": RATINGS[row["rating"]]}

    def _county_hub_only(self, field, registry=False):
        if self.runtime.config.is_province:
            message = (_("The provincial aggregator counts the county hubs' stations from their "
                         "events; their register is the county hub's: ask it there.") if registry
                       else _("The provincial aggregator receives ratings and sign-offs from the "
                              "county hubs; make them there."))
            raise Conflict(message, fields={field: [_("county hub only")]})
