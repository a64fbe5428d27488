"""The hub's broker topology: one topic exchange, and a durable queue per consuming service.

Which service consumes which event types is declared here, in one table, so the queues can be
declared (by `hub topology`, and by every relay before it publishes) before any event is sent.
"""
from kombu import Exchange, Queue, binding

# service -> the event type patterns (AMQP topic routing keys) it consumes
SUBSCRIPTIONS: dict[str, list[str]] = {}


def exchange(settings):
    return Exchange(settings.exchange, type="topic", durable=True)


def service_queue(settings, service, patterns):
    ex = exchange(settings)
    return Queue(settings.queue_name(service), exchange=ex,
                 bindings=[binding(ex, routing_key=p) for p in patterns],
                 durable=True, queue_arguments={"x-queue-type": "quorum"})


def queues(settings, subscriptions=None):
    subs = SUBSCRIPTIONS if subscriptions is None else subscriptions
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
