#!/usr/bin/env python3
"""An example subscriber of a county hub's events, written with pika (not the hub's own client).

It connects with the credentials `hub subscriber create` printed, consumes the subscriber's
queue, and checks every message against the hub's AsyncAPI document (docs/events/asyncapi.json):
the CloudEvents envelope and the `data` of the message's type. Then:

  valid      -> processed (here: counted) and acknowledged;
  duplicate  -> an id it has seen already (the hub delivers at least once; a replay re-sends
                events with their ids): acknowledged, not processed again;
  invalid    -> the field errors are logged and the message is rejected without requeue: the
                broker moves it to the subscriber's `<queue>.rejected` queue, where it can be
                looked at, instead of handing it back forever.

It stops by itself after --max-messages, or when no message came for --idle-timeout seconds,
and with --json-summary prints what it saw per type. Needs: pip install pika jsonschema
"""
import argparse
import json
import logging
import os
import sys
from collections import Counter, OrderedDict
from pathlib import Path
from urllib.parse import unquote, urlsplit

import jsonschema
import pika

DEFAULT_CONTRACT = Path(__file__).resolve().parents[1] / "events" / "asyncapi.json"
log = logging.getLogger("subscriber")


class Contract:
    """One JSON Schema validator per event type, from the AsyncAPI document's channels."""

    def __init__(self, path):
        self.document = json.loads(Path(path).read_text(encoding="utf-8"))
        self.validators = {}
        for type_key, channel in self.document["channels"].items():
            payload = self.resolve(channel["subscribe"]["message"])["payload"]
            jsonschema.Draft7Validator.check_schema(payload)    # AsyncAPI 2.x: draft 07
            self.validators[type_key] = jsonschema.Draft7Validator(
                payload, format_checker=jsonschema.FormatChecker())

    def resolve(self, node):
        """A local reference (#/components/messages/…) to what it points at."""
        if "$ref" not in node:
            return node
        target = self.document
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        return target

    def errors(self, event):
        """The problems of a decoded message, as 'field: reason' lines (none: it is valid)."""
        if not isinstance(event, dict):
            return ["(message): not a JSON object"]
        validator = self.validators.get(event.get("type"))
        if validator is None:
            return [f"type: {event.get('type')!r} is not an event type of the contract"]
        return [f"{'.'.join(str(p) for p in error.absolute_path) or '(event)'}: {error.message}"
                for error in sorted(validator.iter_errors(event), key=lambda e: list(e.path))]


class SeenIds:
    """The last `size` event ids, to recognise a duplicate (a real subscriber keeps them with
    its data, in the same transaction)."""

    def __init__(self, size=100_000):
        self.size = size
        self.ids = OrderedDict()

    def add(self, event_id):
        """True if the id is new."""
        if event_id in self.ids:
            return False
        self.ids[event_id] = None
        if len(self.ids) > self.size:
            self.ids.popitem(last=False)
        return True


def consume(uri, queue, contract, max_messages=None, idle_timeout=None, prefetch=100):
    """Receive, check and acknowledge until a limit is reached; returns the counts."""
    counts = {"valid": Counter(), "invalid": Counter(), "duplicate": Counter()}
    seen = SeenIds()
    connection = pika.BlockingConnection(pika.URLParameters(uri))
    try:
        channel = connection.channel()
        channel.basic_qos(prefetch_count=prefetch)
        received = 0
        for method, properties, body in channel.consume(queue, inactivity_timeout=idle_timeout):
            if method is None:                  # nothing came for idle_timeout seconds
                break
            outcome, type_key = handle(channel, method, body, contract, seen)
            counts[outcome][type_key] += 1
            received += 1
            if max_messages and received >= max_messages:
                break
        channel.cancel()                        # unacked prefetched messages go back to the queue
    finally:
        connection.close()
    return counts


def handle(channel, method, body, contract, seen):
    try:
        event = json.loads(body)
    except ValueError as exc:
        event, problems = None, [f"(message): not JSON ({exc})"]
    else:
        problems = contract.errors(event)
    type_key = event.get("type", "?") if isinstance(event, dict) else "?"
    if problems:
        log.warning("rejected event %s of type %s:\n  %s",
                    event.get("id") if isinstance(event, dict) else "?", type_key,
                    "\n  ".join(problems))
        channel.basic_nack(method.delivery_tag, requeue=False)
        return "invalid", type_key
    if not seen.add(event["id"]):
        channel.basic_ack(method.delivery_tag)
        return "duplicate", type_key
    log.info("%s %s %s", type_key, event["id"], event["subject"])   # a real one would store it
    channel.basic_ack(method.delivery_tag)
    return "valid", type_key


def summary(counts):
    types = sorted(set().union(*counts.values()))
    return {
        "received": sum(sum(c.values()) for c in counts.values()),
        "valid": sum(counts["valid"].values()),
        "invalid": sum(counts["invalid"].values()),
        "duplicate": sum(counts["duplicate"].values()),
        "by_type": {t: {k: counts[k][t] for k in counts if counts[k][t]} for t in types},
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--uri", default=os.environ.get("HUB_SUBSCRIBER_URI"),
                        help="the AMQP URI `hub subscriber create` printed, with the password "
                             "(default: $HUB_SUBSCRIBER_URI, which keeps it out of `ps`)")
    parser.add_argument("--queue", default=None,
                        help="the queue to consume (default: the URI's user name, which is the "
                             "subscriber's queue)")
    parser.add_argument("--contract", default=str(DEFAULT_CONTRACT),
                        help="the hub's AsyncAPI document (default: %(default)s)")
    parser.add_argument("--max-messages", type=int, default=None,
                        help="stop after this many messages")
    parser.add_argument("--idle-timeout", type=float, default=None,
                        help="stop when no message came for this many seconds")
    parser.add_argument("--json-summary", action="store_true",
                        help="print the counts (valid, invalid, duplicate) per type as JSON")
    parser.add_argument("--verbose", action="store_true", help="log every valid event too")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(message)s", stream=sys.stderr)
    if not args.uri:
        parser.error("--uri: give the subscriber's AMQP URI (or set HUB_SUBSCRIBER_URI)")
    queue = args.queue or unquote(urlsplit(args.uri).username or "")
    if not queue:
        parser.error("--queue: the URI has no user name to take the queue name from")
    counts = consume(args.uri, queue, Contract(args.contract), args.max_messages,
                     args.idle_timeout)
    result = summary(counts)
    if args.json_summary:
        print(json.dumps(result, indent=2, sort_keys=True))
    else:
        print(f"{result['received']} received: {result['valid']} valid, {result['invalid']} "
              f"rejected, {result['duplicate']} duplicate(s)")
    return 1 if result["invalid"] else 0


if __name__ == "__main__":
    sys.exit(main())
