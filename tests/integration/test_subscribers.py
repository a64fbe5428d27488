"""Event subscribers over the real broker and databases, on a county hub running every service.

The issue's "done when": the example subscriber (docs/examples/subscriber.py, pika), run as its own
process against the hub, receives and validates every event type the hub publishes. Also: replay
since a time and after an event (the right events again, in order, only the bound types), what
the subscriber's broker user may not do, and the command's refusals.
"""
import json
import subprocess
import sys
import time
import uuid
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import amqp
import jsonschema
import kombu
import pytest
import requests
from click.testing import CliRunner

from hub.broker_admin import BrokerAdmin
from hub.manifest import data_services
from support.hub import client_body, new_id_number, running_hub, test_settings, wait_for
from tooling import asyncapi, demo, patterns, subscribers
from tooling.cli import main

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "docs" / "examples" / "subscriber.py"
TODAY = date.today()
GUARDIAN = {"name": "监护人", "phone": "13900002222", "relation": "祖母"}


@pytest.fixture(scope="module")
def full_hub(settings):
    """A county hub with every service, on its own database prefix, exchange and ports."""
    own = test_settings(prefix=f"sub{uuid.uuid4().hex[:6]}",
                        HUB_PORT_OFFSET=str(settings.port_offset + 20))
    with running_hub(own, [*data_services(), "gateway"]) as hub:
        try:
            yield hub
        finally:
            for sub in subscribers.list_subscribers(hub.settings):
                subscribers.delete(hub.settings, sub["name"])


@pytest.fixture(scope="module")
def api(full_hub):
    return full_hub.client()


@pytest.fixture(scope="module")
def admin(full_hub):
    return subscribers.broker_admin(full_hub.settings)


def cli(hub, *args, input=None):
    s = hub.settings
    env = {"HUB_DB_PREFIX": s.db_prefix, "HUB_PORT_OFFSET": str(s.port_offset),
           "HUB_SERVICES": ",".join(s.data_services()), "HUB_AMQP_URI": s.amqp_uri}
    return CliRunner().invoke(main, ["subscriber", *args], env=env, input=input)


def create(hub, name, events):
    result = cli(hub, "create", name, "--events", events)
    assert result.exit_code == 0, result.output
    uri = next(line.split(":", 1)[1].strip() for line in result.output.splitlines()
               if line.strip().startswith("AMQP URI"))
    assert "guest" not in uri and uri.startswith("amqp://")
    return uri


# -- the hub at work ---------------------------------------------------------------------------
def published_types(hub):
    found = set()
    for service in data_services():
        with hub.db(service) as conn:
            found |= {r[0] for r in conn.execute(
                "SELECT DISTINCT type FROM hub_outbox WHERE published_seq IS NOT NULL")}
    return found


def contract_types():
    return set(asyncapi.committed_document()["channels"])


def ok(resp, status=(200, 201)):
    assert resp.status_code in status, resp.text
    return resp.json()


def register(api, **kwargs):
    return ok(api.post("/clients", json=client_body(**kwargs)))["id"]


def open_visit(api, client_id, kind="routine"):
    def probe():
        items = ok(api.get("/visits", params={"client_id": client_id, "kind": kind}))["items"]
        return next((v for v in items if v["status"] in ("scheduled", "due", "overdue")), None)
    return wait_for(probe, timeout=20)


def days(n):
    return (TODAY + timedelta(days=n)).isoformat()


def accepted(call, status=(200, 201)):
    """Retry a call until its service has heard of what it refers to (events travel)."""
    return wait_for(lambda: (r := call()).status_code in status and r.json(), timeout=20)


def drive_every_event_type(hub, api):
    """The demo data set, then a day's work of every service: each event type at least once."""
    created, _ = demo.load(api.base_url, hub.token(), hub.settings.county)
    assert created == len(demo.CLIENTS)
    town, village = "341721102", "341721102201"
    elder = register(api, age=72, village=village, categories=["left_behind_elderly"])
    ok(api.patch(f"/clients/{elder}", json={"categories": ["solitary_elderly"]}))
    ok(api.post(f"/clients/{elder}/risk", json={"risk_level": "high"}))
    visit = open_visit(api, elder)
    ok(api.post(f"/visits/{visit['id']}/complete", json={
        "visited_at": f"{TODAY.isoformat()}T09:00:00", "mode": "home",
        "needs": [{"kind": "money", "description": "医药费"}],
        "risk_assessment": {"risk_level": "critical", "risk_flags": ["lives_alone"]}}))
    ok(api.post(f"/visits/{open_visit(api, elder)['id']}/missed", json={"reason": "not_home"}))
    register(api, age=30, categories=["other_hardship"], risk_level="critical",
             effective_date=days(-40))                       # overdue and escalated at once
    mover = register(api, age=66, categories=["left_behind_elderly"])
    ok(api.post(f"/clients/{mover}/transfer", json={"village_code": "341721101201"}))
    open_visit(api, mover)
    ok(api.post(f"/clients/{mover}/close", json={"reason": "moved"}))
    ok(api.post(f"/clients/{mover}/reopen", json={}))
    child = register(api, age=10, village=village, categories=["left_behind_child"],
                     guardian=GUARDIAN)
    open_visit(api, child)
    round_ = ok(api.post("/verification-rounds", json={
        "title": "困境儿童核查", "categories": ["left_behind_child"], "deadline": days(20),
        "township_codes": [town]}))
    ok(api.post(f"/verification-rounds/{round_['id']}/close", json={}))
    ok(api.post("/activities", json={"station": town, "kind": "lecture", "title": "防诈骗讲座",
                                     "held_on": days(0), "participants": [elder, child]}))
    # resources
    provider = ok(api.post("/providers", json={
        "name": "县福利院", "kind": "institution", "five_society": "social_resource",
        "services": ["nursing_home"]}))["id"]
    donation = ok(api.post("/donations", json={"provider_id": provider, "kind": "money",
                                                "amount_fen": 100_000}))["id"]
    need = wait_for(lambda: ok(api.get("/needs", params={"client_id": elder}))["items"],
                    timeout=20)[0]["id"]
    allocation = accepted(lambda: api.post("/allocations", json={
        "donation_id": donation, "client_id": elder, "amount_fen": 5_000, "need_id": need}))
    ok(api.post(f"/allocations/{allocation['id']}/reverse", json={"reason": "wrong_amount"}))
    referral = ok(api.post("/referrals", json={"client_id": elder, "provider_id": provider,
                                               "kind": "nursing_home"}))["id"]
    ok(api.post(f"/referrals/{referral}/status", json={"status": "accepted"}))
    ok(api.post("/projects", json={"title": "关爱老人", "budget_fen": 1_000_000,
                                   "provider_ids": [provider], "starts_on": days(0),
                                   "ends_on": days(90)}))
    volunteer = ok(api.post("/volunteers", json={"name": "志愿者", "id_number": new_id_number(35)}))
    ok(api.post(f"/volunteers/{volunteer['id']}/hours", json={"hours": 2, "activity": "other"}))
    worker = ok(api.post("/workers", json={"name": "社工", "weekly_capacity": 10,
                                           "certificate_level": "assistant",
                                           "certified_year": 2020, "township_code": town}))["id"]
    ok(api.post(f"/workers/{worker}/certify", json={"certificate_level": "intermediate",
                                                    "certified_year": 2024}))
    ok(api.post(f"/workers/{worker}/leave", json={"reason": "调动"}))
    holder = ok(api.post("/certificates", json={                         # certificate.recorded
        "certificate_number": f"SUB{uuid.uuid4().hex[:10]}", "name": "持证人",
        "level": "assistant", "passed_year": TODAY.year - 2, "township_code": town}))
    ok(api.patch(f"/certificates/{holder['id']}", json={                   # certificate.changed
        "level": "intermediate", "passed_year": TODAY.year - 1}))
    # stats
    ok(api.post(f"/stations/{town}/ratings", json={"year": TODAY.year - 1, "rating": "good"}))
    # the station network (station.opened when the county file's stations open at start)
    ok(api.post("/stations", json={"code": "SUB-1", "name": "大渡口镇志愿服务站",
                                   "tier": "service_point", "place_code": town,
                                   "opened_on": days(-1)}))
    ok(api.patch("/stations/SUB-1", json={"parent_code": town}))          # station.changed
    ok(api.patch("/stations/SUB-1", json={"closed_on": days(0)}))         # station.closed
    ok(api.post("/stats/signoff", json={"year": TODAY.year - 2,
                                        "code": hub.settings.county.code}))
    # accounts: a user logs in and out (tokens.revoked)
    first = ok(api.post("/users", json={"username": f"sub{uuid.uuid4().hex[:6]}",
                                        "role": "county_admin", "password": "first password 1"}))
    session = requests.post(api.base_url + "/session", json={
        "username": first["username"], "password": "first password 1"}).json()
    out = requests.delete(api.base_url + "/session",
                          headers={"Authorization": f"Bearer {session['access_token']}"})
    assert out.status_code == 204, out.text


def run_example(uri, *args, timeout=60):
    result = subprocess.run(
        [sys.executable, str(EXAMPLE), "--idle-timeout", "2", "--json-summary", *args],
        env={"PATH": "/usr/bin:/bin", "HUB_SUBSCRIBER_URI": uri}, capture_output=True,
        text=True, timeout=timeout)
    assert result.stdout.startswith("{"), result.stderr[-3000:]
    return result.returncode, json.loads(result.stdout), result.stderr


# -- the issue's "done when" ---------------------------------------------------------------------
def test_the_example_subscriber_receives_and_validates_every_event_type(full_hub, api, admin):
    county_profile = "stats.county_profile.v1"     # published once, when stats first starts
    wait_for(lambda: county_profile in published_types(full_hub), timeout=20)
    uri = create(full_hub, "everything", "#")
    # a new subscriber receives what is published from now on; earlier events by replay
    replayed = cli(full_hub, "replay", "everything", "--quiet", "--since", TODAY.isoformat())
    assert replayed.exit_code == 0 and "replayed" in replayed.output, replayed.output
    drive_every_event_type(full_hub, api)
    expected = contract_types()
    assert len(expected) == 41
    wait_for(lambda: published_types(full_hub) >= expected, timeout=30)

    status, summary, stderr = run_example(uri)
    assert status == 0, stderr
    assert summary["invalid"] == 0, stderr
    received = {t for t, n in summary["by_type"].items() if n.get("valid")}
    assert received == expected, sorted(expected ^ received)
    assert summary["valid"] >= 60

    # an event that breaks its contract is rejected with its fields named, into .rejected
    queue = subscribers.user_name(full_hub.settings, "everything")
    bad = json.loads(json.dumps(last_event(full_hub, "client.registered.v1")))
    bad["data"]["county_code"] = "34172"
    del bad["data"]["client_id"]
    bad["id"] = str(uuid.uuid4())
    with kombu.Connection(full_hub.settings.amqp_uri) as conn:
        producer = conn.Producer()
        producer.publish(json.dumps(bad), exchange="", routing_key=queue,
                         content_type="application/json")
        producer.publish("{not json", exchange="", routing_key=queue,
                         content_type="application/json")
    status, summary, stderr = run_example(uri)
    assert status == 1 and summary["invalid"] == 2 and summary["valid"] == 0, stderr
    assert "data.county_code" in stderr and "'client_id' is a required property" in stderr
    assert "not JSON" in stderr
    with kombu.Connection(full_hub.settings.amqp_uri) as conn:
        rejected = conn.default_channel.queue_declare(subscribers.rejected_queue(queue),
                                                      passive=True)
    assert rejected.message_count == 2


def last_event(hub, type_key):
    for service in data_services():
        with hub.db(service) as conn:
            row = conn.execute("SELECT event FROM hub_outbox WHERE type = %s "
                               "ORDER BY position DESC LIMIT 1", (type_key,)).fetchone()
        if row:
            return row[0]
    raise AssertionError(f"no {type_key} event")


def test_every_event_the_hub_published_matches_the_contract_as_json_schema(full_hub):
    """The contract is plain JSON Schema (draft 07) that any validator reads: a field that may
    be null says so in its type, and the events the hub really published are valid."""
    document = asyncapi.committed_document()
    assert '"nullable"' not in json.dumps(document)
    validators = {}
    for key, message in ((m["name"], m) for m in document["components"]["messages"].values()):
        jsonschema.Draft7Validator.check_schema(message["payload"])
        validators[key] = jsonschema.Draft7Validator(message["payload"],
                                                     format_checker=jsonschema.FormatChecker())
    checked = 0
    for service in data_services():
        with full_hub.db(service) as conn:
            for (event,) in conn.execute("SELECT event FROM hub_outbox"):
                errors = [e.message for e in validators[event["type"]].iter_errors(event)]
                assert not errors, (event["type"], errors)
                checked += 1
    assert checked >= 60


# -- replay --------------------------------------------------------------------------------------
def drain(uri, queue=None):
    """Everything in the queue now, in order, as (event, message properties); acknowledged."""
    found = []
    with kombu.Connection(uri) as conn:
        channel = conn.default_channel
        while (message := channel.basic_get(queue or username(uri), no_ack=True)) is not None:
            found.append((json.loads(message.body), message.properties))
    return found


def username(uri):
    return kombu.Connection(uri).userid


def published(hub, type_key, subject):
    """The latest event of that type about `subject`, once the relay has published it."""
    for service in data_services():
        with hub.db(service) as conn:
            row = conn.execute("SELECT event FROM hub_outbox WHERE type = %s AND subject = %s "
                               "AND published_seq IS NOT NULL ORDER BY position DESC LIMIT 1",
                               (type_key, subject)).fetchone()
        if row:
            return row[0]
    return None


def outbox_since(hub, types, since):
    """The oracle: published events of `types` since `since`, by publish time across services."""
    rows = []
    for rank, service in enumerate(data_services()):
        with hub.db(service) as conn:
            rows += [(at, rank, seq, event) for at, seq, event in conn.execute(
                "SELECT published_at, published_seq, event FROM hub_outbox WHERE "
                "published_seq IS NOT NULL AND published_at >= %s AND type = ANY(%s)",
                (since, list(types)))]
    return [event["id"] for *_, event in sorted(rows, key=lambda r: r[:3])]


def test_replay_since_a_time_and_after_an_event_resends_the_bound_types_in_order(full_hub, api):
    uri = create(full_hub, "clients-and-workers", "client.#,worker.registered.v1,worker.left.v1")
    drain(uri)
    since = datetime.now(timezone.utc)
    time.sleep(0.01)
    steps = []

    def step(type_key, subject, answer):
        """An API call's answer, then its event: waited for until published, so the steps'
        events are published one after the other."""
        subject = subject.format(**answer)
        steps.append(wait_for(lambda: published(full_hub, type_key, subject), timeout=20))

    step("client.registered.v1", "client/{id}", ok(api.post("/clients", json=client_body())))
    client = steps[-1]["data"]["client_id"]
    step("worker.registered.v1", "worker/{id}",
         ok(api.post("/workers", json={"name": "社工乙", "weekly_capacity": 5})))
    worker = steps[-1]["data"]["worker_id"]
    step("client.risk_changed.v1", "client/{id}",
         ok(api.post(f"/clients/{client}/risk", json={"risk_level": "high"})))
    ok(api.post(f"/workers/{worker}/certify", json={"certificate_level": "assistant",
                                                    "certified_year": 2025}))   # not bound
    step("worker.left.v1", "worker/{id}", ok(api.post(f"/workers/{worker}/leave", json={})))
    assert [e["type"] for e in steps] == ["client.registered.v1", "worker.registered.v1",
                                          "client.risk_changed.v1", "worker.left.v1"]
    mine = [e["id"] for e in steps]

    def only_mine(ids):
        return [i for i in ids if i in mine]
    live = drain(uri)
    live_ids = [e["id"] for e, _ in live]
    assert only_mine(live_ids) == mine

    bound = patterns.matching_types(("client.#", "worker.registered.v1", "worker.left.v1"))
    result = cli(full_hub, "replay", "clients-and-workers", "--since", since.isoformat())
    assert result.exit_code == 0, result.output
    again = drain(uri)
    ids = [e["id"] for e, _ in again]
    assert ids == outbox_since(full_hub, bound, since)
    assert f"replayed {len(ids)} event(s)" in result.output
    assert only_mine(ids) == mine
    assert {e["type"] for e, _ in again} <= set(bound) and sorted(ids) == sorted(live_ids)
    # the same message as the relay sent: properties, id and body
    live_by_id = {e["id"]: (e, p) for e, p in live}
    for event, props in again:
        first, first_props = live_by_id[event["id"]]
        assert event == first
        for prop in ("content_type", "content_encoding", "delivery_mode", "message_id", "type",
                     "application_headers"):
            assert props.get(prop) == first_props.get(prop), prop

    after = steps[1]["id"]                              # the worker's registration
    result = cli(full_hub, "replay", "clients-and-workers", "--after-event", after, "--quiet")
    assert result.exit_code == 0, result.output
    tail = [e["id"] for e, _ in drain(uri)]
    assert tail == ids[ids.index(after) + 1:]
    assert only_mine(tail) == mine[2:]


# -- what a subscriber's user may do -----------------------------------------------------------
def refused(uri, action):
    """True if the broker refuses `action(channel)` to this user (403 ACCESS_REFUSED)."""
    with kombu.Connection(uri) as conn:
        channel = conn.channel()
        try:
            action(channel)
            channel.basic_qos(0, 1, False)      # a round trip: an async refusal arrives by now
        except amqp.exceptions.AccessRefused:
            return True
        return False


def test_a_subscriber_may_only_read_its_own_queues(full_hub, admin):
    s = full_hub.settings
    uri = create(full_hub, "reader", "visit.completed.v1")
    other = create(full_hub, "other", "client.closed.v1")
    queue = username(uri)
    permissions = admin.permissions(queue)
    assert (permissions["configure"], permissions["write"]) == ("^$", "^$")
    message = amqp.Message("{}", content_type="application/json")
    assert refused(uri, lambda ch: ch.basic_publish(message, exchange=s.exchange,
                                                    routing_key="visit.completed.v1"))
    assert refused(uri, lambda ch: ch.basic_publish(message, exchange="", routing_key=queue))
    assert refused(uri, lambda ch: ch.queue_declare(f"{queue}.mine", durable=True,
                                                    auto_delete=False))
    assert refused(uri, lambda ch: ch.exchange_declare(f"{queue}.x", "topic", durable=True,
                                                       auto_delete=False))
    assert refused(uri, lambda ch: ch.queue_bind(queue, s.exchange, "#"))
    assert refused(uri, lambda ch: ch.basic_get(username(other)))
    assert refused(uri, lambda ch: ch.basic_get(s.queue_name("intake")))
    assert refused(uri, lambda ch: ch.queue_delete(queue))
    # what it may do: look at and read its own queues
    assert not refused(uri, lambda ch: ch.queue_declare(queue, passive=True))
    assert not refused(uri, lambda ch: ch.basic_get(queue))
    assert not refused(uri, lambda ch: ch.basic_get(subscribers.rejected_queue(queue)))
    # and not the management API
    as_subscriber = BrokerAdmin.from_amqp_uri(uri)
    assert requests.get(as_subscriber.base_url + "/api/overview",
                        auth=as_subscriber.session.auth, timeout=5).status_code == 401


def test_commands_refuse_what_cannot_work_and_list_and_delete(full_hub, admin):
    for args, words in (
            (("create", "x", "--events", "client.*"), "did you mean client.#"),
            (("create", "x", "--events", "client.registerd.v1"), "matches no event type"),
            (("create", "x", "--events", "client..v1"), "not an event type or topic pattern"),
            (("create", "Bad Name", "--events", "#"), "NAME"),
            (("create", "x", "--events", " , "), "at least one"),
            (("replay", "nobody", "--since", "2026-01-01"), "no subscriber 'nobody'"),
            (("delete", "nobody", "--yes"), "no subscriber 'nobody'")):
        result = cli(full_hub, *args)
        assert result.exit_code == 1 and words in result.output, (args, result.output)
    assert not admin.user_exists(subscribers.user_name(full_hub.settings, "x"))
    create(full_hub, "lister", "need.#,allocation.made.v1")
    for args, words in ((("create", "lister", "--events", "#"), "exists"),
                        (("replay", "lister"), "either --since or --after-event"),
                        (("replay", "lister", "--since", "last tuesday"), "--since"),
                        (("replay", "lister", "--after-event", "42"), "not an event id"),
                        (("replay", "lister", "--after-event", str(uuid.uuid4())),
                         "no service of this hub published")):
        result = cli(full_hub, *args)
        assert result.exit_code == 1 and words in result.output, (args, result.output)
    listed = cli(full_hub, "list")
    assert listed.exit_code == 0
    line = next(x for x in listed.output.splitlines() if x.startswith("lister "))
    assert "events=allocation.made.v1,need.#" in line
    assert cli(full_hub, "delete", "lister", input="n\n").exit_code == 1
    result = cli(full_hub, "delete", "lister", "--yes")
    assert result.exit_code == 0 and "deleted subscriber lister" in result.output
    queue = subscribers.user_name(full_hub.settings, "lister")
    assert not admin.user_exists(queue) and admin.queue(queue) is None
    assert admin.queue(subscribers.rejected_queue(queue)) is None
    assert "lister" not in cli(full_hub, "list").output


def test_topic_patterns_match_as_the_broker_does():
    match = patterns.topic_matches
    assert match("#", "client.registered.v1") and match("client.#", "client.registered.v1")
    assert match("*.*.v1", "visit.completed.v1") and match("#.v1", "visit.completed.v1")
    assert match("client.#.v1", "client.closed.v1") and match("client.registered.#",
                                                              "client.registered.v1")
    assert not match("client.*", "client.registered.v1")
    assert not match("client.registered", "client.registered.v1")
    assert not match("*.*.*.*", "client.registered.v1") and not match("visit.#", "client.x.v1")
