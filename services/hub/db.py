"""PostgreSQL for a service: a connection pool as a nameko dependency, and the unit of work.

Queries from many workers overlap because `hub/__init__.py` makes psycopg wait with select(),
which eventlet makes cooperative.
"""
import logging
from contextlib import contextmanager

import eventlet
import psycopg
from nameko.extensions import DependencyProvider
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool, PoolTimeout

from hub import audit
from hub import events as hub_events
from hub.errors import Conflict, IdempotentReplay
from hub.i18n import _
from hub.relay import OutboxRelay

log = logging.getLogger(__name__)

# the database is away (restarting, unreachable) or every connection is busy: not the caller's
# fault and not the handler's; an HTTP call is answered 503 (try again), an event goes back
UNAVAILABLE = (psycopg.OperationalError, PoolTimeout)
RELAY_IDLE_SECONDS = 0.05
# the first answer given under an Idempotency-Key (hub.group_commit keeps a group's at once)
REMEMBER = "UPDATE hub_idempotency SET status = %s, body = %s WHERE key = %s"


def open_pool(dsn, *, min_size=2, max_size=20, name="hub"):
    pool = ConnectionPool(dsn, min_size=min_size, max_size=max_size, open=False, name=name,
                          kwargs={"row_factory": dict_row, "autocommit": False})
    pool.open(wait=True, timeout=15)
    return pool


class UnitOfWork:
    """One database transaction, with the events it raises written to the outbox and its audit
    entries chained onto the trail when it commits (`flush`)."""

    def __init__(self, conn, source, idempotency=None):
        self.conn = conn
        self.source = source
        self.idempotency = idempotency      # (key, scope) or None
        self.pending_events = []
        self.response = None
        self.pending_audit = []     # audit entries to chain on at commit (hub.audit)

    # -- queries -------------------------------------------------------
    def execute(self, sql, params=None):
        return self.conn.execute(sql, params)

    def one(self, sql, params=None):
        return self.conn.execute(sql, params).fetchone()

    def all(self, sql, params=None):
        return self.conn.execute(sql, params).fetchall()

    def execute_each(self, sql, rows):
        """`sql` once per row of parameters, pipelined (a single row: one plain round trip)."""
        if len(rows) == 1:
            self.execute(sql, rows[0])      # executemany would open a pipeline for nothing
        else:
            with self.conn.cursor() as cur:
                cur.executemany(sql, rows)

    @contextmanager
    def savepoint(self):
        """A nested step: on error its changes and its events are undone, the rest kept."""
        pending, audited = len(self.pending_events), len(self.pending_audit)
        self.execute("SAVEPOINT hub_step")
        try:
            yield self
        except BaseException:
            try:
                self.execute("ROLLBACK TO SAVEPOINT hub_step")
            except psycopg.Error:
                pass    # the connection is gone: the whole transaction fails with the error
            del self.pending_events[pending:]
            del self.pending_audit[audited:]
            raise
        self.execute("RELEASE SAVEPOINT hub_step")

    # -- events ----------------------------------------------------------
    def emit(self, type_key, subject, data, *, time=None):
        """Queue an event (and the older versions it still stands beside); it is validated now
        and written to the outbox when this commits."""
        events = hub_events.make_events(type_key, self.source, subject, data, time=time)
        self.pending_events.extend(events)
        return events[0]

    # -- idempotency ---------------------------------------------------------
    def claim_idempotency_key(self):
        """Claim the request's Idempotency-Key; replay the first answer if it was used before."""
        key, scope = self.idempotency
        row = self.one(
            "INSERT INTO hub_idempotency (key, scope) VALUES (%s, %s) "
            "ON CONFLICT (key) DO NOTHING RETURNING key", (key, scope))
        if row is not None:
            return
        stored = self.one("SELECT scope, status, body FROM hub_idempotency WHERE key = %s", (key,))
        if stored["scope"] != scope:
            raise Conflict(_("This Idempotency-Key was already used for another request."),
                           fields={"Idempotency-Key": [_("already used for {scope}",
                                                         scope=stored["scope"])]})
        raise IdempotentReplay(stored["status"], stored["body"])

    def release_idempotency_key(self):
        """Give back a key claimed in this transaction (its call failed: a retry runs again)."""
        self.execute("DELETE FROM hub_idempotency WHERE key = %s", (self.idempotency[0],))

    def remember_response(self, status, body):
        if self.idempotency is not None:
            self.execute(REMEMBER, (status, Jsonb(body), self.idempotency[0]))

    # -- commit ----------------------------------------------------------------
    def flush(self):
        """Write what waits for the commit: outbox events, then the audit entries (whose
        chain lock is then held only for the commit)."""
        self.flush_events()
        audit.write(self)

    def flush_events(self):
        if not self.pending_events:
            return
        rows = [(e["id"], e["type"], e["subject"], Jsonb(e)) for e in self.pending_events]
        self.execute_each(
            "INSERT INTO hub_outbox (event_id, type, subject, event) VALUES (%s, %s, %s, %s)", rows)
        self.pending_events = []


class Database:
    """A service's database: a pool of connections and transactions that carry events."""

    def __init__(self, settings, service, *, min_size=2, max_size=20, dsn=None):
        """Connects as the service's own role; operators' commands pass `dsn` (the admin's)."""
        self.settings = settings
        self.service = service
        self.source = settings.event_source(service)
        self.pool = open_pool(dsn or settings.service_pg_dsn(service), min_size=min_size,
                              max_size=max_size, name=service)
        # this process's group-commit batchers, by work ("events", a route), made on first use
        self.batchers = {}
        self.revocations = None     # the revoked tokens, as hub.http's entrypoints read them

    def close(self):
        self.pool.close()

    @contextmanager
    def transaction(self, idempotency=None):
        """Yield a UnitOfWork; commit (with its outbox events) on success, roll back on error."""
        with self.pool.connection() as conn:
            uow = UnitOfWork(conn, self.source, idempotency)
            try:
                if idempotency is not None:
                    uow.claim_idempotency_key()
                yield uow
                uow.flush()
                conn.commit()
            except BaseException as exc:
                if not conn.broken:
                    conn.rollback()
                if isinstance(exc, UNAVAILABLE):
                    # the database restarted (or went away): every idle connection is as dead
                    # as this one; replace them now, not one failed call at a time
                    self.pool.check()
                raise

    def query(self, sql, params=None, commit=False):
        """Run one statement in its own short transaction and return its rows."""
        with self.pool.connection() as conn:
            cur = conn.execute(sql, params)
            rows = cur.fetchall() if cur.description else []
            conn.commit() if commit else conn.rollback()
            return rows

    def ping(self):
        with self.pool.connection(timeout=2) as conn:
            conn.execute("SELECT 1")
            conn.rollback()


def database_of(container):
    """The Database of a nameko container's service (None for one without, like the gateway)."""
    provider = next((d for d in container.dependencies if getattr(d, "is_hub_database", False)),
                    None)
    return getattr(provider, "database", None)


class DatabaseProvider(DependencyProvider):
    """nameko dependency: `db = DatabaseProvider()` gives each worker the service's Database."""

    is_hub_database = True

    def setup(self):
        size = int(self.container.config.get("DB_POOL_SIZE", 20))
        self.database = Database(self.container.config["HUB_SETTINGS"],
                                 self.container.service_name, min_size=min(2, size),
                                 max_size=size)

    def start(self):
        self.stopping = False
        self.relay = OutboxRelay(self.database.settings, self.database, self.database.service)
        self.container.spawn_managed_thread(self._relay_forever)

    def _relay_forever(self):
        """Keep the broker fed from the outbox; on failure wait and try again, forever.

        After a batch that was not full it waits a moment, so that under load the relay
        publishes fewer, larger batches instead of chasing every single commit.
        """
        backoff = RELAY_IDLE_SECONDS
        while not self.stopping:
            try:
                sent = self.relay.relay_once()
                backoff = RELAY_IDLE_SECONDS
            except Exception as exc:
                log.warning("outbox relay cannot publish (%s); retrying in %.1fs", exc, backoff)
                try:
                    self.relay.update_backlog()    # the gauge must show the backlog growing
                except Exception:
                    pass                           # the database is away too
                eventlet.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
                continue
            if sent < self.relay.settings.relay_batch:
                eventlet.sleep(RELAY_IDLE_SECONDS)

    def stop(self):
        self.stopping = True
        if getattr(self, "relay", None) is not None:
            self.relay.close()
        self.database.close()

    def kill(self):
        self.stop()

    def get_dependency(self, worker_ctx):
        return self.database


def each_database(settings, service=None, **connect_args):
    """(service, connection) for each of the hub's service databases, or just `service`'s, as
    the admin; each commits when the loop moves on (rolls back if the loop body raised)."""
    for name in [service] if service else settings.data_services():
        with psycopg.connect(settings.database_dsn(name), **connect_args) as conn:
            yield name, conn


def create_database(settings, service):
    """Create the service's database when it does not exist yet."""
    name = settings.database_name(service)
    with psycopg.connect(f"{settings.pg_dsn} dbname=postgres", autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')
            log.info("created database %s", name)


def drop_database(settings, service):
    name = settings.database_name(service)
    with psycopg.connect(f"{settings.pg_dsn} dbname=postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
