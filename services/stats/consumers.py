"""What stats does with the hub's events: every one of them, a batch at a time, adds its facts
to the rollups (types without figures are counted as ignored), cut after each sign-off."""
from stats import domain, metrics
from stats.rollups import split_at_signoffs

PATTERNS = ("#",)


def on_events(tx, events, rollups, role):
    """The body of stats' one @handle_events method."""
    for part in split_at_signoffs(events):
        rollups.apply(tx, part)
    for event in events:
        metrics.EVENTS.labels(role, event["type"],
                              "counted" if domain.handles(event["type"]) else "ignored").inc()
