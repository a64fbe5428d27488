"""The hub's broker topology: one topic exchange, and a durable queue per consuming service.

Which event types a service consumes is declared once, on its `@handle_events(...)` method;
`consumer_subscriptions()` collects them so every queue can be declared (by `hub setup`, and by every
relay before it publishes) before any event is sent.
"""
from kombu import Exchange, Queue, binding

from hub.manifest import manifests


def consumer_subscriptions():
    """service -> the event type patterns (AMQP topic routing keys) its handler consumes."""
    subs = {}
    for name, manifest in manifests().items():
        cls = manifest.service_class()
        for attr in dir(cls):
            patterns = getattr(getattr(cls, attr), "hub_event_patterns", None)
            if patterns:
                subs[name] = list(patterns)
    return subs


def exchange(settings):
    return Exchange(settings.exchange, type="topic", durable=True)


def service_queue(settings, service, patterns):
    ex = exchange(settings)
    return Queue(settings.queue_name(service), exchange=ex,
                 bindings=[binding(ex, routing_key=p) for p in patterns],
                 durable=True, queue_arguments={"x-queue-type": "quorum"})


def queues(settings, subscriptions=None):
    subs = consumer_subscriptions() if subscriptions is None else subscriptions
    return [service_queue(settings, service, patterns) for service, patterns in subs.items()]


def declare(settings, channel, subscriptions=None):
    """Declare the exchange and every consumer queue with its bindings (idempotent)."""
    exchange(settings)(channel).declare()
    declared = []
    for queue in queues(settings, subscriptions):
        bound = queue(channel)
        bound.declare()
        declared.append(queue.name)
    return declared


def delete(settings, channel, subscriptions=None):
    for queue in queues(settings, subscriptions):
        queue(channel).delete()
    exchange(settings)(channel).delete()
