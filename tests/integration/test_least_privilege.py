"""Least privilege, seen from the servers: a hub's services connect to PostgreSQL and RabbitMQ as
their own users, never as the admin (a superuser, guest), and those users can do no more than
their service needs.

The hub runs in this process as in the other integration tests (RunningHub provisions the users
as `hub setup` does). What the servers say counts: pg_stat_activity and pg_roles for PostgreSQL,
the management API's connection list for RabbitMQ, refusals for what a user may not do.
"""
import os
import uuid

import amqp
import psycopg
import pytest
from click.testing import CliRunner
from psycopg import errors
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from hub import topology
from hub.broker_admin import BrokerAdmin
from hub.manifest import data_services
from support.hub import cleanup_hub, client_body, test_settings, wait_for, whole_hub
from tooling import privileges
from tooling.cli import main


@pytest.fixture(scope="module")
def lhub():
    with whole_hub("lp") as hub:
        yield hub


def own_tcp_ports():
    """The local ports of this process's TCP sockets (from /proc: no extra library)."""
    inodes = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    ports = set()
    for table in ("/proc/self/net/tcp", "/proc/self/net/tcp6"):
        with open(table) as fh:
            for line in fh.readlines()[1:]:
                fields = line.split()
                if fields[9] in inodes:
                    ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


def admin_connection(settings):
    return psycopg.connect(f"{settings.pg_dsn} dbname=postgres", autocommit=True)


def amqp_login(settings, service):
    """An open py-amqp connection as the service's own broker user."""
    info = settings.broker_connection(service).info()
    conn = amqp.Connection(f"{info['hostname']}:{info['port']}", userid=info["userid"],
                           password=info["password"], virtual_host=info["virtual_host"],
                           connect_timeout=5)
    conn.connect()
    return conn


# -- who the servers see -------------------------------------------------------------------------
def test_every_service_is_connected_to_its_database_as_its_own_plain_role(lhub):
    s = lhub.settings
    with admin_connection(s) as conn:
        seen = {}
        for datname, usename in conn.execute(
                "SELECT datname, usename FROM pg_stat_activity WHERE datname LIKE %s",
                (s.db_prefix + "\\_%",)):
            seen.setdefault(datname, set()).add(usename)
        roles = {r[0]: r[1:] for r in conn.execute(
            "SELECT rolname, rolsuper, rolcreatedb, rolcreaterole, rolcanlogin, rolreplication, "
            "rolbypassrls FROM pg_roles WHERE rolname LIKE %s", (s.db_prefix + "\\_%",))}
    print(f"\nconnections per database: {seen}")
    for service in data_services():
        role = s.service_pg_user(service)
        assert role == f"{s.db_prefix}_{service}"
        assert seen[s.database_name(service)] == {role}, service      # nobody else, no admin
        assert roles[role] == (False, False, False, True, False, False)
    assert set(roles) == {s.service_pg_user(x) for x in data_services()}   # none for the gateway


def test_every_service_is_connected_to_the_broker_as_its_own_user(lhub):
    s = lhub.settings
    admin = BrokerAdmin.for_settings(s)
    # every consumer is connected from the start; a service that only publishes (accounts)
    # connects when it first has an event to publish
    wanted = {s.service_amqp_user(x) for x in topology.consumer_subscriptions()}

    def ours():     # the management API lists a new connection within its statistics interval
        ports = own_tcp_ports()
        users = {c["user"] for c in admin.connections()
                 if c.get("peer_port") in ports and c.get("peer_host") in ("127.0.0.1", "::1")}
        return wanted <= users and users
    users = wait_for(ours, timeout=30, interval=0.5)
    print(f"\nbroker users of this process's connections: {sorted(users)}")
    assert "guest" not in users
    assert all(u.split(".", 1)[1] in data_services() for u in users), users  # only services' own
    permissions = admin.permissions(s.service_amqp_user("visits"))
    assert permissions["read"] == f"^{s.db_prefix}\\.(events|visits\\.inbox)$"


def test_events_flow_between_services_under_least_privilege(lhub):
    """The relay publishes and the consumers consume as the services' own users."""
    created = lhub.client().post("/clients", json=client_body())
    assert created.status_code == 201, created.text
    client_id = created.json()["id"]
    with lhub.db("visits") as conn:
        wait_for(lambda: conn.execute("SELECT 1 FROM visit_plans WHERE client_id = %s",
                                      (client_id,)).fetchone(), timeout=30)
    with lhub.db("stats") as conn:
        wait_for(lambda: conn.execute("SELECT 1 FROM hub_inbox WHERE type = %s",
                                      ("client.registered.v1",)).fetchone(), timeout=30)


# -- what the users may not do ----------------------------------------------------------------------
def test_a_service_user_reads_only_its_own_queue_and_publishes_only_to_the_hub(lhub):
    s = lhub.settings
    with amqp_login(s, "intake") as conn:
        conn.channel().basic_get(s.queue_name("intake"))         # its own: allowed
    for forbidden in (
            lambda ch: ch.basic_get(s.queue_name("visits")),       # another service's queue
            lambda ch: ch.basic_publish_confirm(amqp.Message("{}"), exchange="amq.topic",
                                                routing_key="client.registered.v1"),
            lambda ch: ch.basic_publish_confirm(amqp.Message("{}"), exchange="",  # straight
                                                routing_key=s.queue_name("visits")),  # in
            lambda ch: ch.queue_purge(s.queue_name("stats"))):
        with amqp_login(s, "intake") as conn:
            with pytest.raises(amqp.exceptions.AccessRefused):
                forbidden(conn.channel())     # a refused publish: an error once confirmed


def test_a_service_role_reaches_only_its_own_database(lhub):
    s = lhub.settings
    own = s.service_pg_dsn("intake")
    with psycopg.connect(own) as conn:
        assert conn.execute("SELECT current_user").fetchone() == (s.service_pg_user("intake"),)
        with pytest.raises(errors.InsufficientPrivilege):
            conn.execute("CREATE TABLE intruder (x int)")
        conn.rollback()
        with pytest.raises(errors.InsufficientPrivilege):
            conn.execute("SELECT * FROM _yoyo_migration")          # the migrations' records
    for other in ("visits", "stats", "resources"):
        with pytest.raises(psycopg.OperationalError, match="permission denied for database"):
            psycopg.connect(own + f" dbname={s.database_name(other)}")


def test_append_only_tables_take_no_update_or_delete(lhub):
    s = lhub.settings
    with lhub.db("intake") as conn:
        present = {r[0] for r in conn.execute(
            "SELECT tablename FROM pg_tables WHERE tablename = ANY(%s)",
            (list(privileges.APPEND_ONLY_TABLES),))}
    if not present:
        pytest.skip("no append-only table in this version's migrations")
    for table in present:
        with psycopg.connect(s.service_pg_dsn("intake")) as conn:
            conn.execute(f"SELECT count(*) FROM {table}")           # read: allowed
            for statement in (f"UPDATE {table} SET seq = seq", f"DELETE FROM {table}",
                              f"TRUNCATE {table}"):
                with pytest.raises(errors.InsufficientPrivilege, match=table):
                    conn.execute(statement)
                conn.rollback()
        with psycopg.connect(s.database_dsn("intake")) as conn:     # what it may do: insert
            grants = {r[0] for r in conn.execute(
                "SELECT privilege_type FROM information_schema.role_table_grants "
                "WHERE table_name = %s AND grantee = %s", (table, s.service_pg_user("intake")))}
        assert grants == {"SELECT", "INSERT"}


# -- hub setup and hub reset ---------------------------------------------------------------------------
def test_hub_setup_twice_makes_the_users_and_hub_reset_drops_them():
    """With an admin that is no superuser either: CREATEDB and CREATEROLE are enough."""
    s = test_settings(prefix=f"lps{uuid.uuid4().hex[:6]}", HUB_SERVICES="intake")
    admin_role = f"{s.db_prefix}admin"
    with admin_connection(s) as conn:
        conn.execute(f'CREATE ROLE "{admin_role}" LOGIN CREATEDB CREATEROLE')
    admin_dsn = make_conninfo(s.pg_dsn, user=admin_role)
    env = {"HUB_DB_PREFIX": s.db_prefix, "HUB_DATA_KEY": s.data_key, "HUB_JWT_SECRET": s.jwt_secret,
           "HUB_SERVICE_SECRET": s.service_secret, "HUB_SERVICES": "intake",
           "HUB_PG_DSN": admin_dsn}
    role, user = s.service_pg_user("intake"), s.service_amqp_user("intake")
    broker = BrokerAdmin.for_settings(s)
    try:
        for _ in range(2):
            result = CliRunner().invoke(main, ["setup"], env=env, catch_exceptions=False)
            assert result.exit_code == 0, result.output
            assert f"intake: PostgreSQL role {role}, broker user {user}" in result.output
        with psycopg.connect(s.service_pg_dsn("intake")) as conn:   # and it logs in
            assert conn.execute("SELECT count(*) FROM hub_outbox").fetchone() == (0,)
        with amqp_login(s, "intake"):
            pass
        missing = CliRunner().invoke(main, ["setup"], env={**env, "HUB_SERVICE_SECRET": "",
                                                            "HUB_ENV_FILE": "/nonexistent"})
        assert missing.exit_code != 0 and "HUB_SERVICE_SECRET" in missing.output
        gone = CliRunner().invoke(main, ["reset", "--force"], env=env, catch_exceptions=False)
        assert gone.exit_code == 0, gone.output
        with admin_connection(s) as conn:
            assert conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s",
                                (role,)).fetchone() is None
        assert not broker.user_exists(user)
    finally:
        cleanup_hub(s)
        with admin_connection(s) as conn:
            conn.execute(f'DROP ROLE IF EXISTS "{admin_role}"')


def test_a_superuser_is_refused_as_a_services_role():
    s = test_settings(prefix=f"lpx{uuid.uuid4().hex[:6]}",
                      HUB_PG_DSN_INTAKE=test_settings().pg_dsn)       # the admin, a superuser
    admin_user = conninfo_to_dict(s.pg_dsn).get("user", "postgres")
    assert s.service_pg_user("intake") == admin_user
    with pytest.raises(privileges.PrivilegeError, match="superuser"):
        privileges.ensure_pg_role(s, "intake")
    with admin_connection(s) as conn:
        assert conn.execute("SELECT rolsuper FROM pg_roles WHERE rolname = %s",
                            (admin_user,)).fetchone() == (True,)       # untouched
