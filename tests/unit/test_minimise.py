"""What an aggregator keeps of a county's event (stats/minimise.py): no village, no risk, no
county identifier, and still every province figure exactly as the whole event gives it."""
import base64
import json
import os
import uuid

import pytest

from stats import domain
from stats.minimise import Minimiser
from stats.role import StatsConfig
from stats.rollups import Rollups
from stats.sample import Sample

S = Sample(county="341721", township="341721100", village="341721100001")
PROVINCE = Rollups(StatsConfig(role="province", province_code="340000"))
GONE = ("village_code", "previous_village_code", "risk_level", "previous_risk_level",
        "assessed_risk_level", "risk_flags", "age_band", "sex", "subject")


def key():
    return base64.b64encode(os.urandom(32)).decode()


def every_kind_of_event():
    elder = S.client(["solitary_elderly"], "elderly", "high")
    child = S.client(["child_in_difficulty"], "child", "critical")
    allocation = S.allocation(elder, "2023-03-01", 20_000)
    visit = S.visit_overdue(elder, "2023-01-01", 5)
    transferred = S.client_event("transferred", dict(child, township_code="341721101",
                                                     village_code="341721101001"), "2023-04-01",
                                 previous_township_code="341721100",
                                 previous_village_code="341721100001")
    holder = S.certificate("2023-02-01", [("assistant", 2021)])
    return [S.registered(elder, "2023-01-02"), S.registered(child, "2023-01-03"),
            S.updated(child, "2023-02-01", categories=["child_in_difficulty",
                                                        "left_behind_child"]),
            transferred, S.closed(elder, "2023-06-01", "moved"),
            visit, S.visit_completed(elder, "2023-01-20", delay_days=14,
                                     visit_id=visit["data"]["visit_id"]),
            S.visit_missed(child, "2023-02-02"), S.visit_scheduled(child, "2023-03-03"),
            S.activity("2023-05-05", [elder, child], attendees={
                "total": 6, "by_age_group": {"elderly": 4}, "by_sex": {"female": 5}}),
            S.donation("2023-01-05", 100_000), S.donation("2023-01-06", value_fen=9_000),
            allocation, S.reversal(allocation, "2023-03-02"),
            S.allocation(child, "2023-03-05", 30_000, kind="goods"),
            S.need(elder, "2023-02-01"), S.need(elder, "2023-02-03", met=True),
            S.worker("2023-01-01", "assistant", 2022), S.volunteer("2023-01-01"),
            S.volunteer_hours("2023-01-02"), S.referral(child, "2023-02-01"),
            S.referral(child, "2023-02-05", "completed", previous="accepted"),
            holder, S.certificate("2023-08-01", [("assistant", 2021), ("intermediate", 2023)],
                                  previous=holder)]


def province_rows(events):
    """What the province adds up of these events: every fact and the stocks of active clients
    and open overdue visits, as rollup rows, without risk (the province keeps none)."""
    facts = [f for e in events for f in domain.facts_of(e)]
    by_client = {}
    for e in events:
        if e["type"] in domain.CLIENT_TYPES:
            by_client.setdefault(e["data"]["client_id"], []).append(domain.client_state(e))
    facts += [f for states in by_client.values() for f in domain.client_contribution(states)]
    flags = {}
    for e in events:
        if e["type"] in domain.VISIT_FLAG_TYPES:
            visit = e["data"]["visit_id"]
            flags[visit] = domain.visit_flags_after(flags.get(visit), e)
    facts += [f for f in flags.values() for f in domain.visit_contribution(f)]
    rows = PROVINCE.rows(facts)
    return {k: n for k, n in rows.items() if not k[6].startswith("risk:") and n}


def test_the_province_adds_up_the_same_from_what_it_keeps():
    events, minimiser = every_kind_of_event(), Minimiser(key())
    kept = [minimiser.event(e) for e in events]
    assert province_rows(kept) == province_rows(events)
    assert not [r for r in province_rows(kept) if r[6].startswith("risk:")]


def test_nothing_of_the_village_the_risk_or_the_countys_ids_is_kept():
    events = every_kind_of_event()
    minimiser = Minimiser(key())
    ids = {v for e in events for v in _ids(e["data"])}
    assert len(ids) > 20
    for event in events:
        kept = minimiser.event(event)
        text = json.dumps(kept, ensure_ascii=False)
        assert not [name for name in GONE if f'"{name}"' in text], event["type"]
        assert "341721100001" not in text and "self_harm" not in text
        assert not [i for i in ids if i in text], event["type"]
        assert set(kept) <= {"specversion", "id", "source", "type", "time", "datacontenttype",
                             "data"}
        assert kept["id"] == event["id"] and kept["source"] == event["source"]
        assert all(uuid.UUID(i).version == 8 for i in _ids(kept["data"]))


def test_keeping_is_idempotent_and_the_same_id_has_the_same_pseudonym():
    first, other = Minimiser(k := key()), Minimiser(key())
    for event in every_kind_of_event():
        kept = first.event(event)
        assert first.event(kept) == kept
        assert Minimiser(k).event(event) == kept               # after a restart, a rebuild
        if "client_id" in event["data"]:
            assert other.event(event)["data"]["client_id"] != kept["data"]["client_id"]
    client = str(uuid.uuid4())
    assert first.pseudonym(client) == first.pseudonym(client.upper()) == first.pseudonym(
        client.replace("-", ""))


def test_a_malformed_identifier_is_refused_unless_the_type_is_unknown():
    event = S.registered(S.client(), "2023-01-01")
    event["data"]["client_id"] = "x"
    with pytest.raises(ValueError):
        Minimiser(key()).event(event)
    assert uuid.UUID(Minimiser(key()).event(event, strict=False)["data"]["client_id"])
    with pytest.raises(ValueError):
        Minimiser("")                                # no HUB_DATA_KEY: the aggregator stops


def _ids(value):
    if isinstance(value, dict):
        for k, v in value.items():
            if k.endswith("_id") and isinstance(v, str):
                yield v
            elif k.endswith("_ids") and isinstance(v, list):
                yield from v
            else:
                yield from _ids(v)
    elif isinstance(value, list):
        for v in value:
            yield from _ids(v)
