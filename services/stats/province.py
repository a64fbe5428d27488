"""Linking a county hub's broker to the province's with a RabbitMQ dynamic shovel.

Names (independent of the hub chassis, so operators and tests can use them as they are):

- on the county's broker (vhost): the durable quorum queue `<county prefix>.province.outbox`,
  bound to the county's exchange `<county prefix>.events` with `#`. It exists from the moment the
  county is linked and keeps every event while the link is down or slow.
- on the province's broker: the topic exchange `<province prefix>.province` and the quorum queue
  `<province prefix>.province.ingest` bound to it with `#`, which the province's stats consumes.
- the shovel `province-<county code>`, defined on the province's vhost, moves messages from the
  county's outbox queue to the province exchange with `ack-mode: on-confirm`: a message leaves the
  county only once the province's broker has confirmed it, so nothing is lost when either side
  or the network fails; a redelivered message is a duplicate the province drops by event id.

The shovel is a runtime parameter of the province's vhost, set through RabbitMQ's management
HTTP API (hub.broker_admin, as every other piece of the hub's broker administration):
`PUT /api/parameters/shovel/<vhost>/<name>`; its state comes from `GET /api/shovels/<vhost>`
(the rabbitmq_shovel_management plugin).

A prefecture's aggregator (HUB_ROLE=prefecture) is linked to its counties the same way, and
*forwards* everything it takes in to the province: on its broker the durable quorum queue
`<prefix>.province.upward`, bound to its ingest exchange with `#`, holds a copy of every message
its counties' shovels deliver (events, and the counties' heartbeats, so that the province measures
each county's lag through the whole chain), and the shovel `upward`, defined on the prefecture's
vhost, moves them on to the province's ingest exchange, again acknowledged on confirm. Each level
drops a redelivered event by its id.
"""
import re
from urllib.parse import quote

import kombu

from hub.broker_admin import BrokerAdmin, BrokerAdminError

SHOVEL_PREFIX = "province-"
UPWARD_SHOVEL = "upward"        # a prefecture's forwarding to the province (not a county's link)
HEARTBEAT_TYPE = "stats.link_heartbeat"


class LinkError(Exception):
    """A link could not be made or changed; the message says what to do."""


def outbox_queue(county_prefix):
    return f"{county_prefix}.province.outbox"


def ingest_exchange(province_prefix):
    return f"{province_prefix}.province"


def ingest_queue(province_prefix):
    return f"{province_prefix}.province.ingest"


def upward_queue(prefecture_prefix):
    return f"{prefecture_prefix}.province.upward"


def shovel_name(county_code):
    return SHOVEL_PREFIX + county_code


def check_county_code(code):
    if not re.fullmatch(r"[0-9]{6}", code or ""):
        raise LinkError(f"{code!r} is not a county code (6 digits, e.g. 341721)")


def erlang_uri(amqp_uri):
    """A kombu/py-amqp URI as the shovel (Erlang client) wants it: the vhost percent-encoded."""
    conn = kombu.Connection(amqp_uri)
    info = conn.info()
    user = quote(info["userid"] or "guest", safe="")
    password = quote(info["password"] or "guest", safe="")
    host = info["hostname"] or "127.0.0.1"
    port = info["port"] or 5672
    return f"amqp://{user}:{password}@{host}:{port}/{quote(info['virtual_host'] or '/', safe='')}"


def _exchange(name):
    return kombu.Exchange(name, type="topic", durable=True)


def _quorum(name, exchange):
    return kombu.Queue(name, exchange=exchange, routing_key="#", durable=True,
                       queue_arguments={"x-queue-type": "quorum"})


def declare_county_outbox(county_uri, county_prefix):
    """On the county's broker: the queue that holds the county's events for the province."""
    exchange = _exchange(f"{county_prefix}.events")
    with kombu.Connection(county_uri, connect_timeout=5) as conn:
        channel = conn.default_channel
        exchange(channel).declare()
        _quorum(outbox_queue(county_prefix), exchange)(channel).declare()


def declare_ingest(province_uri, province_prefix, ssl=None):
    """On the province's broker: the exchange shovels publish to and the queue stats consumes."""
    exchange = _exchange(ingest_exchange(province_prefix))
    with kombu.Connection(province_uri, connect_timeout=5, ssl=ssl or False) as conn:
        channel = conn.default_channel
        exchange(channel).declare()
        _quorum(ingest_queue(province_prefix), exchange)(channel).declare()


def shovel_definition(county_uri, county_prefix, province_uri, province_prefix, prefetch=1000):
    return {
        "src-protocol": "amqp091", "src-uri": erlang_uri(county_uri),
        "src-queue": outbox_queue(county_prefix),
        "dest-protocol": "amqp091", "dest-uri": erlang_uri(province_uri),
        "dest-exchange": ingest_exchange(province_prefix),
        "ack-mode": "on-confirm", "src-prefetch-count": prefetch, "reconnect-delay": 5,
    }


def admin_for(province_uri):
    """The province broker's management API, with `province_uri`'s credentials and vhost."""
    return BrokerAdmin.from_amqp_uri(province_uri)


def _admin_call(what, fn, *args):
    try:
        return fn(*args)
    except BrokerAdminError as exc:
        raise LinkError(f"{what} failed: {exc}") from None


def link(county_code, county_uri, county_prefix, province_uri, province_prefix,
         admin=None, prefetch=1000):
    """Create (or update) the link of one county; returns the shovel's name. `admin`: the
    province broker's BrokerAdmin (default: its management API with province_uri's
    credentials)."""
    check_county_code(county_code)
    admin = admin or admin_for(province_uri)
    try:
        declare_county_outbox(county_uri, county_prefix)
    except OSError as exc:
        raise LinkError(f"cannot reach the county's broker at {without_password(county_uri)}: "
                        f"{exc}")
    declare_ingest(province_uri, province_prefix)
    name = shovel_name(county_code)
    _admin_call("setting the shovel", admin.set_parameter, "shovel", name, shovel_definition(
        county_uri, county_prefix, province_uri, province_prefix, prefetch))
    return name


def unlink(county_code, province_uri, admin=None):
    """Remove the county's shovel. Its outbox queue stays and keeps collecting events, so that
    linking again later delivers everything that happened meanwhile."""
    check_county_code(county_code)
    admin = admin or admin_for(province_uri)
    _admin_call("clearing the shovel", admin.clear_parameter, "shovel", shovel_name(county_code))


def declare_upward(prefecture_uri, prefecture_prefix):
    """On a prefecture's broker: the queue that holds a copy of everything its ingest exchange
    takes in, for the province."""
    exchange = _exchange(ingest_exchange(prefecture_prefix))
    with kombu.Connection(prefecture_uri, connect_timeout=5) as conn:
        channel = conn.default_channel
        exchange(channel).declare()
        _quorum(upward_queue(prefecture_prefix), exchange)(channel).declare()


def forward(prefecture_uri, prefecture_prefix, upstream_uri, upstream_prefix, admin=None,
            prefetch=1000):
    """Forward what a prefecture's aggregator takes in to the province's (`upstream_uri`, its
    prefix `upstream_prefix`); returns the shovel's name. `admin`: the prefecture broker's
    BrokerAdmin (default: its management API with prefecture_uri's credentials)."""
    admin = admin or admin_for(prefecture_uri)
    declare_upward(prefecture_uri, prefecture_prefix)
    try:
        declare_ingest(upstream_uri, upstream_prefix)
    except OSError as exc:
        raise LinkError(f"cannot reach the province's broker at "
                        f"{without_password(upstream_uri)}: {exc}") from None
    definition = {
        "src-protocol": "amqp091", "src-uri": erlang_uri(prefecture_uri),
        "src-queue": upward_queue(prefecture_prefix),
        "dest-protocol": "amqp091", "dest-uri": erlang_uri(upstream_uri),
        "dest-exchange": ingest_exchange(upstream_prefix),
        "ack-mode": "on-confirm", "src-prefetch-count": prefetch, "reconnect-delay": 5,
    }
    _admin_call("setting the shovel", admin.set_parameter, "shovel", UPWARD_SHOVEL, definition)
    return UPWARD_SHOVEL


def unforward(prefecture_uri, admin=None):
    """Stop forwarding to the province. The upward queue stays and keeps collecting, so that
    forwarding again later delivers everything taken in meanwhile."""
    admin = admin or admin_for(prefecture_uri)
    _admin_call("clearing the shovel", admin.clear_parameter, "shovel", UPWARD_SHOVEL)


def forwarding(prefecture_uri, admin=None):
    """The state of a prefecture's forwarding shovel ("running", …), or None without one."""
    admin = admin or admin_for(prefecture_uri)
    return next((s.get("state", "?") for s in _admin_call("reading the shovels", admin.shovels)
                 if s.get("vhost") == admin.vhost and s.get("name") == UPWARD_SHOVEL), None)


def links(province_uri, admin=None):
    """The province vhost's county links: {county code: shovel state}."""
    admin = admin or admin_for(province_uri)
    return {s["name"][len(SHOVEL_PREFIX):]: s.get("state", "?")
            for s in _admin_call("reading the shovels", admin.shovels)
            if s.get("vhost") == admin.vhost and str(s.get("name", "")).startswith(SHOVEL_PREFIX)}


def without_password(uri):
    """A URI without its password, for messages."""
    return re.sub(r"//([^:/@]+):[^@]*@", r"//\1:***@", uri)
