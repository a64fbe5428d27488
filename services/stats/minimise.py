"""What an aggregator keeps of a county's event: what its figures need, and no more.

The province's figures stop at the county (and its prefecture); they are worked out from each
event's codes, categories, age group, dates, kinds and amounts, and the stocks (active clients,
open overdue visits) from each client's and visit's history, which needs to tell one client (or
visit) from another but not who they are. So, on the way in and in the archive a rebuild reads
(`stats_received`), every event is kept as:

- its envelope's own attributes (`specversion`, `id`, `source`, `type`, `time`,
  `datacontenttype`, `data`): no `subject` (it names the record, a client's id among them) and
  no extension attribute;
- its data without the fields no province figure reads that say more about a person: the
  village (`village_code`, `previous_village_code`), the risk (`risk_level`,
  `previous_risk_level`, `assessed_risk_level`, `risk_flags`), `age_band`, `sex` and the
  description of what was given (`item`, `unit`, `quantity`) or who gave a visit
  (`completed_by`), wherever they are in it;
- every identifier (a field named `…_id`, or `…_ids` for a list) replaced by its *pseudonym*:
  keyed BLAKE2b (a MAC, cheaper here than HMAC-SHA256) under a key derived from the
  aggregator's HUB_DATA_KEY, shaped as a UUID of version 8. The same id always gives the same pseudonym, so histories stay whole and a
  county's events sent again (`hub resend`) are counted as before; without the key no one can
  tell which client of a county a pseudonym stands for, or compute it from a county's id.

A pseudonym is recognised as one (version 8) and kept, and nothing dropped comes back, so an
event kept so is kept the same again: a rebuild (or an aggregator fed by another's archive)
gives the same events and the same figures.
"""
import hashlib
import json
import re
import uuid

from hub.crypto import derived_key

ENVELOPE = ("specversion", "id", "source", "type", "time", "datacontenttype", "data")
DROPPED = frozenset({"village_code", "previous_village_code", "risk_level", "previous_risk_level",
                     "assessed_risk_level", "risk_flags", "age_band", "sex", "item", "unit",
                     "quantity", "completed_by"})
PSEUDONYM = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")
CANONICAL = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
CACHED = 200_000            # pseudonyms remembered (a batch's clients recur)


class Minimiser:
    """Reduces county events to what an aggregator keeps (pure, but for a cache)."""

    def __init__(self, data_key):
        self._key = derived_key(data_key, b"shegong-hub aggregator pseudonyms")
        self._known = {}

    def event(self, event, strict=True):
        """The event as the aggregator keeps it (a new dict; the given one is left as it is).
        `strict`: an identifier that is not a UUID is a ValueError (the contract's ids all are;
        an event of a type the rules do not know is kept whatever its ids look like)."""
        kept = {k: event[k] for k in ENVELOPE if k in event}
        kept["data"] = self._reduce(event.get("data") or {}, strict)
        return kept

    def pseudonym(self, value, strict=False):
        """The pseudonym of an identifier (a pseudonym already: itself). `strict`: one that is
        not a UUID is a ValueError."""
        known = self._known.get(value)
        if known is not None:
            return known
        value = str(value).lower()
        if not CANONICAL.fullmatch(value):
            try:
                return self.pseudonym(str(uuid.UUID(value)))   # the same id written otherwise
            except ValueError:
                if strict:
                    raise
                return self._hash(value)
        if PSEUDONYM.fullmatch(value):
            return value
        if len(self._known) >= CACHED:
            self._known.clear()
        out = self._known[value] = self._hash(value)
        return out

    def _hash(self, value):
        digest = bytearray(hashlib.blake2b(value.encode(), key=self._key, digest_size=16).digest())
        digest[6] = 0x80 | (digest[6] & 0x0F)          # version 8 (RFC 9562: custom)
        digest[8] = 0x80 | (digest[8] & 0x3F)          # the RFC's variant
        h = digest.hex()
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"

    def _reduce(self, value, strict):
        if type(value) is list:
            return [self._reduce(v, strict) for v in value]
        if type(value) is not dict:
            return value
        out = {}
        for key, v in value.items():
            kind = KINDS.get(key) or _kind(key)
            if kind is DROP:
                continue
            if kind is ID and v is not None and type(v) not in (dict, list):
                out[key] = self.pseudonym(v, strict)
            elif kind is IDS and type(v) is list:
                out[key] = [self.pseudonym(i, strict) if i is not None else None for i in v]
            elif type(v) is dict or type(v) is list:
                out[key] = self._reduce(v, strict)
            else:
                out[key] = v
        return out


def text(event):
    """An event kept as the archive stores it: compact JSON, UTF-8 as it is."""
    return _ENCODE(event)


_ENCODE = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), check_circular=False).encode
DROP, ID, IDS, KEEP = "drop", "id", "ids", "keep"
KINDS = {}                  # field name -> what is done with it (field names are few)


def _kind(key):
    kind = (DROP if key in DROPPED else ID if key.endswith("_id")
            else IDS if key.endswith("_ids") else KEEP)
    if len(KINDS) < 10_000:
        KINDS[key] = kind
    return kind
