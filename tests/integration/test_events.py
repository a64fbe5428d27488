"""The chassis' promises about events, over the real broker and databases:
CloudEvents out of the outbox in commit order, idempotent consumers, retries and parking."""
import json
import time
import uuid

import eventlet
import kombu
import pytest
from prometheus_client import REGISTRY

from contracts.events import intake as intake_events  # noqa: F401  (registers the client event types)
from hub import events as hub_events
from support.hub import client_body, running_hub, test_settings, wait_for
from support.installed import installed
from tooling.operations import parked_events, replay_parked

PERSONAL = ("测试对象", "13900001111")


def probe_failures():
    """The test probe's FAILURES: it runs in this process, installed by events_hub."""
    from probe.service import FAILURES
    return FAILURES


@pytest.fixture(scope="module")
def events_hub():
    settings = test_settings(prefix=f"ev{uuid.uuid4().hex[:6]}")
    with installed("probe"), running_hub(settings, ["intake", "probe", "gateway"]) as hub:
        yield hub


def received(hub, subject):
    with hub.db("probe") as conn:
        return [r[0] for r in conn.execute(
            "SELECT type FROM probe_received WHERE subject = %s ORDER BY received_at", (subject,))]


def publish_raw(hub, event):
    with kombu.Connection(hub.settings.amqp_uri) as conn:
        producer = conn.Producer()
        producer.publish(event, exchange=hub.settings.exchange, routing_key=event["type"],
                         serializer="json", delivery_mode=2)


def crafted_event(hub, subject=None, **data_overrides):
    data = {"client_id": str(uuid.uuid4()), "county_code": "341721",
            "township_code": "341721100", "village_code": "341721100001",
            "categories": ["solitary_elderly"], "age_group": "elderly", "age_band": "70-79",
            "sex": "female", "risk_level": "low", "risk_flags": [], "status": "active",
            "effective_date": "2026-01-05", **data_overrides}
    return hub_events.make_event("client.registered.v1", hub.settings.event_source("test"),
                                 subject or f"client/{data['client_id']}", data)


def test_events_are_cloudevents_in_commit_order_without_personal_details(events_hub):
    hub = events_hub
    with kombu.Connection(hub.settings.amqp_uri) as conn:
        tap = kombu.Queue(f"{hub.settings.db_prefix}.tap", exchange=kombu.Exchange(
            hub.settings.exchange, type="topic"), routing_key="client.#", exclusive=True)
        tap(conn.default_channel).declare()
        api = hub.client()
        cid = api.post("/clients", json=client_body()).json()["id"]
        api.patch(f"/clients/{cid}", json={"phone": "13900003333"})
        api.post(f"/clients/{cid}/close", json={"reason": "goals_met"})
        messages = []
        consumer = conn.Consumer(tap, callbacks=[lambda body, m: (messages.append((body, m)), m.ack())],
                                 accept=["json"])
        with consumer:
            deadline = time.monotonic() + 15
            while len(messages) < 3 and time.monotonic() < deadline:
                try:
                    conn.drain_events(timeout=0.5)
                except TimeoutError:
                    pass
    bodies = [b for b, _ in messages]
    assert [b["type"] for b in bodies] == ["client.registered.v1", "client.updated.v1",
                                           "client.closed.v1"]
    for body in bodies:
        hub_events.check_event(body)
        assert body["specversion"] == "1.0" and body["subject"] == f"client/{cid}"
        assert body["source"] == "/hub/341721/intake"
        assert body["datacontenttype"] == "application/json"
        text = json.dumps(body, ensure_ascii=False)
        assert not any(p in text for p in PERSONAL)
        assert "id_number" not in text and "birth_date" not in text
    assert bodies[1]["data"]["changed_fields"] == ["phone"]
    assert messages[0][1].properties["delivery_mode"] == 2


def test_every_event_reaches_the_consumer_once(events_hub):
    hub = events_hub
    api = hub.client()
    cid = api.post("/clients", json=client_body()).json()["id"]
    api.post(f"/clients/{cid}/risk", json={"risk_level": "high", "risk_flags": []})
    assert wait_for(lambda: len(received(hub, f"client/{cid}")) == 2)
    assert received(hub, f"client/{cid}") == ["client.registered.v1", "client.risk_changed.v1"]


def test_a_redelivered_event_changes_nothing(events_hub):
    hub = events_hub
    event = crafted_event(hub)
    for _ in range(3):
        publish_raw(hub, event)
    assert wait_for(lambda: received(hub, event["subject"]))
    eventlet.sleep(0.5)  # give any duplicate time to show up
    assert received(hub, event["subject"]) == ["client.registered.v1"]
    with hub.db("probe") as conn:
        assert conn.execute("SELECT count(*) FROM hub_inbox WHERE event_id = %s",
                            (event["id"],)).fetchone()[0] == 1


def test_a_failing_handler_is_retried_with_backoff_until_it_succeeds(events_hub):
    hub = events_hub
    event = crafted_event(hub)
    probe_failures()[event["subject"]] = 2
    publish_raw(hub, event)
    assert wait_for(lambda: received(hub, event["subject"]))
    with hub.db("probe") as conn:
        assert conn.execute("SELECT count(*) FROM hub_inbox WHERE event_id = %s",
                            (event["id"],)).fetchone()[0] == 1
        assert conn.execute("SELECT count(*) FROM hub_failed_events WHERE event_id = %s",
                            (event["id"],)).fetchone()[0] == 0
    assert received(hub, event["subject"]) == ["client.registered.v1"]


def test_a_handler_that_keeps_failing_is_parked_then_replayed_once_fixed(events_hub):
    hub = events_hub
    event = crafted_event(hub)
    probe_failures()[event["subject"]] = 1000
    publish_raw(hub, event)
    parked = wait_for(lambda: [p for p in parked_events(hub.settings, "probe")
                               if str(p["event_id"]) == event["id"]])
    assert parked[0]["attempts"] == hub.settings.retry_attempts
    assert "probe told to fail" in parked[0]["last_error"]
    assert received(hub, event["subject"]) == []          # nothing half-done
    probe_failures()[event["subject"]] = 0                     # the operator fixes the cause
    assert replay_parked(hub.settings, "probe", [event["id"]]) == 1
    assert wait_for(lambda: received(hub, event["subject"]))
    assert not [p for p in parked_events(hub.settings, "probe") if str(p["event_id"]) == event["id"]]


def test_a_burst_is_processed_in_batches_and_one_bad_event_holds_back_no_other(events_hub):
    hub = events_hub
    events = [crafted_event(hub) for _ in range(150)]
    bad = events[37]
    probe_failures()[bad["subject"]] = 1000
    with kombu.Connection(hub.settings.amqp_uri) as conn:     # one burst, with duplicates
        producer = conn.Producer()
        for event in events + events[:20]:
            producer.publish(event, exchange=hub.settings.exchange, routing_key=event["type"],
                             serializer="json", delivery_mode=2)
    good = [e for e in events if e is not bad]
    subjects = [e["subject"] for e in good]

    def all_good_received():    # (a copy counted twice fails the counts below, by name)
        with hub.db("probe") as conn:
            return conn.execute("SELECT count(*) FROM probe_received WHERE subject = ANY(%s)",
                                (subjects,)).fetchone()[0] >= len(good)
    assert wait_for(all_good_received, timeout=60)
    parked = wait_for(lambda: [p for p in parked_events(hub.settings, "probe")
                               if str(p["event_id"]) == bad["id"]])
    assert parked[0]["attempts"] == hub.settings.retry_attempts
    eventlet.sleep(0.5)     # time for any duplicate to show up
    with hub.db("probe") as conn:
        counts = dict(conn.execute(
            "SELECT subject, count(*) FROM probe_received WHERE subject = ANY(%s) "
            "GROUP BY subject", ([e["subject"] for e in events],)).fetchall())
        inbox = conn.execute("SELECT count(*) FROM hub_inbox WHERE event_id = ANY(%s::uuid[])",
                             ([e["id"] for e in events],)).fetchone()[0]
    assert {s: n for s, n in counts.items() if n != 1} == {} and bad["subject"] not in counts
    assert len(counts) == len(good)
    assert inbox == len(good)
    probe_failures()[bad["subject"]] = 0
    labels = {"service": "probe", "work": "events"}
    batches = REGISTRY.get_sample_value("hub_batch_size_count", labels)
    delivered = REGISTRY.get_sample_value("hub_batch_size_sum", labels)
    assert delivered / batches > 2          # the burst went through in batches


def test_an_invalid_event_is_parked_not_dropped(events_hub):
    hub = events_hub
    event = crafted_event(hub)
    event["data"]["risk_level"] = "apocalyptic"
    publish_raw(hub, event)
    parked = wait_for(lambda: [p for p in parked_events(hub.settings, "probe")
                               if str(p["event_id"]) == event["id"]])
    assert "risk_level" in parked[0]["last_error"]
    assert received(hub, event["subject"]) == []


def test_an_event_whose_id_is_no_uuid_is_parked_and_holds_back_nothing(events_hub):
    """Its id cannot be recorded in the inbox (a uuid column): it is kept, parked under an id
    derived from its own, and the event after it is taken."""
    hub = events_hub
    bad, good = crafted_event(hub), crafted_event(hub)
    bad["id"] = "not-a-uuid"
    publish_raw(hub, bad)
    publish_raw(hub, good)
    wait_for(lambda: received(hub, good["subject"]) == [good["type"]], timeout=20)
    kept_as = str(uuid.uuid5(uuid.NAMESPACE_URL, "hub:not-a-uuid:not-a-uuid"))
    parked = wait_for(lambda: [p for p in parked_events(hub.settings, "probe")
                               if str(p["event_id"]) == kept_as])
    assert "not a CloudEvent" in parked[0]["last_error"] and "id" in parked[0]["last_error"]
    assert received(hub, bad["subject"]) == []


def test_ten_concurrent_database_waits_overlap_in_one_service(events_hub):
    import requests
    url = events_hub.settings.service_url("probe") + "/probe/sleep"
    pool = eventlet.GreenPool(10)
    started = time.monotonic()
    answers = list(pool.imap(lambda _: requests.get(url, timeout=10), range(10)))
    elapsed = time.monotonic() - started
    assert all(a.status_code == 200 for a in answers)
    print(f"10 concurrent pg_sleep(0.3) in one service: {elapsed:.2f}s")
    assert elapsed < 1.0  # serial would be 3 s: the issue asks for under 1 s


def test_migrations_applied_twice_are_harmless(events_hub):
    from pathlib import Path

    from hub.migrate import migrate, migration_dirs
    settings = events_hub.settings
    assert migrate(settings, "intake") == 0
    with events_hub.db("intake") as conn:   # even re-running the SQL itself changes nothing
        for folder in migration_dirs("intake"):
            for sql in sorted(Path(folder).glob("*.sql")):
                conn.execute(sql.read_text())
        assert conn.execute("SELECT count(*) FROM hub_relay").fetchone()[0] == 1


def test_metrics_count_requests_and_events(events_hub):
    import requests
    from prometheus_client.parser import text_string_to_metric_families
    hub = events_hub
    hub.client().post("/clients", json=client_body())
    hub.client().post("/clients", json={"name": ""})

    def samples(service="intake"):
        text = requests.get(hub.settings.service_url(service) + "/metrics").text
        return {(s.name, tuple(sorted(s.labels.items()))): s.value
                for fam in text_string_to_metric_families(text) for s in fam.samples}

    def published():
        return samples().get(("hub_events_published_total",
                              (("service", "intake"), ("type", "client.registered.v1"))), 0)
    assert wait_for(lambda: published() >= 1)
    now = samples()
    route = (("method", "POST"), ("route", "/api/v1/clients"), ("service", "intake"))
    assert now[("hub_http_requests_total", tuple(sorted(route + (("status", "201"),))))] >= 1
    assert now[("hub_http_requests_total", tuple(sorted(route + (("status", "422"),))))] >= 1
    assert now[("hub_http_request_duration_seconds_count", route)] >= 2
    assert ("hub_outbox_backlog", (("service", "intake"),)) in now
    consumed = ("hub_events_consumed_total", (("service", "probe"), ("type", "client.registered.v1")))
    assert wait_for(lambda: samples("probe").get(consumed, 0) >= 1)
