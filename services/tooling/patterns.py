"""Topic patterns over the hub's event types, as `--events` takes them: `client.#`,
`visit.completed.v1`. Parsed, checked against the types the hub publishes, and expanded."""
import re
from functools import lru_cache

from hub.events import load_contract

WORD = re.compile(r"^(\*|#|[a-z0-9_]+)$")


class PatternError(ValueError):
    """A pattern is malformed or matches no event type; the message says which and why."""


def topic_matches(pattern, key):
    """AMQP topic matching: `*` is exactly one word, `#` is zero or more words."""
    return _matches(tuple(pattern.split(".")), tuple(key.split(".")))


@lru_cache(maxsize=4096)
def _matches(pattern, words):
    if not pattern:
        return not words
    head, rest = pattern[0], pattern[1:]
    if head == "#":
        return any(_matches(rest, words[i:]) for i in range(len(words) + 1))
    return bool(words) and head in ("*", words[0]) and _matches(rest, words[1:])


def event_types():
    """Every event type the hub publishes (all services' event modules imported)."""
    return list(load_contract())


def matching_types(patterns, types=None):
    types = event_types() if types is None else types
    return [t for t in types if any(topic_matches(p, t) for p in patterns)]


def parse_patterns(text, types=None):
    """'client.#, visit.completed.v1' -> the patterns, each checked: valid syntax, and matching
    at least one type the hub publishes (a typo would otherwise bind a queue that stays empty)."""
    types = event_types() if types is None else types
    patterns = list(dict.fromkeys(p.strip() for p in text.split(",") if p.strip()))
    if not patterns:
        raise PatternError("--events: name at least one event type or pattern (e.g. client.#)")
    for pattern in patterns:
        if not all(WORD.match(word) for word in pattern.split(".")):
            raise PatternError(
                f"--events: {pattern!r} is not an event type or topic pattern: words of a-z, 0-9 "
                "and _, separated by dots; `*` stands for one word, `#` for any number")
        if not matching_types([pattern], types):
            raise PatternError(f"--events: {pattern!r} matches no event type the hub "
                                  f"publishes{_hint(pattern, types)}; see `hub subscriber types`")
    return patterns


def _hint(pattern, types):
    """A suggestion for a pattern that matches nothing, e.g. client.* -> client.#."""
    words = pattern.split(".")
    wildcard = next((i for i, w in enumerate(words) if w in ("*", "#")), len(words))
    broader = ".".join(words[:wildcard] + ["#"])
    if broader != pattern and matching_types([broader], types):
        return (f" (a type has three words, like client.registered.v1, and `*` stands for "
                f"exactly one: did you mean {broader}?)")
    return ""
