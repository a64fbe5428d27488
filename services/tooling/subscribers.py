"""Event subscribers: other government systems reading the hub's events from a queue of their own.

A subscriber NAME is, on the hub's broker, and nowhere else (the broker is the record):
  - a user `<prefix>.sub.<NAME>` that may consume its own queues and nothing more: it cannot
    publish, declare, bind, or read any other queue (permissions configure "^$", write "^$");
  - a durable quorum queue of the same name, bound to the hub's topic exchange with the event
    types or topic patterns it asked for (`client.#`, `visit.completed.v1`, `#`);
  - `<queue>.rejected`, where the broker puts what the subscriber rejects (nack without requeue)
    or fails to process 20 times, so nothing it refuses is lost.

Replay re-sends events that were already published straight into a subscriber's queue: those
of its bound types since a time or after an event id (tooling.resend).

The broker is administered through its management API (hub.broker_admin: HUB_AMQP_ADMIN_URI's
credentials, at HUB_AMQP_ADMIN_URL); replayed events are published as HUB_AMQP_URI's (admin) user.
"""
import re
import secrets
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

from hub.broker_admin import BrokerAdmin
from tooling import resend
from tooling.patterns import matching_types

NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,47}$")
DELIVERY_LIMIT = 20     # deliveries of one message before the broker dead-letters it


class SubscriberError(ValueError):
    """A subscriber cannot be made, found or replayed to as asked; the message says why."""


@dataclass(frozen=True)
class Subscriber:
    name: str
    user: str
    queue: str
    patterns: tuple
    uri: str = ""          # with the password: only known when it is created


# -- names and patterns -------------------------------------------------------------------------
def user_name(settings, name):
    """The subscriber's broker user; its queue has the same name."""
    return f"{settings.db_prefix}.sub.{name}"


def rejected_queue(queue):
    return f"{queue}.rejected"


def validate_name(name):
    if not NAME.match(name or ""):
        raise SubscriberError(f"NAME: {name!r} is not a subscriber name: 1-48 characters of a-z, "
                              "0-9, - and _, starting with a letter or digit")
    return name


# -- the broker ---------------------------------------------------------------------------------
def broker_admin(settings):
    return BrokerAdmin.for_settings(settings)


def subscriber_uri(settings, user, password, vhost, address=None):
    """The AMQP URI the subscriber connects with: the hub's broker (or `address`, host[:port],
    as the subscriber reaches it), the subscriber's own credentials and the hub's vhost."""
    hub = urlsplit(settings.amqp_uri)
    default_port = 5671 if hub.scheme == "amqps" else 5672
    netloc = address or f"{hub.hostname or '127.0.0.1'}:{hub.port or default_port}"
    return (f"{hub.scheme or 'amqp'}://{quote(user, safe='')}:{quote(password, safe='')}@"
            f"{netloc}/{quote(vhost, safe='')}")


def create(settings, name, patterns, *, password=None, address=None, admin=None):
    """Make the subscriber's queues, bindings, user and permissions; returns it with its URI.

    `patterns` must have been checked (parse_patterns). Refuses a name already taken; if the
    broker fails half-way, what was made is removed again."""
    validate_name(name)
    admin = admin or broker_admin(settings)
    user = queue = user_name(settings, name)
    if admin.user_exists(user) or admin.queue(queue) is not None:
        raise SubscriberError(f"NAME: subscriber {name!r} exists (user or queue {user}); "
                              "delete it first to make it anew")
    if admin.exchange(settings.exchange) is None:
        raise SubscriberError(f"the hub's exchange {settings.exchange} does not exist on the "
                              "broker: run `hub setup` first")
    password = password or secrets.token_urlsafe(24)
    try:
        admin.declare_queue(rejected_queue(queue), {"x-queue-type": "quorum"})
        admin.declare_queue(queue, {"x-queue-type": "quorum", "x-dead-letter-exchange": "",
                                    "x-dead-letter-routing-key": rejected_queue(queue),
                                    "x-delivery-limit": DELIVERY_LIMIT})
        for pattern in patterns:
            admin.bind(settings.exchange, queue, pattern)
        admin.ensure_user(user, password)            # no tags: no management API, no UI
        own_queues = f"^{re.escape(queue)}(\\.rejected)?$"
        admin.set_permissions(user, configure="^$", write="^$", read=own_queues)
    except Exception:
        remove(admin, queue)
        raise
    return Subscriber(name, user, queue, tuple(patterns),
                      subscriber_uri(settings, user, password, admin.vhost, address))


def remove(admin, queue):
    admin.delete_user(queue)
    admin.delete_queue(queue)
    admin.delete_queue(rejected_queue(queue))


def delete(settings, name, admin=None):
    """Remove the subscriber's user (its connections close), queues and bindings; returns how
    many messages its queue still held."""
    admin = admin or broker_admin(settings)
    queue = user_name(settings, validate_name(name))
    info = admin.queue(queue)
    if info is None and not admin.user_exists(queue):
        raise SubscriberError(f"NAME: there is no subscriber {name!r}")
    remove(admin, queue)
    return (info or {}).get("messages", 0)


def bound_patterns(settings, admin, queue):
    return tuple(sorted(b["routing_key"] for b in admin.bindings(queue)
                        if b.get("source") == settings.exchange))


def list_subscribers(settings, admin=None):
    """Each subscriber with its patterns and queue figures (the broker samples those every few
    seconds)."""
    admin = admin or broker_admin(settings)
    prefix = user_name(settings, "")
    found = []
    for user in sorted(u["name"] for u in admin.users() if u["name"].startswith(prefix)):
        queue = admin.queue(user) or {}
        rejected = admin.queue(rejected_queue(user)) or {}
        found.append({
            "name": user[len(prefix):], "user": user, "queue": user,
            "patterns": bound_patterns(settings, admin, user) if queue else (),
            "messages": queue.get("messages", 0), "consumers": queue.get("consumers", 0),
            "rejected": rejected.get("messages", 0), "queue_exists": bool(queue)})
    return found


def get(settings, name, admin=None):
    admin = admin or broker_admin(settings)
    queue = user_name(settings, validate_name(name))
    if admin.queue(queue) is None:
        raise SubscriberError(f"NAME: there is no subscriber {name!r} (no queue {queue})")
    return Subscriber(name, queue, queue, bound_patterns(settings, admin, queue))


# -- replay ---------------------------------------------------------------------------------------
def replay(settings, name, *, since=None, after_event=None, progress=False, admin=None):
    """Publish again into the subscriber's queue every published event of its bound types since
    `since` (a datetime) or after the event `after_event`, in publish order (tooling.resend).
    Returns how many; the broker confirmed each one."""
    subscriber = get(settings, name, admin)
    return resend.resend(settings, subscriber.queue, matching_types(subscriber.patterns),
                         since=since, after_event=after_event, progress=progress)
