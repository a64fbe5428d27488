"""Made-up events of the types the figures use, shaped as their producers publish them (ids,
codes and categories only): for tests, benchmarks and demonstrations of the stats service.

`Sample(county, township, village)` makes events from that place; each call returns the
CloudEvent, with times that increase in the order events are made. With `validate=True` each is
checked against its registered schema (as a producer would); benchmarks making millions turn it
off.
"""
import itertools
import uuid
from datetime import date, datetime, timedelta, timezone

from hub import events as hub_events

SERVICE_OF = {"client": "intake", "visit": "visits", "activity": "visits", "needs": "visits",
              "verification": "visits", "station": "stats", "stats": "stats"}
_clock = itertools.count()   # a microsecond more for each event: their times never tie


def _iso(day):
    return day.isoformat() if isinstance(day, date) else str(day)


class Sample:
    def __init__(self, county="341721", township="341721100", village="341721100001",
                 validate=True):
        hub_events.load_contract()
        self.county, self.township, self.village = county, township, village
        self.validate = validate

    def event(self, type_key, subject, data):
        producer = SERVICE_OF.get(type_key.split(".")[0], "resources")
        source = f"/hub/{self.county}/{producer}"
        at = datetime.now(timezone.utc) + timedelta(microseconds=next(_clock))
        if self.validate:
            return hub_events.make_event(type_key, source, subject, data, time=at)
        return {"specversion": "1.0", "id": str(uuid.uuid4()), "source": source,
                "type": type_key, "time": at.isoformat(), "subject": subject,
                "datacontenttype": "application/json", "data": data}

    # -- clients ---------------------------------------------------------------------------------
    def client(self, categories=("solitary_elderly",), age_group="elderly", risk_level="low",
               village=None):
        village = village or self.village
        return {"client_id": str(uuid.uuid4()), "county_code": self.county,
                "township_code": village[:9], "village_code": village,
                "categories": list(categories), "age_group": age_group,
                "age_band": {"elderly": "70-79", "child": "6-11"}.get(age_group, "18-44"),
                "sex": "female", "risk_level": risk_level, "risk_flags": [], "status": "active"}

    def client_event(self, kind, client, day, **extra):
        data = {**client, "effective_date": _iso(day), **extra}
        return self.event(f"client.{kind}.v1", f"client/{client['client_id']}", data)

    def registered(self, client, day):
        return self.client_event("registered", client, day)

    def closed(self, client, day, reason="goals_met"):
        client["status"] = "closed"
        return self.client_event("closed", client, day, reason=reason)

    def updated(self, client, day, **changes):
        client.update(changes)
        return self.client_event("updated", client, day, changed_fields=sorted(changes))

    # -- visits ----------------------------------------------------------------------------------
    def _visit(self, client, visit_id, due_on, status):
        return {"visit_id": visit_id or str(uuid.uuid4()), "client_id": client["client_id"],
                "kind": "routine", "round_id": None, "township_code": client["township_code"],
                "village_code": client["village_code"], "status": status,
                "due_on": _iso(due_on), "worker_id": None}

    def visit_completed(self, client, day, delay_days=0, visit_id=None):
        day = date.fromisoformat(_iso(day))
        data = {**self._visit(client, visit_id, day - timedelta(days=delay_days), "done"),
                "visited_on": day.isoformat(), "mode": "home", "completed_by": str(uuid.uuid4()),
                "delay_days": delay_days, "categories": client["categories"],
                "age_group": client["age_group"], "info_correct": None, "needs_count": 0,
                "assessed_risk_level": None}
        return self.event("visit.completed.v1", f"visit/{data['visit_id']}", data)

    def visit_overdue(self, client, due_on, days_overdue, visit_id=None):
        data = {**self._visit(client, visit_id, due_on, "overdue"), "days_overdue": days_overdue}
        return self.event("visit.overdue.v1", f"visit/{data['visit_id']}", data)

    def visit_missed(self, client, day, visit_id=None):
        data = {**self._visit(client, visit_id, day, "missed"), "missed_on": _iso(day),
                "reason": "not_home"}
        return self.event("visit.missed.v1", f"visit/{data['visit_id']}", data)

    def visit_scheduled(self, client, due_on):
        data = {**self._visit(client, None, due_on, "scheduled"), "reason": "registered",
                "previous_due_on": None}
        return self.event("visit.scheduled.v1", f"visit/{data['visit_id']}", data)

    def activity(self, day, participants, kind="group_work", extra_person_times=0,
                 attendees=None):
        """`attendees`: other attendees' headcount ({"total": 40, "by_age_group": …})."""
        people = [{"client_id": c["client_id"], "categories": c["categories"],
                   "age_group": c["age_group"]} for c in participants]
        if attendees is not None:
            attendees = {"by_age_group": {}, "by_sex": {}, **attendees}
            extra_person_times += attendees["total"]
        by_cat = {}
        for p in people:
            for c in p["categories"]:
                by_cat[c] = by_cat.get(c, 0) + 1
        data = {"activity_id": str(uuid.uuid4()), "township_code": self.township, "kind": kind,
                "held_on": _iso(day), "person_times": len(people) + extra_person_times,
                "person_times_by_category": by_cat, "participants": people, "worker_ids": [],
                "volunteer_ids": [], "attendees": attendees}
        return self.event("activity.held.v1", f"activity/{data['activity_id']}", data)

    # -- resources -------------------------------------------------------------------------------
    def donation(self, day, amount_fen=None, value_fen=None, provider_kind="enterprise",
                 township=True):
        money = value_fen is None
        data = {"donation_id": str(uuid.uuid4()), "provider_id": str(uuid.uuid4()),
                "provider_kind": provider_kind, "five_society": "social_resource",
                "kind": "money" if money else "goods",
                "amount_fen": amount_fen if money else None,
                "item": None if money else "棉衣", "unit": None if money else "件",
                "quantity": None if money else 10,
                "value_fen": amount_fen if money else value_fen,
                "township_code": self.township if township else None,
                "earmark_category": None, "earmark_township_code": None,
                "earmarked_for_client": False, "effective_date": _iso(day)}
        return self.event("donation.received.v1", f"donation/{data['donation_id']}", data)

    def allocation(self, client, day, value_fen, donation_id=None, kind="money", reversed_=None):
        data = {"client_id": client["client_id"], "township_code": client["township_code"],
                "categories": client["categories"], "age_group": client["age_group"],
                "age_band": client["age_band"], "allocation_id": str(uuid.uuid4()),
                "donation_id": donation_id or str(uuid.uuid4()), "provider_id": str(uuid.uuid4()),
                "need_id": None, "kind": kind,
                "amount_fen": value_fen if kind == "money" else None,
                "item": None if kind == "money" else "棉衣",
                "quantity": None if kind == "money" else 1, "value_fen": value_fen,
                "allocated_on": _iso(day), "effective_date": _iso(day)}
        return self.event("allocation.made.v1", f"allocation/{data['allocation_id']}", data)

    def reversal(self, allocation_event, day, reason="wrong_client"):
        data = {**allocation_event["data"], "effective_date": _iso(day), "reason": reason}
        return self.event("allocation.reversed.v1", allocation_event["subject"], data)

    def need(self, client, day, kind="money", met=False):
        data = {"client_id": client["client_id"], "township_code": client["township_code"],
                "categories": client["categories"], "age_group": client["age_group"],
                "age_band": client["age_band"], "need_id": str(uuid.uuid4()), "visit_id": None,
                "kind": kind, "effective_date": _iso(day)}
        if met:
            data.update(allocation_id=None, referral_id=None, opened_on=_iso(day))
            return self.event("need.met.v1", f"need/{data['need_id']}", data)
        return self.event("need.opened.v1", f"need/{data['need_id']}", data)

    def worker(self, day, level=None, year=None, worker_id=None, kind="registered",
               previous_level=None):
        data = {"worker_id": worker_id or str(uuid.uuid4()), "township_code": self.township,
                "certificate_level": level, "certified_year": year, "weekly_capacity": 20,
                "status": "left" if kind == "left" else "active", "effective_date": _iso(day)}
        if kind == "certified":
            data["previous_level"] = previous_level
        return self.event(f"worker.{kind}.v1", f"worker/{data['worker_id']}", data)

    def certificate(self, day, levels, places=None, previous=None):
        """A holder on the roster: certificate.recorded, or certificate.changed after the
        `previous` event of the same holder. `levels`: [(level, passed_year)], lowest first;
        `places`: [(since or None, township or None, status)], default here from the start."""
        places = places or [(None, self.township, "holding")]
        timeline = {"levels": [{"level": lv, "passed_year": y} for lv, y in levels],
                    "places": [{"since": since and _iso(since), "township_code": town,
                                "status": status} for since, town, status in places]}
        data = {"holder_id": previous["data"]["holder_id"] if previous else str(uuid.uuid4()),
                "township_code": places[-1][1], "level": levels[-1][0],
                "passed_year": levels[-1][1], "employer_kind": None, "status": places[-1][2],
                "timeline": timeline, "effective_date": _iso(day)}
        if previous is None:
            return self.event("certificate.recorded.v1", f"certificate/{data['holder_id']}", data)
        data.update(changed_fields=["status"], previous_timeline=previous["data"]["timeline"])
        return self.event("certificate.changed.v1", f"certificate/{data['holder_id']}", data)

    def volunteer(self, day):
        data = {"volunteer_id": str(uuid.uuid4()), "township_code": self.township,
                "sex": "female", "age_band": "18-44", "effective_date": _iso(day)}
        return self.event("volunteer.registered.v1", f"volunteer/{data['volunteer_id']}", data)

    def volunteer_hours(self, day, minutes=120):
        data = {"volunteer_id": str(uuid.uuid4()), "township_code": self.township,
                "minutes": minutes, "activity": "visit", "visit_id": str(uuid.uuid4()),
                "effective_date": _iso(day)}
        return self.event("volunteer.hours_logged.v1", f"volunteer/{data['volunteer_id']}", data)

    def referral(self, client, day, status="referred", previous=None):
        data = {"client_id": client["client_id"], "township_code": client["township_code"],
                "categories": client["categories"], "age_group": client["age_group"],
                "age_band": client["age_band"], "referral_id": str(uuid.uuid4()),
                "provider_id": str(uuid.uuid4()), "need_id": None, "kind": "medical_care",
                "status": status, "effective_date": _iso(day)}
        if previous:
            data["previous_status"] = previous
            return self.event("referral.status_changed.v1", f"referral/{data['referral_id']}",
                              data)
        return self.event("referral.created.v1", f"referral/{data['referral_id']}", data)
