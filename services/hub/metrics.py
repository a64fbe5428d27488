"""The Prometheus metrics every hub service exposes (one definition, labelled by service)."""
from prometheus_client import Counter, Gauge, Histogram

HTTP_REQUESTS = Counter(
    "hub_http_requests_total", "HTTP requests answered, by route and status",
    ["service", "method", "route", "status"])
HTTP_LATENCY = Histogram(
    "hub_http_request_duration_seconds", "Time to answer an HTTP request",
    ["service", "method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
EVENTS_PUBLISHED = Counter(
    "hub_events_published_total", "Events relayed from the outbox and confirmed by the broker",
    ["service", "type"])
EVENTS_CONSUMED = Counter(
    "hub_events_consumed_total", "Events processed by a consumer (first delivery that took effect)",
    ["service", "type"])
BATCH_SIZE = Histogram(
    "hub_batch_size", "Items run together in one transaction: a consumer's deliveries "
    "(work=events) or a batched route's calls (work=the route)", ["service", "work"],
    buckets=(1, 2, 5, 10, 20, 50, 100, 200))
EVENTS_DUPLICATE = Counter(
    "hub_events_duplicate_total", "Redelivered events recognised by the inbox and skipped",
    ["service", "type"])
EVENTS_FAILED = Counter(
    "hub_events_failed_total", "Event handler failures (each attempt)", ["service", "type"])
EVENTS_PARKED = Counter(
    "hub_events_parked_total", "Events parked after their last attempt or as invalid",
    ["service", "type"])
OUTBOX_BACKLOG = Gauge(
    "hub_outbox_backlog", "Events in the outbox not yet confirmed by the broker", ["service"])
PARKED_EVENTS = Gauge(
    "hub_parked_events", "Events parked now, waiting for an operator", ["service"])
