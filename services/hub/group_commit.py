"""Group commit for a route: the calls that arrived together, decided in one transaction.

A route declared `@api(..., batch=True)` is handed the calls that reached this process at the
same moment (hub.batching gathers them; `hub_batch_size{work=<route>}` shows how many) and
answers them with `commit_together(database, calls, decide)`: `decide(tx, calls)` returns one
outcome per call, in the order given (the order they arrived) — the call's result, or the
HubError it is answered with — each exactly what the call would have got alone, after the ones
before it. One transaction and one commit serve them all; a lone call runs as a plain route does.

Inside the group's transaction each call still passes the chassis' steps as it would alone: its
Idempotency-Key is claimed first (a key used before answers its first answer and takes no part),
its result is settled (`call.settle`: the caller's scope, audit entries, the answer kept for its
key) and the key of a refused call is given back, so a retry runs again. A call repeating the
key of an earlier call of the group runs after the group commits (alone it would have waited for
that one's commit), and gets its answer. Anything else that goes wrong — an unexpected error, or
a settle step refusing a result that later calls' answers may have counted on — undoes the whole
group, and its calls run again one by one, each in a transaction of its own.

Used by intake (registrations), resources (allocations) and visits (unplanned visits).
"""
import logging

from psycopg.types.json import Jsonb

from hub.db import REMEMBER, UnitOfWork
from hub.errors import HubError, IdempotentReplay

log = logging.getLogger(__name__)


CLAIM_ALL = """INSERT INTO hub_idempotency (key, scope)
               SELECT * FROM unnest(%s::text[], %s::text[]) ON CONFLICT (key) DO NOTHING
               RETURNING key"""


class GroupFailed(Exception):
    """The group cannot be committed as decided; its calls are run one by one instead."""


def commit_together(database, calls, decide):
    """One outcome per call (a result, or the exception its caller raises), in order."""
    first, repeats, keys = [], [], set()
    for i, call in enumerate(calls):
        key = call.idempotency and call.idempotency[0]
        (repeats if key in keys else first).append(i)
        if key:
            keys.add(key)
    outcomes = [None] * len(calls)
    if len(first) == 1:
        outcomes[first[0]] = alone(database, calls[first[0]], decide)
    else:
        try:
            for i, outcome in zip(first, together(database, [calls[i] for i in first], decide)):
                outcomes[i] = outcome
        except Exception as exc:
            log.info("a group of %d calls of %s failed (%s: %s); running them one by one",
                     len(first), " ".join(calls[0].route[:2]), type(exc).__name__, exc)
            for i in first:
                outcomes[i] = alone(database, calls[i], decide)
    for i in repeats:
        outcomes[i] = alone(database, calls[i], decide)
    return outcomes


def alone(database, call, decide):
    """One call in a transaction of its own, as a plain route runs it; its outcome."""
    try:
        with database.transaction(idempotency=call.idempotency) as tx:
            outcome = decide(tx, [call])[0]
            if isinstance(outcome, BaseException):
                raise outcome
            return call.settle(tx, outcome)
    except Exception as exc:
        return exc


def together(database, calls, decide):
    """All the calls in one transaction; raises (having undone it) if it cannot be used."""
    outcomes = [None] * len(calls)
    with database.transaction() as tx:
        own = _claim_keys(tx, calls, outcomes)
        todo = [i for i in range(len(calls)) if outcomes[i] is None]
        decided = decide(tx, [calls[i] for i in todo]) if todo else []
        for i, outcome in zip(todo, decided):
            if isinstance(outcome, HubError):
                outcomes[i] = outcome
                if i in own:
                    own[i].release_idempotency_key()
                continue
            if isinstance(outcome, BaseException):
                raise GroupFailed(f"a call failed unexpectedly: {outcome!r}")
            try:
                outcomes[i] = calls[i].settle(own.get(i, tx), outcome)
            except HubError as refused:
                raise GroupFailed(f"a decided result was refused: {refused!r}")
        answers = [unit.answer for unit in own.values() if unit.answer is not None]
        if answers:
            tx.execute_each(REMEMBER, answers)
    return outcomes


def _claim_keys(tx, calls, outcomes):
    """Claim each call's Idempotency-Key (in key order, as every group does, so that two groups
    never deadlock over keys; the new ones in one statement); {index: the call's own unit of
    work on the group's connection}; a key used before answers that call at once (its outcome
    is set)."""
    keyed = sorted((c.idempotency, i) for i, c in enumerate(calls) if c.idempotency)
    fresh = {row["key"] for row in tx.all(CLAIM_ALL, ([key for (key, _), _ in keyed],
                                                      [scope for (_, scope), _ in keyed]))
             } if keyed else set()
    own = {}
    for idempotency, i in keyed:
        unit = OwnKey(tx.conn, tx.source, idempotency)
        unit.pending_audit = tx.pending_audit   # one transaction: its entries chained on once
        if idempotency[0] not in fresh:
            try:
                unit.claim_idempotency_key()    # used before: its first answer, or a conflict
            except (HubError, IdempotentReplay) as answered:
                outcomes[i] = answered
                continue
        own[i] = unit
    return own


class OwnKey(UnitOfWork):
    """A call's own Idempotency-Key on the group's connection: the answer it keeps is written
    with the other calls' in one round trip (`together`)."""
    answer = None

    def remember_response(self, status, body):
        self.answer = (status, Jsonb(body), self.idempotency[0])
