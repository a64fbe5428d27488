"""The province's ingestion: county events from its ingest queue, in batches, each exactly once.

The chassis' one implementation of idempotent consumption does the consuming: the queue is
read in batches (hub.batching.QueueBatches: up to HUB_STATS_BATCH messages, or what arrived
within HUB_STATS_BATCH_WAIT seconds; HUB_STATS_PREFETCH in flight) and each batch is taken
exactly once by hub.inbox.EventProcessor.take: in one transaction new event ids go into
`stats_received` (the province's inbox and its archive; an id already there is a redelivery
and is dropped) and their facts into the rollups; only after the commit is the batch
acknowledged (one `basic.ack` with `multiple`). A crash before an ack redelivers the batch; the
event ids make that harmless. An event that cannot be stored (bad data, not a database outage)
is refused on its own, the rest of its batch stored.

What is the province's own is the preparing, done while the previous batch's transaction runs:
each message is parsed, its facts worked out and the batch's facts added up into rollup rows
(rollups.WorkedOut); the transaction then only stores the events, adds the stocks' differences
and writes the rows (redeliveries or a sign-off in the batch: the rows are worked out again in
it). The preparing steps aside every YIELD_EVERY messages for the committing stage (a green
thread of the same service) to send its next statement.

Messages that are not events, or whose data carries a personal field (name, ID number, phone,
address, …), are refused: counted in `stats_rejected` with a reason, never stored. Of the others
only what the figures need is kept, and stored in the archive so (stats/minimise.py: no village,
no risk, identifiers as keyed pseudonyms); the facts are worked out from that.
"""
import dataclasses
import functools
import gc
import json
import logging
import re
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field

import psycopg

from contracts.events import stats as stats_events  # noqa: F401  (registers the types checked here)
from hub.batching import QueueBatches
from hub.events import PERSONAL_FIELDS, EventContractError, check_data
from hub.inbox import EventProcessor
from stats import amqp_reader, domain, metrics, minimise, network, province
from stats.rollups import REGISTRY_TYPES, WorkedOut, split, split_at_signoffs, texts

log = logging.getLogger(__name__)

# errors of one event's data, not of the database being away: the event is set aside
ISOLATABLE = (psycopg.DataError, psycopg.IntegrityError, KeyError, ValueError, TypeError,
              AttributeError)
GC_OBJECTS_PER_EVENT = 20   # objects the collector tracks for an event in flight (about 15)
PERSONAL_KEY = re.compile("|".join(f'"{re.escape(name)}"' for name in sorted(PERSONAL_FIELDS)))
CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
YIELD_EVERY = 256           # messages read or parsed between two chances for the writer to run
# Event texts are joined by a control character (they cannot hold one: JSON escapes them in
# strings and has none outside), into one statement parameter like rollups.texts() does.
RECORD_SEPARATOR = "\x1e"
RECEIVE = f"""
WITH new AS (
    INSERT INTO stats_received (event_id, county_code, type, event)
    SELECT * FROM unnest({split("ids")}::uuid[], {split("counties")}, {split("types")},
                         string_to_array(%(texts)s::text, chr(30))::json[])
    ON CONFLICT (event_id) DO NOTHING RETURNING event_id)
SELECT id::text FROM unnest({split("ids")}::uuid[]) AS id
WHERE id NOT IN (SELECT event_id FROM new)"""


class Rejected(ValueError):
    pass


_SCAN_JSON = json.JSONDecoder().scan_once        # the C scanner json.loads ends in


def decode_json(text):
    """json.loads(text), without its Python-level steps around the scanner for a text with no
    whitespace around it (a sixth of its time); json.loads does any other text."""
    try:
        value, end = _SCAN_JSON(text, 0)
    except StopIteration:
        return json.loads(text)
    return value if end == len(text) else json.loads(text)


def personal_fields(value):
    """The personal field names anywhere in an event's data (keys of nested objects too)."""
    found = set()
    if isinstance(value, dict):
        found |= PERSONAL_FIELDS.intersection(value)
        children = value.values()
    elif isinstance(value, list):
        children = value
    else:
        return found
    for v in children:
        if isinstance(v, (dict, list)):
            found |= personal_fields(v)
    return found


def parse(text):
    """The event in a message body, with its id in canonical form; Rejected(reason) if it is not
    an event the province may keep."""
    try:
        event = decode_json(text)
    except ValueError:
        raise Rejected("not JSON")
    if not isinstance(event, dict):
        raise Rejected("not a CloudEvent")
    get = event.get
    if not (isinstance(get("data"), dict) and isinstance(get("id"), str)
            and isinstance(get("type"), str) and isinstance(get("source"), str)
            and isinstance(get("time"), str)):
        raise Rejected("not a CloudEvent")
    if not CANONICAL_UUID.fullmatch(event["id"]):
        try:
            event["id"] = str(uuid.UUID(event["id"]))
        except ValueError:
            raise Rejected("id is not a UUID")
    if PERSONAL_KEY.search(text):                     # a cheap look first, then the real check
        leaked = personal_fields(event["data"])
        if leaked:
            raise Rejected("personal fields " + ",".join(sorted(leaked)))
    return event


def checked_facts(event):
    """An event's own facts and, for a client event, the client's state after it, once what the
    rules read from it is known to be well formed (a malformed event must not hold up the
    batches after it)."""
    facts = domain.facts_of(event)
    kind, data = event["type"], event["data"]
    state = None
    if kind in domain.CLIENT_TYPES:
        uuid.UUID(str(data["client_id"]))
        state = domain.client_state(event)
    elif kind in domain.VISIT_FLAG_TYPES:
        uuid.UUID(str(data["visit_id"]))
        domain.visit_flags_after(None, event)
    elif kind in network.STATION_TYPES:
        network.opening_of(event)
    elif kind in REGISTRY_TYPES:
        check_data(kind, data, strict=False)
    return facts, state


def tune_gc(prefetch):
    """Collect cyclic garbage less often in an ingesting process. The batches in flight (as many
    events as the prefetch) hold a dozen or so tracked objects an event, without reference
    cycles; were the collector to run before that many allocations, it would walk each of them
    (a fifth of the ingestion's time). Past that it still runs, when garbage accumulates. Objects
    alive at start are frozen out of it."""
    threshold = max(50_000, GC_OBJECTS_PER_EVENT * prefetch)
    if gc.get_threshold()[0] < threshold:
        gc.freeze()
        gc.set_threshold(threshold, 20, 100)


@dataclass
class Prepared:
    """A batch read and parsed, with what its events contribute on their own: ready for its
    transaction."""
    events: list = field(default_factory=list)        # the events, in delivery order
    texts: dict = field(default_factory=dict)         # event id -> its text, as kept
    counties: dict = field(default_factory=dict)      # event id -> its county
    worked: WorkedOut = field(default_factory=WorkedOut)
    rejected: list = field(default_factory=list)      # [(message id, reason)]
    heartbeats: dict = field(default_factory=dict)    # county -> newest sent_at
    known: set = field(default_factory=set)          # ids stats_received had already
    size: int = 0


class Ingester:
    """Stores batches of county events; `run()` consumes the ingest queue until told to stop.

    The reading (hub.batching.QueueBatches) and the exactly-once taking of each batch
    (hub.inbox.EventProcessor.take) are the chassis'; what is the province's own is how a batch
    is prepared, where its ids are recorded (stats_received, the archive) and what it applies."""

    def __init__(self, database, rollups, amqp_uri, queue_name, config, sleep=time.sleep,
                 ssl=None, read_ahead=None, *, data_key):
        self.database = database
        # what is kept of each event (stats/minimise.py: no village, risk or county id), its
        # pseudonyms keyed by the aggregator's HUB_DATA_KEY
        self.minimiser = minimise.Minimiser(data_key)
        # stats.amqp_reader's transport (HUB_STATS_READ_AHEAD, default on) or py-amqp's own
        self.read_ahead = config.read_ahead if read_ahead is None else read_ahead
        self.rollups = rollups
        self.amqp_uri = amqp_uri
        self.ssl = ssl              # py-amqp's TLS options (Settings.amqp_ssl_options), or None
        self.queue = queue_name
        self.config = config
        self.sleep = sleep
        self.processor = EventProcessor.for_service(database, "stats", unknown="ignore",
                                                    validate=False, isolatable=ISOLATABLE)

    # -- storing ---------------------------------------------------------------------------------
    def prepare(self, messages):
        """Parse [(body, properties)], work out each event's facts and add them all up into
        rollup rows (no database)."""
        batch = Prepared(size=len(messages))
        worked = batch.worked
        for i, (body, props) in enumerate(messages, 1):
            if i % YIELD_EVERY == 0:
                time.sleep(0)
            text = body.decode("utf-8") if isinstance(body, (bytes, bytearray)) else body
            if props.get("type") == province.HEARTBEAT_TYPE:
                beat = json.loads(text)
                county = beat["county_code"]
                batch.heartbeats[county] = max(batch.heartbeats.get(county, ""), beat["sent_at"])
                continue
            try:
                event = parse(text)
            except Rejected as exc:
                batch.rejected.append((props.get("message_id"), str(exc)))
                continue
            event_id = event["id"]
            handled = domain.handles(event["type"])
            try:
                event = self.minimiser.event(event, strict=handled)
                if handled:
                    facts, state = checked_facts(event)
            except (KeyError, TypeError, ValueError, AttributeError, EventContractError) as exc:
                batch.rejected.append((props.get("message_id"),
                                       f"invalid {event['type']}: {type(exc).__name__}"))
                continue
            if handled:
                worked.facts[event_id] = facts
                if state is not None:
                    worked.client_states[event_id] = state
            batch.texts[event_id] = minimise.text(event)
            batch.events.append(event)
            batch.counties[event_id] = domain.county_of(event)
        worked.rows = self.rollups.rows((f for facts in worked.facts.values() for f in facts),
                                        years=worked.years)
        return batch

    def commit(self, batch):
        """Store a prepared batch exactly once (EventProcessor.take: one transaction, or one
        per event if one of them cannot be stored, which is then refused); returns Counter of
        outcomes."""
        started = time.perf_counter()
        refused = set()

        def apply(tx, new):
            worked = batch.worked
            chunks = list(split_at_signoffs(new))
            if len(new) < len(batch.events) or len(chunks) > 1:   # not the rows worked out
                worked = dataclasses.replace(worked, rows=None)
            for chunk in chunks:
                self.rollups.apply(tx, chunk, worked=worked)
            self._links(tx, new, [batch.counties[e["id"]] for e in new], {})

        def refuse(event, exc):
            log.error("event %s (%s) refused: %s", event["id"], event["type"],
                      type(exc).__name__)
            refused.add(event["id"])
            batch.rejected.append((event["id"], f"not stored: {type(exc).__name__}"))

        def extra(tx):
            self._links(tx, [], [], batch.heartbeats)
            if batch.rejected:
                tx.execute("INSERT INTO stats_rejected (message_id, reason) "
                           "SELECT * FROM unnest(%s::text[], %s::text[])",
                           [list(c) for c in zip(*batch.rejected)])
        if batch.events:
            outcome = self.processor.take(batch.events, apply, extra=extra, set_aside=refuse,
                                          record=functools.partial(self._receive, batch))
        else:
            with self.database.transaction() as tx:
                extra(tx)
            outcome = Counter()
        metrics.INGEST_BATCH.observe(time.perf_counter() - started)
        stored = Counter(batch.counties[i] for i in batch.texts     # each id once
                         if i not in batch.known and i not in refused)
        for county, n in stored.items():
            metrics.LINK_EVENTS.labels(county).inc(n)
        for event_id in batch.known:
            metrics.LINK_DUPLICATES.labels(batch.counties[event_id]).inc()
        for _, reason in batch.rejected:
            metrics.REJECTED.labels(reason.split(" ")[0]).inc()
        outcome.update(rejected=len(batch.rejected), heartbeats=len(batch.heartbeats))
        return outcome

    def store(self, messages):
        return self.commit(self.prepare(messages))

    @staticmethod
    def _receive(batch, tx, events):
        """Store the events in stats_received; returns the ids of those that were there
        already (redeliveries)."""
        texts_of, counties_of = batch.texts, batch.counties
        ids = [e["id"] for e in events]
        rows = tx.all(RECEIVE, {
            "ids": texts(ids), "counties": texts([counties_of[i] for i in ids]),
            "types": texts([e["type"] for e in events]),
            "texts": RECORD_SEPARATOR.join(texts_of[i] for i in ids)})
        known = {r["id"] for r in rows}
        batch.known |= known
        return known

    @staticmethod
    def _links(tx, events, counties, heartbeats):
        counts, latest = Counter(counties), {}
        for e, county in zip(events, counties):
            if e["time"] > latest.get(county, ""):
                latest[county] = e["time"]
        counties = sorted(set(counts) | set(heartbeats))
        if counties:
            tx.execute("""INSERT INTO stats_links AS l (county_code, last_heartbeat_at,
                              last_event_at, events)
                          SELECT * FROM unnest(%s::text[], %s::timestamptz[], %s::timestamptz[],
                                               %s::bigint[])
                          ON CONFLICT (county_code) DO UPDATE SET
                              last_heartbeat_at = greatest(l.last_heartbeat_at,
                                                           EXCLUDED.last_heartbeat_at),
                              last_event_at = greatest(l.last_event_at, EXCLUDED.last_event_at),
                              events = l.events + EXCLUDED.events""",
                       (counties, [heartbeats.get(c) for c in counties],
                        [latest.get(c) for c in counties], [counts[c] for c in counties]))
        return counts

    # -- consuming ------------------------------------------------------------------------------
    def batches(self):
        """The ingest queue, read in batches (hub.batching.QueueBatches)."""
        def connect():
            return amqp_reader.connect(self.amqp_uri, self.read_ahead, self.ssl,
                                       name="province ingestion")
        return QueueBatches(connect, self.queue, self.prepare, self.commit,
                            batch_size=self.config.batch_size,
                            prefetch=self.config.prefetch, batch_wait=self.config.batch_wait,
                            sleep=self.sleep, name="province ingestion")

    def run(self, stopping):
        """Consume until stopping() is true; reconnect with backoff when the broker goes away."""
        tune_gc(self.config.prefetch)
        self.batches().run(stopping)

    def consume(self, stopping, until_idle=False, limit=None):
        """Consume once (no reconnecting): returns the number of messages stored. `until_idle`
        returns once the queue stays empty a while, `limit` once that many messages are stored
        (benchmarks, tests)."""
        tune_gc(self.config.prefetch)
        return self.batches().consume(stopping, until_idle=until_idle, limit=limit)
