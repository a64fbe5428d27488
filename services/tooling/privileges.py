"""Least privilege: each service's own PostgreSQL role and broker user, made by `hub setup`.

The admin connections (HUB_PG_DSN, HUB_AMQP_URI) create databases, run migrations, declare the
topology and serve operators' commands; a running service never uses them (Settings.
service_pg_dsn / service_amqp_uri).

PostgreSQL: the role `<prefix>_<service>` (or HUB_PG_DSN_<SERVICE>'s user) logs in and is
nothing more (no superuser, CREATEDB, CREATEROLE). It may connect to its own database only
(CONNECT is revoked from PUBLIC on every hub database), use the schema public, read and write
the rows of every table and use every sequence, including those later migrations make (default
privileges of the admin, who runs the migrations and owns every object). Two exceptions: the
append-only tables, which it may only read and insert into, and the migrations' bookkeeping,
which it may not touch at all.

The broker: the user `<prefix>.<service>` with broker_permissions(), the same permissions
deploy/rabbitmq/definitions.py gives a deployment's service users. A user given in full by
HUB_AMQP_URI_<SERVICE> is the deployment's: setup and reset leave it alone.
"""
import re
from urllib.parse import unquote, urlsplit

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

from hub.broker_admin import BrokerAdmin
from hub.manifest import manifest

# tables a service may read and append to, never change: rows are evidence
APPEND_ONLY_TABLES = ("hub_audit",)
# yoyo's records of the migrations: the admin's alone
MIGRATION_TABLES = ("_yoyo_migration", "_yoyo_log", "_yoyo_version", "yoyo_lock")
TABLE_PRIVILEGES = sql.SQL("SELECT, INSERT, UPDATE, DELETE")
APPEND_ONLY_PRIVILEGES = sql.SQL("SELECT, INSERT")
SEQUENCE_PRIVILEGES = sql.SQL("USAGE, SELECT")
# set when the role is made (changing them later takes a superuser: ALTER ROLE sets only
# LOGIN NOCREATEDB NOCREATEROLE, and a role that has any of them is refused)
ROLE_ATTRIBUTES = sql.SQL("NOSUPERUSER NOREPLICATION NOBYPASSRLS")


class PrivilegeError(RuntimeError):
    """A service's user cannot be made as asked; the message says why."""


# -- the broker ----------------------------------------------------------------------------------
def _any_of(names):
    return "(" + "|".join(re.escape(n) for n in sorted(names)) + ")"


def broker_permissions(prefix, service, subscriptions, ingest=(), direct=False):
    """A service user's configure / write / read regular expressions.

    Every relay declares the exchange and every inbox with its bindings before it publishes, so
    configure and write cover those (write on a queue allows binding it, not publishing to it);
    read covers the exchange (to bind) and the service's own inbox only. `ingest`: the
    province's (exchange, queue) its aggregator declares and consumes; `direct`: write on
    amq.default too (publishing straight into a queue).
    """
    p = re.escape(prefix)
    extra = "".join("|" + re.escape(name[len(prefix) + 1:]) for name in ingest)
    owned = f"events|{_any_of(subscriptions)}\\.inbox" if subscriptions else "events"
    objects = f"^{p}\\.({owned}{extra})$"
    own = f"events|{re.escape(service)}\\.inbox" if service in subscriptions else "events"
    return {"configure": objects,
            "write": f"^(amq\\.default|{objects[1:-1]})$" if direct else objects,
            "read": f"^{p}\\.({own}{extra})$"}


def service_broker_permissions(settings, service, subscriptions):
    """broker_permissions() with what the service's manifest grants it besides."""
    grants = manifest(service).grants
    ingest = tuple(f"{settings.db_prefix}.{name}" for name in grants.objects)
    return broker_permissions(settings.db_prefix, service, subscriptions, ingest,
                              direct=grants.direct)


def ensure_broker_user(settings, service, subscriptions, admin):
    """Create (or refresh) the service's broker user and its permissions; returns its name, or
    None when HUB_AMQP_URI_<SERVICE> gives it (the deployment made it)."""
    if settings.amqp_user_given(service):
        return None
    uri = urlsplit(settings.service_amqp_uri(service))
    user = unquote(uri.username)
    admin.ensure_user(user, unquote(uri.password))
    admin.set_permissions(user, **service_broker_permissions(settings, service, subscriptions))
    return user


def drop_broker_user(settings, service, admin):
    if not settings.amqp_user_given(service):
        admin.delete_user(settings.service_amqp_user(service))


# -- PostgreSQL ----------------------------------------------------------------------------------
def _server(settings):
    return psycopg.connect(f"{settings.pg_dsn} dbname=postgres", autocommit=True)


def ensure_pg_role(settings, service):
    """Create the service's role, or bring an existing one back to LOGIN with its password.

    Refuses a superuser (HUB_PG_DSN_<SERVICE> naming the admin, say) rather than demote it; an
    admin with CREATEROLE (not a superuser) can do the rest."""
    info = conninfo_to_dict(settings.service_pg_dsn(service))
    user, password = info["user"], info.get("password")
    with _server(settings) as conn:
        role = conn.execute("SELECT rolsuper OR rolreplication OR rolbypassrls FROM pg_roles "
                            "WHERE rolname = %s", (user,)).fetchone()
        if role and role[0]:
            raise PrivilegeError(f"{service}'s PostgreSQL user {user} is a superuser (or may "
                                 "replicate or bypass row security): give the service a role "
                                 f"of its own (HUB_PG_DSN_{service.upper()})")
        attributes = sql.SQL("LOGIN NOCREATEDB NOCREATEROLE")
        if password:        # only its SCRAM verifier goes to the server (and its logs)
            verifier = conn.pgconn.encrypt_password(password.encode(), user.encode(), None)
            attributes += sql.SQL(" PASSWORD {}").format(sql.Literal(verifier.decode()))
        alter = sql.SQL("ALTER ROLE {} WITH {}").format(sql.Identifier(user), attributes)
        if role:
            conn.execute(alter)
            return user
        try:
            conn.execute(sql.SQL("CREATE ROLE {} WITH {} {}").format(
                sql.Identifier(user), ROLE_ATTRIBUTES, attributes))
        except psycopg.errors.DuplicateObject:     # another set-up made it meanwhile
            conn.execute(alter)
    return user


def grant_pg_privileges(settings, service):
    """The service role's privileges on its database (run after migrating; idempotent)."""
    role = sql.Identifier(settings.service_pg_user(service))
    database = sql.Identifier(settings.database_name(service))
    with psycopg.connect(settings.database_dsn(service), autocommit=True) as conn:
        tables = {r[0] for r in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
        statements = [
            sql.SQL("REVOKE CONNECT ON DATABASE {} FROM PUBLIC").format(database),
            sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(database, role),
            sql.SQL("REVOKE CREATE ON SCHEMA public FROM PUBLIC"),
            sql.SQL("GRANT USAGE ON SCHEMA public TO {}").format(role),
            sql.SQL("GRANT {} ON ALL TABLES IN SCHEMA public TO {}").format(TABLE_PRIVILEGES, role),
            sql.SQL("GRANT {} ON ALL SEQUENCES IN SCHEMA public TO {}").format(
                SEQUENCE_PRIVILEGES, role),
            sql.SQL("ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT {} ON TABLES TO {}").format(
                TABLE_PRIVILEGES, role),
            sql.SQL("ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT {} ON SEQUENCES TO {}").format(
                SEQUENCE_PRIVILEGES, role),
        ]
        for table in sorted(tables & {*APPEND_ONLY_TABLES, *MIGRATION_TABLES}):
            statements.append(sql.SQL("REVOKE ALL ON {} FROM {}").format(sql.Identifier(table),
                                                                         role))
            if table in APPEND_ONLY_TABLES:
                statements.append(sql.SQL("GRANT {} ON {} TO {}").format(
                    APPEND_ONLY_PRIVILEGES, sql.Identifier(table), role))
        with conn.transaction():
            for statement in statements:
                conn.execute(statement)


def drop_pg_roles(settings, users):
    """Drop these roles (never a superuser): first what they were granted in every database of
    the hub that still exists (a dropped database takes its grants along), then the roles.
    Explicit revokes rather than DROP OWNED, which an admin that is not a superuser may not use."""
    with _server(settings) as conn:
        users = [u for u in users if conn.execute(
            "SELECT 1 FROM pg_roles WHERE rolname = %s AND NOT rolsuper", (u,)).fetchone()]
        if not users:
            return []
        databases = [r[0] for r in conn.execute(
            "SELECT datname FROM pg_database WHERE datname LIKE %s AND datallowconn",
            (settings.db_prefix.replace("_", "\\_") + "\\_%",))]
    roles = sql.SQL(", ").join(map(sql.Identifier, users))
    for database in databases:
        try:
            with psycopg.connect(f"{settings.pg_dsn} dbname={database}", autocommit=True) as conn:
                for statement in (
                        "REVOKE ALL ON DATABASE {db} FROM {roles}",
                        "REVOKE ALL ON SCHEMA public FROM {roles}",
                        "REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {roles}",
                        "REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM {roles}",
                        "ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE ALL ON TABLES "
                        "FROM {roles}",
                        "ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE ALL ON SEQUENCES "
                        "FROM {roles}"):
                    conn.execute(sql.SQL(statement).format(db=sql.Identifier(database),
                                                           roles=roles))
        except psycopg.OperationalError:       # dropped meanwhile
            pass
    with _server(settings) as conn:
        conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(roles))
    return users


# -- both ----------------------------------------------------------------------------------------
def provision(settings, services, subscriptions=None, admin=None):
    """Make every service's users and grant their privileges; run after migrating and before
    the services start. Returns one line per service saying what it has."""
    from hub import topology
    subscriptions = topology.consumer_subscriptions() if subscriptions is None else subscriptions
    lines = []
    for service in services:
        user = ensure_pg_role(settings, service)
        grant_pg_privileges(settings, service)
        admin = admin or BrokerAdmin.for_settings(settings)
        broker_user = ensure_broker_user(settings, service, subscriptions, admin)
        lines.append(f"{service}: PostgreSQL role {user}, broker user "
                     + (broker_user or f"{settings.service_amqp_user(service)} (given by "
                                       f"HUB_AMQP_URI_{service.upper()}, left as it is)"))
    return lines


def drop(settings, services, admin=None):
    """Drop the services' PostgreSQL roles and the broker users `hub setup` made."""
    drop_pg_roles(settings, [settings.service_pg_user(s) for s in services])
    admin = admin or BrokerAdmin.for_settings(settings)
    for service in services:
        drop_broker_user(settings, service, admin)
