"""deploy/rabbitmq: a county's and the province's definitions imported into the local broker
(throwaway vhosts), then used the way the hub uses them: services declaring their topology and
publishing, least-privilege users refused what is not theirs, the delivery limit
dead-lettering, and the province's shovel (added by `definitions.py add-county --apply`)
carrying the county's events to the province."""
import json
import os
import subprocess
import sys
import time
import uuid
from urllib.parse import quote

import amqp
import kombu
import pytest

from deploy_support import DELIVERY_LIMIT, DEPLOY, rabbitmqctl
from hub import topology
from hub.config import Settings
from tooling.deploy.roles import direct_publishers

TOOL = DEPLOY / "rabbitmq" / "definitions.py"


def connect(broker, role, vhost=None, province=False, confirm_publish=False):
    vhost = vhost or (broker.province_vhost if province else broker.county_vhost)
    user = f"{vhost}-{role}"
    return amqp.Connection("127.0.0.1:5672", userid=user, password=broker.passwords[role],
                           virtual_host=vhost, connect_timeout=5, confirm_publish=confirm_publish)


def settings_as(broker, role):
    user = f"{broker.county_vhost}-{role}"
    return Settings.from_env({
        "HUB_DB_PREFIX": "hub",
        "HUB_AMQP_URI": f"amqp://{user}:{broker.passwords[role]}@127.0.0.1:5672/"
                        f"{quote(broker.county_vhost, safe='')}"})


def wait_for(predicate, timeout=20.0):
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = predicate()
            if value:
                return value
        except (amqp.exceptions.AMQPError, OSError):  # the import is still under way
            pass
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.1)


def queue_counts(broker, queue, vhost=None):
    """(messages, consumers) of a queue, asked passively as the vhost's administrator."""
    with connect(broker, "admin", vhost) as conn:
        conn.connect()
        _, messages, consumers = conn.channel().queue_declare(queue, passive=True)
        return messages, consumers


def publish(broker, role, routing_key, exchange="hub.events"):
    """Publish an event-like message as `role` with publisher confirms; returns its id."""
    message_id = str(uuid.uuid4())
    with connect(broker, role, confirm_publish=True) as conn:   # waits for the broker's ack
        conn.connect()
        conn.channel().basic_publish(
            amqp.Message(json.dumps({"id": message_id, "type": routing_key}),
                         message_id=message_id, delivery_mode=2),
            exchange=exchange, routing_key=routing_key, timeout=10)
    return message_id


@pytest.fixture(scope="module")
def county(broker):
    return broker


def test_the_committed_definitions_hold_no_secret():
    """deploy/rabbitmq/*.json (rendered by `hub deploy render`: test_deploy_render.py) are
    examples: no password hash, the link password a placeholder."""
    for name in ("county-341721.json", "province.json"):
        defs = json.loads((DEPLOY / "rabbitmq" / name).read_text())
        assert all(u["password_hash"] == "" for u in defs["users"]), name
        for parameter in defs.get("parameters", []):
            assert ":LINK_PASSWORD@" in parameter["value"]["src-uri"]


def test_each_consumer_has_a_quorum_inbox_with_a_delivery_limit_and_dead_lettering(county):
    listing = json.loads(rabbitmqctl("list_queues", "-p", county.county_vhost, "name", "type",
                                     "policy", "--formatter", "json"))
    queues = {q["name"]: q for q in listing}
    for service in topology.consumer_subscriptions():
        inbox = queues[f"hub.{service}.inbox"]
        assert (inbox["type"], inbox["policy"]) == ("quorum", "hub-inbox")
    assert queues["hub.province.outbox"]["type"] == "quorum"
    assert queues["hub.dead-letter"]["type"] == "quorum"
    (policy,) = county.county["policies"]
    assert policy["definition"]["dead-letter-exchange"] == "hub.dead"
    assert policy["definition"]["delivery-limit"] == DELIVERY_LIMIT
    assert county.tool.DELIVERY_LIMIT >= 100   # in production: see deploy/rabbitmq/README.md


def test_each_service_declares_its_topology_as_the_services_do(county):
    """The definitions' queues are equivalent to the chassis' declarations (else the broker would
    refuse them), and each service's user may make them."""
    for role in county.tool.data_services():
        settings = settings_as(county, role)
        with kombu.Connection(settings.amqp_uri, connect_timeout=5) as conn:
            declared = topology.declare(settings, conn.default_channel)
        assert set(declared) == {f"hub.{s}.inbox" for s in topology.consumer_subscriptions()}


def test_users_are_refused_what_is_not_theirs(county):
    consumers = list(topology.consumer_subscriptions())
    own, other = consumers[0], consumers[1]
    with connect(county, own) as conn:   # a service consuming another's queue
        conn.connect()
        with pytest.raises(amqp.exceptions.AccessRefused):
            conn.channel().basic_consume(f"hub.{other}.inbox", callback=lambda m: None)
    for role in ("link", "reader"):   # neither may publish events
        with pytest.raises(amqp.exceptions.AccessRefused):
            publish(county, role, "client.registered.v1")
    with pytest.raises(amqp.exceptions.AccessRefused):   # nor straight into a queue
        publish(county, own, "hub.province.outbox", exchange="")
    with connect(county, "link") as conn:   # the link reads the link queue only
        conn.connect()
        with pytest.raises(amqp.exceptions.AccessRefused):
            conn.channel().basic_consume(f"hub.{own}.inbox", callback=lambda m: None)


def test_the_link_heartbeat_goes_straight_into_the_link_queue(county):
    """A service granted direct publishing (stats, county role) puts its heartbeat into the link
    queue, by the default exchange."""
    assert direct_publishers()
    for role in direct_publishers():
        before = queue_counts(county, "hub.province.outbox")[0]
        publish(county, role, "hub.province.outbox", exchange="")
        assert wait_for(lambda: queue_counts(county, "hub.province.outbox")[0] == before + 1)


def test_the_reader_subscribes_with_a_queue_of_its_own(county):
    with connect(county, "reader") as conn:
        conn.connect()
        channel = conn.channel()
        queue, _, _ = channel.queue_declare("", exclusive=True)
        channel.queue_bind(queue, "hub.events", "client.#")
        sent = publish(county, "intake", "client.registered.v1")
        message = wait_for(lambda: channel.basic_get(queue, no_ack=True))
        assert message.properties["message_id"] == sent


def test_a_message_returned_past_the_delivery_limit_is_dead_lettered(county):
    consumer = next(name for name, patterns in topology.consumer_subscriptions().items()
                    if "client.#" in patterns)          # a consumer that takes client events
    inbox = f"hub.{consumer}.inbox"
    with connect(county, consumer) as conn:
        conn.connect()
        channel = conn.channel()
        channel.queue_purge(inbox)
        sent = publish(county, "intake", "client.registered.v1")
        returned = 0
        while True:   # a consumer that keeps giving it back (crashing on it, say)
            message = wait_for(lambda: channel.basic_get(inbox) or queue_counts(
                county, "hub.dead-letter")[0] and "gone", timeout=10)
            if message == "gone":
                break
            assert message.properties["message_id"] == sent
            channel.basic_reject(message.delivery_tag, requeue=True)
            returned += 1
        assert returned == DELIVERY_LIMIT + 1
    assert queue_counts(county, "hub.dead-letter")[0] == 1
    # put back as deploy/rabbitmq/README.md says: a one-off shovel to the exchange
    vhost = quote(county.county_vhost, safe="")
    back_again = {"src-uri": f"amqp:///{vhost}", "src-queue": "hub.dead-letter",
                  "src-delete-after": "queue-length",
                  "dest-uri": f"amqp:///{vhost}", "dest-exchange": "hub.events"}
    rabbitmqctl("set_parameter", "-p", county.county_vhost, "shovel", "dead-letters-back",
                json.dumps(back_again))
    with connect(county, consumer) as conn:
        conn.connect()
        channel = conn.channel()
        back = wait_for(lambda: channel.basic_get(inbox, no_ack=True))
        assert back.properties["message_id"] == sent
    assert queue_counts(county, "hub.dead-letter")[0] == 0


def test_add_county_links_the_county_to_the_province(county):
    """`definitions.py add-county --apply` adds the shovel to the province broker (through its
    management API, as its administrator); an event
    published in the county then reaches the province's ingest exchange, and leaves the link
    queue."""
    result = subprocess.run(
        [sys.executable, str(TOOL), "add-county", "341721", "--county-broker",
         "amqp://127.0.0.1:5672", "--county-vhost", county.county_vhost,
         "--vhost", county.province_vhost, "--apply"],
        env={**os.environ, "HUB_LINK_PASSWORD": county.passwords["link"],
             # the province broker's administrator, through its management API
             "HUB_AMQP_ADMIN_URI": f"amqp://{county.province_vhost}-admin:"
                                   f"{county.passwords['admin']}@127.0.0.1:5672/"
                                   f"{county.province_vhost}"},
        capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    with connect(county, "reader", province=True) as conn:
        conn.connect()
        channel = conn.channel()
        queue, _, _ = channel.queue_declare("", exclusive=True)
        channel.queue_bind(queue, county.tool.ingest_names("province")[0], "#")
        wait_for(lambda: queue_counts(county, "hub.province.outbox")[1] == 1)  # the shovel
        sent = publish(county, "intake", "client.registered.v1")

        def arrived():   # (a heartbeat waiting in the link queue may come first)
            message = channel.basic_get(queue, no_ack=True)
            return message and message.properties.get("message_id") == sent and message
        message = wait_for(arrived)
        assert message.delivery_info["routing_key"] == "client.registered.v1"
    assert wait_for(lambda: queue_counts(county, "hub.province.outbox")[0] == 0)
