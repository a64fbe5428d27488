"""The county's register of stations and volunteer service points (the station network): opened,
changed, closed and opened again through the API or a spreadsheet, seeded from the county file;
each change published as station.opened / changed / closed (codes, dates and a staff count).
The rules are stats.network's; the figures come from the events (stats.rollups)."""
from datetime import date

from contracts.events import stats as events
from hub.errors import Conflict, NotFound, ValidationFailed
from hub.i18n import _
from hub.pagination import keyset_page
from stats import network, worker_view

COLUMNS = ("code, seq, name, tier, parent_code, place_code, township_code, opened_on, closed_on, "
           "opening, staff, changed_at")
EVENTS = {"station.opened.v1": events.STATION_OPENED, "station.changed.v1": events.STATION_CHANGED,
          "station.closed.v1": events.STATION_CLOSED}
NOT_POSSIBLE = _("The station is not possible.")


def open_station(tx, settings, body, actor=None):
    """Open a station (a row of the register): 422 naming the field that will not do, 409 when
    its code is taken or its place already has an open station of its tier."""
    county = settings.county
    parent = find(tx, body["parent_code"]) if body["parent_code"] else None
    errors = {**network.place_errors(body["tier"], body["place_code"], county),
              **network.parent_errors(body["code"], body["tier"], body["place_code"],
                                      body["parent_code"], parent),
              **network.date_errors(body["opened_on"], body["closed_on"]),
              **worker_view.staff_errors(tx, body["staff"])}
    if errors:
        raise ValidationFailed(NOT_POSSIBLE, fields=errors)
    if body["closed_on"] is None:
        _one_open(tx, body["code"], body["tier"], body["place_code"])
    row = tx.one(f"""INSERT INTO stats_stations (code, name, tier, parent_code, place_code,
                         township_code, opened_on, closed_on, staff)
                     VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s::uuid[])
                     ON CONFLICT (code) DO NOTHING RETURNING {COLUMNS}""",
                 (body["code"], body["name"], body["tier"], body["parent_code"],
                  body["place_code"], network.township_of(body["place_code"]), body["opened_on"],
                  body["closed_on"], [str(s) for s in body["staff"]]))
    if row is None:
        raise Conflict(_("There is already a station {code}.", code=body["code"]),
                       fields={"code": [_("already used")]})
    # one registered after it closed: one event, carrying its closed_on too
    _publish(tx, county.code, "station.opened.v1", row, row["opened_on"])
    return row


def change_station(tx, settings, code, given):
    """Change a station's name, parent, staff or dates; close it (closed_on) or open it again
    (see stats.network.change)."""
    station = get(tx, code, for_update=True)
    outcome = network.change(station, given)
    values = outcome.values
    if outcome.event is None:
        return station
    errors = network.date_errors(values["opened_on"], values["closed_on"])
    opening_again = station["closed_on"] is not None and values["closed_on"] is None
    if "parent_code" in given or opening_again:         # a parent that is there and open
        parent = find(tx, values["parent_code"]) if values["parent_code"] else None
        errors.update(network.parent_errors(code, station["tier"], station["place_code"],
                                            values["parent_code"], parent))
    if "staff" in given:
        errors.update(worker_view.staff_errors(tx, values["staff"]))
    if errors:
        raise ValidationFailed(NOT_POSSIBLE, fields=errors)
    if opening_again:
        _one_open(tx, code, station["tier"], station["place_code"])
    if station["closed_on"] is None and values["closed_on"] is not None:
        _no_open_children(tx, code)
    row = tx.one(f"""UPDATE stats_stations SET name = %s, parent_code = %s, staff = %s::uuid[],
                         opened_on = %s, closed_on = %s, opening = %s, changed_at = now()
                     WHERE code = %s RETURNING {COLUMNS}""",
                 (values["name"], values["parent_code"], [str(s) for s in values["staff"]],
                  values["opened_on"], values["closed_on"], outcome.opening, code))
    effective = {"station.opened.v1": row["opened_on"],
                 "station.closed.v1": row["closed_on"]}.get(outcome.event, date.today())
    _publish(tx, settings.county.code, outcome.event, row, effective)
    return row


def seed(tx, county):
    """Open the stations of the county file (stats.network.seeded) that the register does not
    have yet: a restart opens none twice, a station the file adds later is opened then, and
    one whose place already has an open station of its tier (made through the API) is left
    out, as is one whose parent is not in the register."""
    opened = []
    for body in network.seeded(county):
        row = tx.one(f"""INSERT INTO stats_stations (code, name, tier, parent_code, place_code,
                             township_code, opened_on)
                         SELECT %(code)s, %(name)s, %(tier)s, %(parent_code)s, %(place_code)s,
                                %(township)s, %(opened_on)s
                         WHERE %(parent_code)s::text IS NULL OR EXISTS (
                             SELECT 1 FROM stats_stations WHERE code = %(parent_code)s)
                         ON CONFLICT DO NOTHING RETURNING {COLUMNS}""",
                     {**body, "township": network.township_of(body["place_code"])})
        if row is not None:
            _publish(tx, county.code, "station.opened.v1", row, row["opened_on"])
            opened.append(row["code"])
    return opened


def get(tx, code, for_update=False):
    row = find(tx, code, for_update)
    if row is None:
        raise NotFound(_("There is no station {code}.", code=code),
                       fields={"code": [_("unknown")]})
    return row


def find(tx, code, for_update=False):
    return tx.one(f"SELECT {COLUMNS} FROM stats_stations WHERE code = %s"
                  + (" FOR UPDATE" if for_update else ""), (code,))


FILTERS = (("tier", "tier = %(tier)s"), ("parent_code", "parent_code = %(parent_code)s"),
           ("township_code", "township_code = %(township_code)s"),
           ("place_code", "place_code LIKE %(place_prefix)s"),
           ("open_on",
            "opened_on <= %(open_on)s AND (closed_on IS NULL OR closed_on > %(open_on)s)"))


def search(tx, query):
    """A page of stations, filtered by tier, parent, township, place (at it or inside it) and
    whether they were open on a day."""
    where = [sql for name, sql in FILTERS if query.get(name) is not None]
    params = {name: query.get(name) for name, _ in FILTERS}
    params["place_prefix"] = (query.get("place_code") or "") + "%"
    return keyset_page(tx, f"SELECT {COLUMNS} FROM stats_stations", where, params, query,
                       tag="s")


def present(row):
    """A register row as the API shows it."""
    return {**row, "tier_label": network.STATION_TIERS[row["tier"]],
            "open": row["closed_on"] is None, "staff": [str(s) for s in row["staff"]],
            "staff_count": len(row["staff"])}


def _publish(tx, county_code, type_key, row, effective):
    tx.emit(EVENTS[type_key].key, f"station/{row['code']}",
            network.event_data(county_code, row, effective))


def _one_open(tx, code, tier, place_code):
    """409 when another station of the tier is open at the place (service points: never)."""
    if tier == "service_point":
        return
    other = tx.one("SELECT code FROM stats_stations WHERE tier = %s AND place_code = %s "
                   "AND closed_on IS NULL AND code <> %s", (tier, place_code, code))
    if other is not None:
        raise Conflict(_("Station {other} is already open at {place}.", other=other["code"],
                         place=place_code),
                       fields={"place_code": [_("has an open {tier} station already: {other}",
                                                tier=tier, other=other["code"])]})


def _no_open_children(tx, code):
    """409 when stations under this one are open: they close first (or move)."""
    rows = tx.all("SELECT code FROM stats_stations WHERE parent_code = %s AND closed_on IS NULL "
                  "ORDER BY code LIMIT 5", (code,))
    if rows:
        raise Conflict(_("Stations under this one are still open."),
                       fields={"closed_on": [_("close or move its open stations first: {codes}",
                                               codes=", ".join(r["code"] for r in rows))]})

