"""A county hub's stats in the background: its places (stored, and published to the province as
stats.county_profile.v1 when the configuration changes), the stations of its county file
(opened in the register once: stats.stations.seed) and the heartbeat it sends into its province
link queue, by which the province measures the link's lag."""
import hashlib
import json
import logging
from datetime import date, datetime, timezone

from contracts.events import stats as events
from stats import province, stations
from stats.rollups import store_places, store_village_counts

log = logging.getLogger(__name__)


def county_places(county):
    """The configured places as stats_places rows."""
    rows = [(county.code, "county", county.code, county.name, county.population, None)]
    for t in county.townships.values():
        rows.append((t.code, "township", county.code, t.name, t.population, t.station_opened_on))
    return rows


def profile_data(county):
    return {"county_code": county.code, "county_name": county.name,
            "population": county.population,
            "townships": [{"township_code": t.code, "township_name": t.name,
                           "population": t.population, "villages": len(t.villages),
                           "station_opened_on": (t.station_opened_on
                                                 and t.station_opened_on.isoformat())}
                          for t in county.townships.values()],
            "effective_date": date.today().isoformat()}


def publish_profile(database, settings):
    """Store the county's places; publish stats.county_profile.v1 when they changed; open the
    county file's stations the register does not have yet."""
    county = settings.county
    data = profile_data(county)
    digest = hashlib.sha256(json.dumps({k: v for k, v in data.items() if k != "effective_date"},
                                       sort_keys=True, ensure_ascii=False).encode()).hexdigest()
    with database.transaction() as tx:
        store_places(tx, county_places(county))
        store_villages(tx, county)
        store_village_counts(tx, {t.code: len(t.villages) for t in county.townships.values()})
        known = tx.one("SELECT value FROM stats_meta WHERE key = 'profile' FOR UPDATE")
        if known is None or known["value"] != digest:
            tx.emit(events.COUNTY_PROFILE.key, f"county/{county.code}", data)
            tx.execute("INSERT INTO stats_meta (key, value) VALUES ('profile', %s) "
                       "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value", (digest,))
        stations.seed(tx, county)


def store_villages(tx, county):
    rows = [(code, "village", county.code, name, 0, None)
            for t in county.townships.values() for code, name in t.villages.items()]
    if rows:
        store_places(tx, rows)


class Heartbeat:
    """Sends the county's heartbeat into its province outbox queue, when the county is linked:
    the province measures the link's lag by it."""

    def __init__(self, settings):
        self.settings = settings
        self.queue = province.outbox_queue(settings.db_prefix)
        self.connection = None

    def beat(self):
        try:
            if self.connection is None:
                self.connection = self.settings.broker_connection("stats", connect_timeout=5)
            channel = self.connection.channel()
            try:
                channel.queue_declare(self.queue, passive=True)
            except Exception:       # not linked: nothing to do
                return False
            body = json.dumps({"county_code": self.settings.county.code,
                               "sent_at": datetime.now(timezone.utc).isoformat()})
            channel.basic_publish(channel.prepare_message(
                body, content_type="application/json", content_encoding="utf-8",
                properties={"type": province.HEARTBEAT_TYPE}), exchange="", routing_key=self.queue)
            channel.close()
            return True
        except Exception as exc:
            log.info("heartbeat not sent: %s", exc)
            self.close()
            return False

    def close(self):
        if self.connection is not None:
            try:
                self.connection.release()
            except Exception:
                pass
        self.connection = None
