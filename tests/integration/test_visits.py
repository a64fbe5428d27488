"""The visits service over the real broker and database: plans that follow intake, the visit API,
the overdue sweep, verification rounds, group activities and the events it publishes."""
import json
import os
import subprocess
import sys
import time
import uuid
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import kombu
import pytest
import requests

from hub import topology
from hub.events import check_event, make_event
from support.hub import client_body, running_hub, test_settings

TODAY = date.today()
GUARDIAN = {"name": "监护人", "phone": "13900002222", "relation": "祖母"}


@pytest.fixture(scope="module")
def vhub(settings):
    """intake, visits and the gateway on a hub of their own (database prefix, exchange, ports)."""
    own = test_settings(prefix=f"visits{os.getpid()}", HUB_SERVICES="intake,visits",
                        HUB_PORT_OFFSET=str(settings.port_offset + 5))
    with running_hub(own, ["intake", "visits", "gateway"]) as hub:
        yield hub


@pytest.fixture(scope="module")
def api(vhub):
    return vhub.client()


# -- helpers --------------------------------------------------------------------------------------
def eventually(probe, timeout=20, what="the condition"):
    deadline = time.monotonic() + timeout
    while True:
        result = probe()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def register(api, **kwargs):
    resp = api.post("/clients", json=client_body(**kwargs))
    assert resp.status_code == 201, resp.text
    return resp.json()


def visits_of(api, client_id, **filters):
    resp = api.get("/visits", params={"client_id": client_id, **filters})
    assert resp.status_code == 200, resp.text
    return resp.json()["items"]


def open_visit(api, client_id, kind="routine", check=lambda v: True):
    def probe():
        found = [v for v in visits_of(api, client_id, kind=kind)
                 if v["status"] in ("scheduled", "due", "overdue") and check(v)]
        return found[0] if found else None
    return eventually(probe, what=f"an open {kind} visit of client {client_id}")


def days(n):
    return (TODAY + timedelta(days=n)).isoformat()


def outbox(vhub, event_type, visit_id=None):
    with vhub.db("visits") as conn:
        rows = conn.execute("SELECT event FROM hub_outbox WHERE type = %s ORDER BY position",
                            (event_type,)).fetchall()
    found = [r[0] for r in rows]
    if visit_id:
        found = [e for e in found if e["data"].get("visit_id") == visit_id]
    return found


def workers_of(api, township):
    resp = api.get("/visits/workers", params={"township_code": township})
    assert resp.status_code == 200, resp.text
    return resp.json()["items"]


def complete(api, visit, **extra):
    body = {"visited_at": datetime.now().isoformat(timespec="seconds"), "mode": "home", **extra}
    return api.post(f"/visits/{visit['id']}/complete", json=body)


# -- plans follow intake ----------------------------------------------------------------------------
def test_critical_client_gets_a_visit_due_within_24_hours(api, vhub):
    client = register(api, age=19, categories=["extreme_poverty"], risk_level="critical",
                      risk_flags=["self_harm", "lives_alone"])
    visit = open_visit(api, client["id"])
    assert date.fromisoformat(visit["due_on"]) <= TODAY + timedelta(days=1)
    assert visit["status"] in ("scheduled", "due") and visit["scheduled_reason"] == "registered"
    station = {w["id"] for w in workers_of(api, "341721100")}
    assert visit["worker_id"] in station and visit["township_code"] == "341721100"
    assert outbox(vhub, "visit.scheduled.v1", visit["id"])


def test_raising_the_risk_moves_the_next_visit_earlier(api):
    client = register(api, age=70, categories=["solitary_elderly"], risk_level="medium")
    first = open_visit(api, client["id"])
    assert first["due_on"] == days(30)
    resp = api.post(f"/clients/{client['id']}/risk", json={"risk_level": "high"})
    assert resp.status_code == 200, resp.text
    moved = open_visit(api, client["id"], check=lambda v: v["due_on"] == days(14))
    assert moved["id"] == first["id"] and moved["previous_due_on"] == days(30)
    assert moved["scheduled_reason"] == "risk_changed"
    api.post(f"/clients/{client['id']}/risk", json={"risk_level": "critical",
                                                    "risk_flags": ["self_harm"]})
    open_visit(api, client["id"], check=lambda v: v["due_on"] == days(1))


def test_a_stricter_category_moves_the_next_visit_earlier(api):
    client = register(api, age=70, categories=["left_behind_elderly"], risk_level="low")
    assert open_visit(api, client["id"])["due_on"] == days(90)
    resp = api.patch(f"/clients/{client['id']}", json={"categories": ["solitary_elderly"]})
    assert resp.status_code == 200, resp.text
    moved = open_visit(api, client["id"], check=lambda v: v["due_on"] == days(30))
    assert moved["scheduled_reason"] == "categories_changed"


def test_closing_a_client_cancels_future_visits_and_reopening_resumes(api, vhub):
    client = register(api, age=66, categories=["left_behind_elderly"], risk_level="high")
    visit = open_visit(api, client["id"])
    resp = api.post(f"/clients/{client['id']}/close", json={"reason": "moved"})
    assert resp.status_code == 200, resp.text
    gone = eventually(lambda: [v for v in visits_of(api, client["id"]) if v["status"] == "cancelled"],
                      what="the cancelled visit")
    assert gone[0]["id"] == visit["id"] and gone[0]["cancel_reason"] == "client_closed"
    assert not [v for v in visits_of(api, client["id"])
                if v["status"] in ("scheduled", "due", "overdue")]
    event = outbox(vhub, "visit.cancelled.v1", visit["id"])[0]
    assert event["data"]["reason"] == "client_closed"
    api.post(f"/clients/{client['id']}/reopen", json={})
    resumed = open_visit(api, client["id"])
    assert resumed["scheduled_reason"] == "reopened" and resumed["due_on"] == days(14)


def test_a_transferred_client_s_visits_move_to_the_new_station(api):
    client = register(api, age=75, categories=["solitary_elderly"])
    open_visit(api, client["id"])
    resp = api.post(f"/clients/{client['id']}/transfer", json={"village_code": "341721101201"})
    assert resp.status_code == 200, resp.text
    moved = open_visit(api, client["id"], check=lambda v: v["township_code"] == "341721101")
    assert moved["village_code"] == "341721101201" and moved["scheduled_reason"] == "transferred"
    assert moved["worker_id"] in {w["id"] for w in workers_of(api, "341721101")}


def _client_event(vhub, client_id, event_id=None, type_key="client.registered.v1",
                  risk_level="high", time=None, **extra):
    data = {"client_id": client_id, "county_code": "341721", "township_code": "341721102",
            "village_code": "341721102001", "categories": ["solitary_elderly"],
            "age_group": "elderly", "age_band": "70-79", "sex": "female", "risk_level": risk_level,
            "risk_flags": ["lives_alone"], "status": "active", "effective_date": TODAY.isoformat(),
            **extra}
    return make_event(type_key, "/hub/341721/intake", f"client/{client_id}", data,
                      event_id=event_id, time=time)


def _publish(vhub, *events):
    settings = vhub.settings
    with kombu.Connection(settings.amqp_uri, connect_timeout=5) as conn:
        producer = conn.Producer()
        for event in events:
            producer.publish(json.dumps(event), exchange=topology.exchange(settings),
                             routing_key=event["type"], content_type="application/json",
                             content_encoding="utf-8", delivery_mode=2)


def _duplicates_seen():
    from prometheus_client import REGISTRY
    return REGISTRY.get_sample_value("hub_events_duplicate_total",
                                     {"service": "visits", "type": "client.registered.v1"}) or 0


def test_a_duplicated_client_registered_event_creates_one_plan(api, vhub):
    client_id = str(uuid.uuid4())
    event = _client_event(vhub, client_id)
    before = _duplicates_seen()
    _publish(vhub, event, event)                        # the same event delivered twice
    open_visit(api, client_id)
    eventually(lambda: _duplicates_seen() >= before + 1, what="the duplicate to be recognised")
    again = _client_event(vhub, client_id)             # the registration again, as a new event
    _publish(vhub, again)
    with vhub.db("visits") as conn:
        eventually(lambda: conn.execute("SELECT 1 FROM hub_inbox WHERE event_id = %s",
                                        (again["id"],)).fetchone(),
                   what="the repeated registration to be processed")
        plans = conn.execute("SELECT count(*) FROM visit_plans WHERE client_id = %s",
                             (client_id,)).fetchone()[0]
        visits = conn.execute("SELECT count(*) FROM visits WHERE client_id = %s",
                              (client_id,)).fetchone()[0]
    assert (plans, visits) == (1, 1)


def test_an_unknown_client_s_event_starts_a_plan_and_a_stale_event_changes_nothing(api, vhub):
    client_id = str(uuid.uuid4())
    now = datetime.now(timezone.utc)
    newer = _client_event(vhub, client_id, type_key="client.risk_changed.v1", risk_level="high",
                          previous_risk_level="medium", time=now)
    _publish(vhub, newer)
    visit = open_visit(api, client_id)
    assert visit["due_on"] == days(14)
    older = _client_event(vhub, client_id, type_key="client.risk_changed.v1", risk_level="low",
                          previous_risk_level="medium", time=now - timedelta(minutes=5))
    _publish(vhub, older)
    with vhub.db("visits") as conn:
        eventually(lambda: conn.execute("SELECT 1 FROM hub_inbox WHERE event_id = %s",
                                        (older["id"],)).fetchone(), what="the stale event")
        assert conn.execute("SELECT risk_level FROM visit_clients WHERE client_id = %s",
                            (client_id,)).fetchone()[0] == "high"
    assert open_visit(api, client_id)["due_on"] == days(14)


def test_health_and_openapi_include_visits(vhub):
    base = vhub.settings.service_url("gateway") + "/api/v1"
    health = requests.get(base + "/health")
    assert health.status_code == 200 and health.json()["services"]["visits"] == "ready"
    paths = requests.get(base + "/openapi.json").json()["paths"]
    for path in ("/api/v1/visits", "/api/v1/visits/{visit_id}/complete", "/api/v1/visit-policy",
                 "/api/v1/verification-rounds/{round_id}", "/api/v1/activities"):
        assert path in paths


# -- the visit API ------------------------------------------------------------------------------------
def test_completing_a_visit_plans_the_next_and_sends_a_differing_risk_to_intake(api, vhub):
    client = register(api, age=72, categories=["solitary_elderly"], risk_level="medium",
                      effective_date=days(-10))
    visit = open_visit(api, client["id"])
    assert visit["due_on"] == days(20)
    visited_at = datetime.combine(TODAY - timedelta(days=4), datetime.min.time()).replace(hour=10)
    resp = complete(api, visit, visited_at=visited_at.isoformat(), notes="老人身体尚可",
                    needs=[{"kind": "goods", "description": "冬季棉被一床"}],
                    risk_assessment={"risk_level": "high", "risk_flags": ["lives_alone"]})
    assert resp.status_code == 200, resp.text
    done = resp.json()
    assert done["status"] == "done" and done["visited_on"] == days(-4)
    assert done["delay_days"] == -24 and done["completed_by"] == visit["worker_id"]
    nxt = open_visit(api, client["id"])
    assert nxt["due_on"] == days(-4 + 14)                # 14 days: the risk the visit found
    assert nxt["scheduled_reason"] == "completed" and nxt["worker_id"] == visit["worker_id"]
    completed = outbox(vhub, "visit.completed.v1", visit["id"])[0]["data"]
    assert completed["categories"] == ["solitary_elderly"] and completed["needs_count"] == 1
    needs = outbox(vhub, "needs.identified.v1", visit["id"])[0]["data"]
    assert [n["kind"] for n in needs["needs"]] == ["goods"]
    assert "description" not in json.dumps(needs)
    assessed = outbox(vhub, "visit.risk_assessed.v1", visit["id"])[0]["data"]
    assert (assessed["risk_level"], assessed["previous_risk_level"]) == ("high", "medium")
    # intake records the assessment (one source of truth for risk) ...
    eventually(lambda: api.get(f"/clients/{client['id']}").json()["risk_level"] == "high",
               what="intake to record the assessed risk")
    # ... and its client.risk_changed leaves the visit planned with that risk where it is
    with vhub.db("visits") as conn:
        eventually(lambda: conn.execute("SELECT risk_level FROM visit_clients WHERE client_id = %s",
                                        (client["id"],)).fetchone()[0] == "high",
                   what="visits to hear of the risk change")
    assert open_visit(api, client["id"])["due_on"] == days(10)
    again = complete(api, done)
    assert again.status_code == 409 and "status" in again.json()["error"]["fields"]


def test_a_missed_visit_plans_a_retry_within_a_week(api, vhub):
    client = register(api, age=68, categories=["left_behind_elderly"], risk_level="low")
    visit = open_visit(api, client["id"])
    resp = api.post(f"/visits/{visit['id']}/missed", json={"reason": "not_home",
                                                          "effective_date": days(-1)})
    assert resp.status_code == 200, resp.text
    assert resp.json()["status"] == "missed" and resp.json()["missed_on"] == days(-1)
    retry = open_visit(api, client["id"])
    assert retry["due_on"] == days(6) and retry["scheduled_reason"] == "missed"
    assert outbox(vhub, "visit.missed.v1", visit["id"])[0]["data"]["reason"] == "not_home"


def test_reassign_within_the_station_and_within_capacity(api, vhub):
    town = "341721108"
    first = open_visit(api, register(api, age=70, village=town + "001",
                                     categories=["solitary_elderly"])["id"])
    second = open_visit(api, register(api, age=71, village=town + "001",
                                      categories=["solitary_elderly"])["id"])
    assert first["worker_id"] != second["worker_id"]            # load is balanced
    staff = [w["id"] for w in workers_of(api, town)]
    idle = next(w for w in staff if w not in (first["worker_id"], second["worker_id"]))
    with vhub.db("visits") as conn:
        conn.execute("UPDATE workers SET weekly_capacity = 1 WHERE township_code = %s", (town,))
    try:
        full = api.post(f"/visits/{first['id']}/reassign", json={"worker_id": second["worker_id"]})
        assert full.status_code == 409 and "worker_id" in full.json()["error"]["fields"]
        elsewhere = workers_of(api, "341721100")[0]["id"]
        wrong = api.post(f"/visits/{first['id']}/reassign", json={"worker_id": elsewhere})
        assert wrong.status_code == 422 and "worker_id" in wrong.json()["error"]["fields"]
        nobody = api.post(f"/visits/{first['id']}/reassign", json={"worker_id": str(uuid.uuid4())})
        assert nobody.status_code == 422 and "worker_id" in nobody.json()["error"]["fields"]
        moved = api.post(f"/visits/{first['id']}/reassign", json={"worker_id": idle})
        assert moved.status_code == 200, moved.text
        assert moved.json()["worker_id"] == idle and moved.json()["reassigned_on"] == days(0)
    finally:
        with vhub.db("visits") as conn:
            conn.execute("""UPDATE workers SET weekly_capacity = CASE kind WHEN 'volunteer' THEN 10
                            ELSE 20 END WHERE township_code = %s""", (town,))
    event = outbox(vhub, "visit.scheduled.v1", first["id"])[-1]["data"]
    assert event["reason"] == "reassigned" and event["worker_id"] == idle


def test_bad_input_is_a_4xx_naming_the_field(api, vhub):
    visit = open_visit(api, register(api, age=80, categories=["solitary_elderly"])["id"])
    url = f"/visits/{visit['id']}"
    cases = [
        (url + "/complete", {"visited_at": datetime.now().isoformat(), "mode": "teleport"}, "mode"),
        (url + "/complete", {"visited_at": (datetime.now() + timedelta(days=2)).isoformat(),
                             "mode": "home"}, "visited_at"),
        (url + "/complete", {"mode": "home"}, "visited_at"),
        (url + "/complete", {"visited_at": days(-400) + "T10:00:00", "mode": "home"}, "visited_at"),
        (url + "/complete", {"visited_at": datetime.now().isoformat(), "mode": "home",
                             "needs": [{"kind": "spaceship", "description": "x"}]}, "needs"),
        (url + "/complete", {"visited_at": datetime.now().isoformat(), "mode": "home",
                             "risk_assessment": {"risk_level": "extreme"}}, "risk_assessment"),
        (url + "/complete", {"visited_at": datetime.now().isoformat(), "mode": "home",
                             "worker_id": str(uuid.uuid4())}, "worker_id"),
        (url + "/missed", {"reason": "bored"}, "reason"),
        (url + "/missed", {"reason": "refused", "effective_date": days(3)}, "effective_date"),
        (url + "/reassign", {"worker_id": "someone"}, "worker_id"),
        ("/activities", {"station": "341721100", "kind": "lecture", "title": "讲座",
                         "held_on": days(0), "participants": [str(uuid.uuid4())]}, "participants"),
        ("/activities", {"station": "110101001", "kind": "lecture", "title": "讲座",
                         "held_on": days(0), "participants": [visit["client_id"]]}, "station"),
        ("/activities", {"station": "341721100", "kind": "dance", "title": "x",
                         "held_on": days(0), "participants": [visit["client_id"]]}, "kind"),
        ("/verification-rounds", {"title": "核查", "categories": ["solitary_elderly"],
                                  "deadline": days(10), "township_codes": ["341721999"]},
         "township_codes"),
        ("/verification-rounds", {"title": "核查", "categories": ["solitary_elderly"],
                                  "deadline": days(-10)}, "deadline"),
        ("/verification-rounds", {"title": "核查", "categories": [], "deadline": days(5)},
         "categories"),
    ]
    for path, body, field in cases:
        resp = api.post(path, json=body)
        assert 400 <= resp.status_code < 500, (path, body, resp.text)
        assert field in resp.json()["error"]["fields"], (path, body, resp.json())
    policy = api.get("/visit-policy").json()
    bad_policies = [
        ({**policy, "escalation": {"township_after_days": 30, "county_after_days": 7}}, "escalation"),
        ({**policy, "risk_levels": {"critical": 7, "high": 14, "medium": 30}}, "risk_levels"),
        ({**policy, "categories": {"astronaut": 3}}, "categories"),
        ({**policy, "grace_days": -1}, "grace_days"),
    ]
    for body, field in bad_policies:
        body = {k: v for k, v in body.items()
                if k not in ("county_code", "version", "effective_date", "updated_by", "updated_at")}
        resp = api.put("/visit-policy", json=body)
        assert resp.status_code == 422 and field in resp.json()["error"]["fields"], resp.text
    for query, field in (({"status": "lost"}, "status"), ({"due_from": days(5), "due_to": days(1)},
                                                          "due_to"),
                         ({"worker_id": "x"}, "worker_id"), ({"escalation": "province"},
                                                             "escalation")):
        resp = api.get("/visits", params=query)
        assert resp.status_code == 422 and field in resp.json()["error"]["fields"], resp.text
    assert api.get("/visits/not-a-uuid").status_code == 404
    assert api.get(f"/visits/{uuid.uuid4()}").status_code == 404
    assert api.get(f"/verification-rounds/{uuid.uuid4()}").status_code == 404
    raw = api.post(url + "/complete", data=b"{", headers={"Content-Type": "application/json"})
    assert raw.status_code == 400
    viewer = vhub.client("province_viewer")
    assert viewer.post(url + "/missed", json={"reason": "refused"}).status_code == 403
    worker = vhub.client("station_worker", township="341721100")
    assert worker.put("/visit-policy", json={}).status_code == 403     # role before body
    elsewhere = vhub.client("station_worker", township="341721101")
    resp = elsewhere.post(url + "/missed", json={"reason": "refused"})
    assert resp.status_code == 404          # another station's visit: as if it did not exist
    assert api.get(url).json()["status"] == visit["status"]     # and nothing was changed


# -- overdue sweep and escalation ---------------------------------------------------------------------
def test_overdue_sweep_marks_and_escalates_by_level(api, vhub):
    town = "341721109"
    late = {}
    for registered_days_ago in (2, 5, 12, 40):      # critical: first visit due the day after
        client = register(api, age=30, village=town + "001", categories=["other_hardship"],
                          risk_level="critical", effective_date=days(-registered_days_ago))
        late[registered_days_ago] = open_visit(
            api, client["id"], check=lambda v, n=registered_days_ago: v["due_on"] == days(1 - n))
    assert late[2]["status"] == "due" and late[2]["escalation"] == "none"
    assert late[5]["status"] == "overdue" and late[5]["escalation"] == "none"
    assert late[12]["status"] == "overdue" and late[12]["escalation"] == "township"
    assert late[40]["status"] == "overdue" and late[40]["escalation"] == "county"
    assert late[40]["days_late"] == 39
    for n, level in ((12, "township"), (40, "county")):
        listed = api.get("/visits", params={"township_code": town, "escalation": level}).json()
        assert [v["id"] for v in listed["items"]] == [late[n]["id"]]
        escalated = outbox(vhub, "visit.escalated.v1", late[n]["id"])
        assert [e["data"]["level"] for e in escalated] == [level]
    assert not outbox(vhub, "visit.overdue.v1", late[2]["id"])
    assert outbox(vhub, "visit.overdue.v1", late[5]["id"])[0]["data"]["days_overdue"] == 4
    # time passes for the visit that was only due: the sweep finds it overdue, then late enough
    # for the township, and a second sweep the same day changes nothing
    with vhub.db("visits") as conn:
        conn.execute("UPDATE visits SET due_on = due_on - 9 WHERE id = %s", (late[2]["id"],))
    swept = api.post("/visits/overdue-sweep")
    assert swept.status_code == 200, swept.text
    assert swept.json()["became_overdue"] >= 1 and swept.json()["escalated_to_township"] >= 1
    now = api.get(f"/visits/{late[2]['id']}").json()
    assert (now["status"], now["escalation"]) == ("overdue", "township")
    assert [e["data"]["level"] for e in outbox(vhub, "visit.escalated.v1", late[2]["id"])] \
        == ["township"]
    again = api.post("/visits/overdue-sweep").json()
    assert again["became_overdue"] == 0 and again["escalated_to_county"] == 0
    summary = api.get("/visits/summary", params={"township_code": town}).json()["items"][0]
    assert summary["escalated_to_township"] == 2 and summary["escalated_to_county"] == 1
    metrics = requests.get(vhub.settings.service_url("visits") + "/metrics").text
    assert f'hub_visits_overdue{{escalation="county",township="{town}"}} 1.0' in metrics
    assert f'hub_visits_overdue{{escalation="township",township="{town}"}} 2.0' in metrics
    # completing a late visit records its delay in the histogram
    assert complete(api, late[40]).status_code == 200
    metrics = requests.get(vhub.settings.service_url("visits") + "/metrics").text
    assert 'hub_visit_completion_delay_days_bucket{kind="routine",le="60.0"}' in metrics
    assert api.post("/visits/overdue-sweep", headers={
        "Authorization": f"Bearer {vhub.token('station_worker', township=town)}"}).status_code == 403


# -- verification rounds ------------------------------------------------------------------------------
def test_verification_round_plans_a_visit_per_client_and_reports_progress(api, vhub):
    town = "341721110"
    children = [register(api, age=10, village=town + "201", categories=["left_behind_child"],
                         guardian=GUARDIAN) for _ in range(3)]
    register(api, age=70, village=town + "201", categories=["solitary_elderly"])
    for child in children:
        open_visit(api, child["id"])                 # visits has heard of them
    resp = api.post("/verification-rounds", json={
        "title": "2026年困境儿童对象核查", "categories": ["left_behind_child"],
        "deadline": days(20), "township_codes": [town]})
    assert resp.status_code == 201, resp.text
    round_ = resp.json()
    assert round_["progress"]["planned"] == 3 and round_["progress"]["done"] == 0
    checks = api.get("/visits", params={"round_id": round_["id"]}).json()["items"]
    assert sorted(v["client_id"] for v in checks) == sorted(c["id"] for c in children)
    assert all(v["kind"] == "verification" and v["due_on"] <= days(20) for v in checks)
    missing = complete(api, checks[0])
    assert missing.status_code == 422 and "verification" in missing.json()["error"]["fields"]
    done = complete(api, checks[0], verification={"info_correct": False,
                                                  "changes": "监护人电话已更换"})
    assert done.status_code == 200, done.text
    progress = api.get(f"/verification-rounds/{round_['id']}").json()
    assert progress["progress"]["done"] == 1 and progress["progress"]["info_changed"] == 1
    assert progress["progress"]["percent_done"] == 33.3
    assert progress["by_township"][0]["township_code"] == town
    closed = api.post(f"/verification-rounds/{round_['id']}/close", json={})
    assert closed.status_code == 200, closed.text
    assert closed.json()["status"] == "closed" and closed.json()["progress"]["cancelled"] == 2
    again = api.post(f"/verification-rounds/{round_['id']}/close", json={})
    assert again.status_code == 409
    assert outbox(vhub, "verification.round_opened.v1")[-1]["data"]["visits_planned"] == 3
    assert outbox(vhub, "verification.round_closed.v1")[-1]["data"]["done"] == 1
    listed = api.get("/verification-rounds", params={"status": "closed"}).json()["items"]
    assert round_["id"] in [r["id"] for r in listed]


# -- group activities ------------------------------------------------------------------------------------
def test_an_activity_counts_one_person_time_per_participant(api, vhub):
    elder = register(api, age=77, categories=["solitary_elderly"])
    child = register(api, age=9, categories=["left_behind_child", "child_in_difficulty"],
                     guardian=GUARDIAN)
    for c in (elder, child):
        open_visit(api, c["id"])
    worker = workers_of(api, "341721100")[0]["id"]
    resp = api.post("/activities", json={
        "station": "341721100", "kind": "free_clinic", "title": "重阳节义诊",
        "held_on": days(-3), "participants": [elder["id"], child["id"]], "workers": [worker],
        "volunteers": [str(uuid.uuid4())]})
    assert resp.status_code == 201, resp.text
    activity = resp.json()
    assert activity["person_times"] == 2
    assert activity["person_times_by_category"] == {
        "child_in_difficulty": 1, "left_behind_child": 1, "solitary_elderly": 1}
    assert api.get(f"/activities/{activity['id']}").json()["person_times"] == 2
    listed = api.get("/activities", params={"station": "341721100", "held_from": days(-3)}).json()
    assert activity["id"] in [a["id"] for a in listed["items"]]
    event = outbox(vhub, "activity.held.v1")[-1]["data"]
    assert event["activity_id"] == activity["id"] and event["person_times"] == 2
    twice = api.post("/activities", json={
        "station": "341721100", "kind": "lecture", "title": "讲座", "held_on": days(0),
        "participants": [elder["id"], elder["id"]]})
    assert twice.status_code == 422 and "participants" in twice.json()["error"]["fields"]


def test_an_activity_counts_its_unregistered_attendees_without_naming_them(api, vhub):
    elder = register(api, age=81, categories=["solitary_elderly"])
    open_visit(api, elder["id"])            # visits knows the client
    clinic = {"station": "341721100", "kind": "free_clinic", "title": "罗江义诊",
              "held_on": days(-2), "participants": [elder["id"]],
              "attendees": {"total": 40, "by_age_group": {"elderly": 25, "child": 5},
                            "by_sex": {"female": 22, "male": 15}}}
    resp = api.post("/activities", json=clinic)
    assert resp.status_code == 201, resp.text
    assert resp.json()["person_times"] == 41 and resp.json()["attendees"]["total"] == 40
    event = outbox(vhub, "activity.held.v1")[-1]["data"]
    assert event["person_times"] == 41 and event["attendees"] == clinic["attendees"]
    assert [p["client_id"] for p in event["participants"]] == [elder["id"]]
    talk = api.post("/activities", json={"station": "341721100", "kind": "lecture",
                                         "title": "防诈骗讲座", "held_on": days(-1),
                                         "attendees": {"total": 12}})
    assert talk.status_code == 201 and talk.json()["person_times"] == 12, talk.text
    assert talk.json()["participants"] == [] and outbox(vhub, "activity.held.v1")[-1][
        "data"]["attendees"] == {"total": 12, "by_age_group": {}, "by_sex": {}}
    with vhub.db("visits") as conn:
        before = conn.execute("SELECT count(*) FROM activities").fetchone()[0]
    for attendees, field in (({"total": 10, "by_age_group": {"elderly": 8, "child": 3}},
                              "by_age_group"),
                             ({"total": 10, "by_sex": {"female": 11}}, "by_sex"),
                             ({"total": 10, "by_age_group": {"martian": 1}}, "by_age_group"),
                             ({"total": -1}, "total"), ({"by_sex": {"male": 1}}, "total")):
        resp = api.post("/activities", json={**clinic, "attendees": attendees})
        assert resp.status_code == 422, (attendees, resp.text)
        assert field in resp.json()["error"]["fields"]["attendees"], resp.text
    nobody = api.post("/activities", json={**clinic, "participants": [],
                                           "attendees": {"total": 0}})
    assert nobody.status_code == 422 and "participants" in nobody.json()["error"]["fields"]
    with vhub.db("visits") as conn:
        assert conn.execute("SELECT count(*) FROM activities").fetchone()[0] == before


# -- the policy (last: it re-dates every open plan) -------------------------------------------------------
def test_policy_is_data_and_changing_it_redates_open_plans(api, vhub):
    policy = api.get("/visit-policy").json()
    assert policy["risk_levels"] == {"critical": 7, "high": 14, "medium": 30, "low": 90}
    assert policy["categories"]["left_behind_child"] == 30 and policy["county_code"] == "341721"
    client = register(api, age=45, categories=["other_hardship"], risk_level="low")
    assert open_visit(api, client["id"])["due_on"] == days(90)
    body = {k: policy[k] for k in ("risk_levels", "categories", "first_visit_days", "grace_days",
                                   "missed_retry_days", "escalation")}
    stricter = {**body, "risk_levels": {**body["risk_levels"], "low": 60}}
    resp = api.put("/visit-policy", json=stricter)
    assert resp.status_code == 200, resp.text
    assert resp.json()["version"] == policy["version"] + 1 and resp.json()["rescheduled"] >= 1
    moved = open_visit(api, client["id"])
    assert moved["due_on"] == days(60) and moved["scheduled_reason"] == "policy_changed"
    assert api.get("/visit-policy").json()["risk_levels"]["low"] == 60
    assert api.put("/visit-policy", json=body).status_code == 200
    assert open_visit(api, client["id"])["due_on"] == days(90)


def test_a_visits_process_alone_knows_every_contract_it_consumes_and_publishes():
    code = ("import visits.service; from hub.events import REGISTRY; "
            "print(' '.join(sorted(REGISTRY)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).parents[2] / "services").stdout.split()
    for key in ("client.registered.v1", "client.risk_changed.v1", "client.closed.v1",
                "client.reopened.v1", "client.transferred.v1", "client.updated.v1",
                "visit.scheduled.v1", "visit.risk_assessed.v1", "needs.identified.v1"):
        assert key in out


def test_every_event_visits_wrote_matches_its_contract(vhub):
    with vhub.db("visits") as conn:
        rows = conn.execute("SELECT type, event FROM hub_outbox ORDER BY position").fetchall()
    assert len({t for t, _ in rows}) >= 10
    for _, event in rows:
        check_event(event)
        text = json.dumps(event, ensure_ascii=False)
        for secret in ("老人身体尚可", "冬季棉被", "监护人电话", "重阳节义诊"):
            assert secret not in text
