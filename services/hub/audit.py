"""The audit trail: who read personal details, changed a client, exported, or was refused.

Each service keeps its own chain in its database (table hub_audit, append-only by trigger).
Entry n stores hash_n = sha256(canonical(seq, at, actor, role, action, target, detail, address,
hash_{n-1})), so `verify` finds any entry that was altered, removed or inserted afterwards.
Entries are queued on the transaction whose effect they record and chained on just before it
commits (a change and its entry commit together), or, for refusals, in a transaction of their
own. Entries hold no personal detail: targets are record ids and `detail` names fields, never
their values.
"""
import getpass
import hashlib
import json
import socket
from dataclasses import dataclass, field
from datetime import datetime, timezone

from psycopg.rows import tuple_row
from psycopg.types.json import Jsonb

GENESIS = "0" * 64
CHAIN_LOCK = 0x6875626175646974      # pg advisory lock key ("hubaudit"): one writer at a time
COLUMNS = "seq, at, actor, role, action, target, detail, address, prev_hash, hash"


@dataclass(frozen=True)
class Entry:
    actor: str
    role: str
    action: str             # personal.read, client.change, export, auth.refused, access.denied …
    target: str             # e.g. "client/<uuid>", or the route for refusals
    address: str
    detail: dict = field(default_factory=dict)


def operator():
    """(actor, address) of an operator at the command line on this machine."""
    return f"cli:{getpass.getuser()}", f"cli@{socket.gethostname()}"


def operator_entry(action, target, detail=None):
    """An entry for something an operator did with the command line on this machine."""
    actor, address = operator()
    return Entry(actor, "operator", action, target, address, detail or {})


def _iso(at):
    return at.astimezone(timezone.utc).isoformat(timespec="microseconds")


def entry_hash(seq, at, actor, role, action, target, detail, address, prev_hash):
    canonical = json.dumps([seq, _iso(at), actor, role, action, target, detail, address, prev_hash],
                           sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def append(tx, entries):
    """Queue `entries` on the open unit of work `tx`; they join the trail when it commits."""
    tx.pending_audit.extend(entries)


def write(tx):
    """Chain the entries queued on `tx` onto the trail, just before it commits: the chain's lock
    is taken here and held until the commit, so transactions hold it for as short as they can."""
    if not tx.pending_audit:
        return
    tx.execute("SELECT pg_advisory_xact_lock(%s)", (CHAIN_LOCK,))
    # a statement of its own, after the lock: its snapshot sees the last holder's entry
    last = tx.one("SELECT seq, hash FROM hub_audit ORDER BY seq DESC LIMIT 1")
    seq, prev = (last["seq"], last["hash"]) if last else (0, GENESIS)
    at, rows = datetime.now(timezone.utc), []
    for e in tx.pending_audit:
        seq += 1
        digest = entry_hash(seq, at, e.actor, e.role, e.action, e.target, e.detail, e.address, prev)
        rows.append((seq, at, e.actor, e.role, e.action, e.target, Jsonb(e.detail), e.address,
                     prev, digest))
        prev = digest
    tx.execute_each(f"INSERT INTO hub_audit ({COLUMNS}) VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)",
                    rows)
    tx.pending_audit.clear()


def record(database, *entries):
    """Write entries in a transaction of their own (refusals: the request's own was undone)."""
    with database.transaction() as tx:
        append(tx, entries)


@dataclass
class Verification:
    entries: int = 0
    problems: list = field(default_factory=list)

    @property
    def intact(self):
        return not self.problems


def verify(conn, batch=5000):
    """Walk a service's chain from the start; report every entry that does not link up."""
    result, expected_seq, prev = Verification(), 1, GENESIS
    with conn.cursor(name="hub_audit_verify", row_factory=tuple_row) as cur:
        cur.itersize = batch
        cur.execute(f"SELECT {COLUMNS} FROM hub_audit ORDER BY seq")
        for seq, at, actor, role, action, target, detail, address, prev_hash, digest in cur:
            result.entries += 1
            if seq != expected_seq:
                result.problems.append(f"entry {expected_seq}"
                                       + (f"–{seq - 1}" if seq - 1 > expected_seq else "")
                                       + " missing (removed?)")
            if prev_hash != prev:
                result.problems.append(f"entry {seq}: does not follow the entry before it")
            if entry_hash(seq, at, actor, role, action, target, detail, address,
                          prev_hash) != digest:
                result.problems.append(f"entry {seq}: content does not match its hash (altered)")
            expected_seq, prev = seq + 1, digest
    return result


def search(tx, query):
    """Entries newest first, filtered by since/until (until exclusive), actor, action, target."""
    where, params = [], {}
    for name, clause in (("since", "at >= %(since)s"), ("until", "at < %(until)s"),
                         ("actor", "actor = %(actor)s"), ("role", "role = %(role)s"),
                         ("target", "target = %(target)s")):
        if query.get(name):
            where.append(clause)
            params[name] = query[name]
    if query.get("action"):
        where.append("(action = %(action)s OR action LIKE %(action_prefix)s)")
        params.update(action=query["action"], action_prefix=query["action"] + ".%")
    params["limit"] = query.get("limit") or 100
    return tx.all(f"SELECT {COLUMNS} FROM hub_audit"
                  + (" WHERE " + " AND ".join(where) if where else "")
                  + " ORDER BY seq DESC LIMIT %(limit)s", params)
