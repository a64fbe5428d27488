"""The station network's rules, pure (no SQL, no I/O): where a station of each tier stands, who
its parent may be, its dates, what a change of it is (opened, changed, closed, opened again),
the stations the county file opens, and what each opening of a station adds to the figures.

Tiers: `county` 县级社工总站 (at the county's code), `township` 乡镇社工站 (at a township's,
under the county station), `village` 村（社区）社工室 (at a village's, under its township's
station) and `service_point` 志愿服务站点 (at any of the county's places, under any station or
none). One open station of each of the first three tiers at a place; service points, any number.

Figures: each *opening* of a station (its first, and each after a closing) adds 1 on its
`opened_on` and -1 on its `closed_on` at its place, to `stations.open` (by tier) or
`service_points.open`. Every station event carries the station's whole state, so an opening's
latest event (by time) says all of it: whatever order events arrive in, the figures come out
the same (applying an event adds contribution(after) - contribution(before)).
"""
from dataclasses import dataclass
from datetime import date, datetime

from contracts.events.stats import STATION_TIERS
from hub.i18n import _
from stats.domain import as_date, as_time, county_of, fact

TIERS = tuple(STATION_TIERS)
SOCIAL_WORK_TIERS = ("county", "township", "village")      # stations_open; the rest: points
PARENT_TIERS = {"county": (), "township": ("county",), "village": ("township",),
                "service_point": SOCIAL_WORK_TIERS}
STATION_TYPES = frozenset({"station.opened.v1", "station.changed.v1", "station.closed.v1"})


def township_of(place_code):
    """The township a place lies in (None for the county)."""
    return place_code[:9] if len(place_code) >= 9 else None


def place_parts(county, place_code):
    """(county, township, village) of a place code, as facts take them."""
    return county, place_code[:9] if len(place_code) >= 9 else "", (
        place_code if len(place_code) == 12 else "")


# -- checks: {field: [reason]} ---------------------------------------------------------------
def place_errors(tier, place_code, county):
    """Where a station of `tier` may stand in `county` (hub.county.County)."""
    if tier == "county":
        ok, want = place_code == county.code, _("the county's code {code}", code=county.code)
    elif tier == "township":
        ok, want = county.has_township(place_code), _("one of the county's township codes")
    elif tier == "village":
        ok, want = (county.township_of(place_code) is not None,
                    _("one of the county's village codes (as its county file lists them)"))
    else:
        ok = (place_code == county.code or county.has_township(place_code)
              or county.township_of(place_code) is not None)
        want = _("the county's code, one of its townships' or one of its villages'")
    return {} if ok else {"place_code": [_("must be {what}", what=want)]}


def parent_errors(code, tier, place_code, parent_code, parent):
    """Whether `parent` (the parent station's row, None when `parent_code` names none) may be
    the parent of a station of `tier` at `place_code`."""
    allowed = PARENT_TIERS[tier]
    if parent_code is None:
        if tier in ("township", "village"):
            return {"parent_code": [_("a {tier} station needs its parent: the station of {what}",
                                      tier=tier, what=_("the county") if tier == "township"
                                      else _("its township"))]}
        return {}
    if not allowed:
        return {"parent_code": [_("a county station has no parent")]}
    if parent_code == code:
        return {"parent_code": [_("a station is not its own parent")]}
    if parent is None:
        return {"parent_code": [_("no station {code} is known", code=parent_code)]}
    if parent["tier"] not in allowed:
        return {"parent_code": [_("must be a station of tier {tiers}, not {tier}",
                                  tiers=" or ".join(allowed), tier=parent["tier"])]}
    if not place_code.startswith(parent["place_code"]):
        return {"parent_code": [_("must be a station whose place contains {place}",
                                  place=place_code)]}
    if parent["closed_on"] is not None:
        return {"parent_code": [_("station {code} closed on {date}", code=parent_code,
                                  date=parent["closed_on"].isoformat())]}
    return {}


def date_errors(opened_on, closed_on):
    if closed_on is not None and closed_on < opened_on:
        return {"closed_on": [_("must not be before opened_on ({date})",
                                date=opened_on.isoformat())]}
    return {}


@dataclass(frozen=True)
class Change:
    """What a PATCH makes of a station: its new values, the event it publishes (None when
    nothing changed) and its opening (one more when it opens again)."""
    values: dict
    event: str | None
    opening: int


def change(station, given):
    """The station (its current row) with the `given` fields of a PATCH applied.

    A closed station opens again when `closed_on` is cleared with an `opened_on` on or after the
    day it closed: a new opening (station.opened, `opening` + 1), its earlier one kept in the
    figures. Clearing `closed_on` otherwise undoes a closing made by mistake (station.changed).
    Setting `closed_on` on an open station closes it (station.closed); any other change is
    station.changed.
    """
    values = {**{k: station[k] for k in ("name", "parent_code", "staff", "opened_on",
                                          "closed_on")}, **given}
    was_closed = station["closed_on"]
    opening = station["opening"]
    if was_closed is not None and values["closed_on"] is None and "opened_on" in given \
            and given["opened_on"] >= was_closed:
        return Change(values, "station.opened.v1", opening + 1)
    if was_closed is None and values["closed_on"] is not None:
        return Change(values, "station.closed.v1", opening)
    same = all(values[k] == station[k] for k in values)
    return Change(values, None if same else "station.changed.v1", opening)


# -- the county file's stations -------------------------------------------------------------
def seeded(county):
    """The stations the county file opens, parents first, as bodies of the register: the county
    station (its code the county's), each township's station, each village's room (their codes
    the place's), then the service points."""
    out = []
    if county.station_opened_on:
        out.append(_seed(county.code, county.name + "社工总站", "county", None,
                         county.code, county.station_opened_on))
    for town in county.townships.values():
        if town.station_opened_on and county.station_opened_on:
            out.append(_seed(town.code, town.name + "社工站", "township", county.code,
                             town.code, town.station_opened_on))
    for town in county.townships.values():
        for village, opened in town.rooms.items():
            if town.station_opened_on:
                out.append(_seed(village, town.villages[village] + "社工室", "village",
                                 town.code, village, opened))
    for point in county.service_points:
        out.append(_seed(point.code, point.name, "service_point", point.parent, point.place,
                         point.opened_on))
    return out


def _seed(code, name, tier, parent, place, opened_on):
    return {"code": code, "name": name, "tier": tier, "parent_code": parent, "place_code": place,
            "opened_on": opened_on, "closed_on": None, "staff": []}


# -- events and figures ---------------------------------------------------------------------
def event_data(county_code, row, effective_date):
    """A station.* event's data from the register's row: codes, dates and a count."""
    return {"station_code": row["code"], "county_code": county_code, "tier": row["tier"],
            "parent_code": row["parent_code"], "place_code": row["place_code"],
            "opened_on": row["opened_on"].isoformat(),
            "closed_on": row["closed_on"] and row["closed_on"].isoformat(),
            "opening": row["opening"], "staff_count": len(row["staff"]),
            "effective_date": effective_date.isoformat()}


@dataclass(frozen=True)
class Opening:
    """One opening of a station as an event left it; the latest event (at, event_id) wins."""
    at: datetime
    event_id: str
    tier: str
    township: str
    village: str
    opened_on: date
    closed_on: date | None

    def newer_than(self, other):
        return other is None or (self.at, self.event_id) > (other.at, other.event_id)


def opening_of(event):
    """((county, station code, opening), Opening) of a station event."""
    d = event["data"]
    county = county_of(event)
    _, township, village = place_parts(county, d["place_code"])
    closed = d["closed_on"]
    return (county, d["station_code"], int(d["opening"])), Opening(
        as_time(event["time"]), str(event["id"]), d["tier"], township, village,
        as_date(d["opened_on"]), as_date(closed) if closed else None)


def opening_contribution(county, opening):
    """The facts of one opening: +1 on opened_on, -1 on closed_on, at its place."""
    if opening is None:
        return []
    if opening.tier in SOCIAL_WORK_TIERS:
        measure, details = "stations.open", (f"tier:{opening.tier}",)
    else:
        measure, details = "service_points.open", ()
    place = (county, opening.township, opening.village)
    facts = [fact(measure, opening.opened_on, place, details=details)]
    if opening.closed_on is not None:
        facts.append(fact(measure, opening.closed_on, place, details=details, n=-1))
    return facts
