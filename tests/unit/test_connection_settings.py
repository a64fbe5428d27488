"""The connection settings: each service's own users (names, passwords, given or derived), the
admin connections beside them, the TLS switches, and the broker permissions `hub setup` gives.

The TLS checks at the end talk to small TLS servers in this process (PostgreSQL's SSLRequest and
the AMQP protocol header, over a certificate made by a throwaway CA), so they show what the
clients really do with the settings, not only the strings handed to them."""
import importlib.util
import re
import socket
import ssl
import struct
import subprocess
import threading
from pathlib import Path
from urllib.parse import unquote, urlsplit

import psycopg
import pytest
from nameko.amqp.publish import get_connection
from psycopg.conninfo import conninfo_to_dict
from yoyo.connections import parse_uri

from hub.broker_admin import BrokerAdmin
from hub.config import MissingCredentials, Settings
from hub.manifest import manifest
from hub.migrate import database_url
from tooling import privileges

BASE = {"HUB_SERVICE_SECRET": "s3cret", "HUB_DB_PREFIX": "hub"}
PG_TLS = {"HUB_PG_SSLMODE": "verify-full", "HUB_PG_SSLROOTCERT": "/etc/hub/pg-ca.pem",
          "HUB_PG_SSLCERT": "/etc/hub/pg-client.pem", "HUB_PG_SSLKEY": "/etc/hub/pg-client.key"}
AMQP_TLS = {"HUB_AMQP_SSL": "1", "HUB_AMQP_CA_FILE": "/etc/hub/amqp-ca.pem",
            "HUB_AMQP_CERT_FILE": "/etc/hub/amqp-client.pem",
            "HUB_AMQP_KEY_FILE": "/etc/hub/amqp-client.key"}


def settings(**env):
    return Settings.from_env({**BASE, **env})


# -- the services' own users -----------------------------------------------------------------------
def test_each_service_has_its_own_database_role_and_broker_user():
    s = settings(HUB_PG_DSN="host=db.example port=5433 user=hub_admin password=adminpw",
                 HUB_AMQP_URI="amqp://setup:setuppw@mq.example:5672/county-341721")
    dsn = conninfo_to_dict(s.service_pg_dsn("intake"))
    assert (dsn["user"], dsn["dbname"], dsn["host"], dsn["port"]) == \
        ("hub_intake", "hub_intake", "db.example", "5433")
    assert dsn["password"] not in ("", "adminpw")
    uri = urlsplit(s.service_amqp_uri("intake"))
    assert (uri.username, uri.hostname, uri.port, unquote(uri.path[1:])) == \
        ("hub.intake", "mq.example", 5672, "county-341721")
    assert uri.password != "setuppw"
    # the admin connections stay what they were: setup, migrations and operators use them
    assert conninfo_to_dict(s.database_dsn("intake"))["user"] == "hub_admin"
    assert urlsplit(s.amqp_uri).username == "setup"
    assert s.nameko_config("intake")["AMQP_URI"] == s.service_amqp_uri("intake")
    assert "AMQP_URI" not in s.nameko_config("gateway")        # it uses no broker


def test_passwords_are_derived_from_the_service_secret_alone():
    one, same, other = settings(), settings(), settings(HUB_SERVICE_SECRET="another")
    password = conninfo_to_dict(one.service_pg_dsn("visits"))["password"]
    assert password == conninfo_to_dict(same.service_pg_dsn("visits"))["password"]
    assert password != conninfo_to_dict(other.service_pg_dsn("visits"))["password"]
    assert password != conninfo_to_dict(one.service_pg_dsn("stats"))["password"]
    assert password != urlsplit(one.service_amqp_uri("visits")).password     # one per use
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", password)       # HMAC-SHA256, URL-safe base64


def test_given_credentials_win_and_the_deployment_keeps_its_broker_users():
    s = settings(HUB_SERVICE_SECRET="",
                 HUB_PG_DSN_VISITS="host=db port=5432 user=visits_rw password=pw",
                 HUB_AMQP_URI_VISITS="amqp://county-341721-visits:pw@mq:5672/county-341721")
    assert conninfo_to_dict(s.service_pg_dsn("visits"))["dbname"] == "hub_visits"
    assert s.service_pg_user("visits") == "visits_rw"
    assert s.service_amqp_user("visits") == "county-341721-visits"
    assert s.amqp_user_given("visits") and not s.amqp_user_given("intake")
    with pytest.raises(MissingCredentials, match="HUB_SERVICE_SECRET.*HUB_PG_DSN_INTAKE"):
        s.service_pg_dsn("intake")
    with pytest.raises(MissingCredentials, match="HUB_AMQP_URI_INTAKE"):
        s.nameko_config("intake")


# -- TLS switches ------------------------------------------------------------------------------------
def test_without_the_switches_nothing_asks_for_tls():
    s = settings()
    for dsn in (s.pg_dsn, s.database_dsn("intake"), s.service_pg_dsn("intake")):
        assert not {"sslmode", "sslrootcert"} & set(conninfo_to_dict(dsn))
    assert s.amqp_uri.startswith("amqp://") and s.amqp_ssl_options() is None
    assert "AMQP_SSL" not in s.nameko_config("intake")
    assert s.broker_connection("intake").ssl is False


def test_pg_tls_goes_into_every_dsn_the_hub_builds():
    s = settings(**PG_TLS, HUB_PG_DSN_STATS="host=db user=stats_rw password=pw sslmode=disable")
    wanted = {"sslmode": "verify-full", "sslrootcert": "/etc/hub/pg-ca.pem",
              "sslcert": "/etc/hub/pg-client.pem", "sslkey": "/etc/hub/pg-client.key"}
    for dsn in (s.pg_dsn, f"{s.pg_dsn} dbname=postgres", s.database_dsn("intake"),
                s.service_pg_dsn("intake"), s.service_pg_dsn("stats")):
        info = conninfo_to_dict(dsn)
        assert {k: info.get(k) for k in wanted} == wanted, dsn
    # migrations (yoyo) connect as the admin with the same parameters
    url = parse_uri(database_url(s, "intake"))
    assert (url.username, url.database, url.args) == ("postgres", "hub_intake", wanted)


def test_amqp_tls_makes_every_broker_connection_amqps():
    s = settings(**AMQP_TLS, HUB_AMQP_URI="amqp://guest:guest@mq.example:5672/county")
    assert s.amqp_uri == "amqps://guest:guest@mq.example:5671/county"
    assert s.service_amqp_uri("intake").startswith("amqps://hub.intake:")
    assert s.service_amqp_uri("intake").endswith("@mq.example:5671/county")
    options = {"cert_reqs": ssl.CERT_REQUIRED, "server_hostname": "mq.example",
               "ca_certs": "/etc/hub/amqp-ca.pem", "certfile": "/etc/hub/amqp-client.pem",
               "keyfile": "/etc/hub/amqp-client.key"}
    config = s.nameko_config("stats")
    assert config["AMQP_SSL"] == options                        # nameko's own TLS setting
    for conn in (s.broker_connection(), s.broker_connection("visits")):
        assert conn.ssl == options and conn.transport_cls == "amqps"
    admin = BrokerAdmin.for_settings(s)                         # the management API: https
    assert admin.base_url == "https://mq.example:15672"
    assert admin.session.verify == "/etc/hub/amqp-ca.pem"
    # a port other than the plain default is the operator's choice, and kept
    assert settings(HUB_AMQP_SSL="1", HUB_AMQP_URI="amqp://u:p@mq:25671/v").amqp_uri == \
        "amqps://u:p@mq:25671/v"


# -- broker permissions --------------------------------------------------------------------------------
def definitions_tool():
    """deploy/rabbitmq/definitions.py, imported as a module."""
    path = Path(__file__).resolve().parents[2] / "deploy" / "rabbitmq" / "definitions.py"
    spec = importlib.util.spec_from_file_location("hub_definitions", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_hub_setup_gives_the_permissions_the_deployment_definitions_give():
    tool = definitions_tool()
    subscriptions = tool.hub_subscriptions()
    county = tool.county_definitions("341721", vhost="v", subscriptions=subscriptions)
    given = {p["user"]: p for p in county["permissions"]}
    for service in tool.data_services():
        expected = privileges.broker_permissions(
            "hub", service, subscriptions, direct=manifest(service).grants.direct)
        assert {k: given[f"v-{service}"][k] for k in expected} == expected, service


def test_a_service_may_read_only_its_own_inbox_and_write_only_the_hubs_names():
    subscriptions = {"intake": ["a.#"], "visits": ["b.#"]}
    perms = privileges.broker_permissions("hub", "intake", subscriptions)
    assert re.match(perms["read"], "hub.intake.inbox") and re.match(perms["read"], "hub.events")
    assert not re.match(perms["read"], "hub.visits.inbox")
    assert re.match(perms["write"], "hub.events") and re.match(perms["configure"],
                                                               "hub.visits.inbox")
    for foreign in ("amq.default", "amq.topic", "other.events", "hub.eventsX", "hub.sub.x"):
        assert not re.match(perms["write"], foreign), foreign
    stats = privileges.broker_permissions("hub", "stats", subscriptions, direct=True)
    assert re.match(stats["write"], "amq.default")


# -- TLS, as the clients really do it --------------------------------------------------------------------
@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    """A throwaway CA, and a certificate it signed for 127.0.0.1 / localhost."""
    d = tmp_path_factory.mktemp("pki")

    def openssl(*args):
        subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=d)
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "1",
            "-subj", "/CN=hub test CA")
    openssl("req", *ec, "-keyout", "host.key", "-out", "host.csr", "-subj", "/CN=localhost")
    (d / "san.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    openssl("x509", "-req", "-in", "host.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", "-out", "host.pem", "-days", "1", "-extfile", "san.ext")
    openssl("req", "-x509", *ec, "-keyout", "other.key", "-out", "other-ca.pem", "-days", "1",
            "-subj", "/CN=someone else's CA")
    return d


class TlsEndpoint:
    """Accepts one client, speaks TLS with it (after PostgreSQL's SSLRequest if `postgres`) and
    records what the client sent first over TLS, and its certificate if it showed one."""

    def __init__(self, pki, postgres=False):
        self.context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.context.load_cert_chain(pki / "host.pem", pki / "host.key")
        self.context.load_verify_locations(pki / "ca.pem")
        self.context.verify_mode = ssl.CERT_OPTIONAL
        self.postgres = postgres
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.first_bytes, self.client_cert, self.error = b"", None, None
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        conn, _ = self.listener.accept()
        try:
            if self.postgres:
                length, code = struct.unpack("!ii", conn.recv(8))
                assert (length, code) == (8, 80877103), "not an SSLRequest"
                conn.sendall(b"S")
            with self.context.wrap_socket(conn, server_side=True) as tls:
                self.client_cert = tls.getpeercert()
                self.first_bytes = tls.recv(4096)
        except Exception as exc:            # e.g. the client refused the certificate
            self.error = exc
        finally:
            conn.close()
            self.listener.close()

    def result(self):
        self.thread.join(10)
        return self


def test_amqp_tls_verifies_the_broker_and_shows_the_client_certificate(pki):
    endpoint = TlsEndpoint(pki)
    s = settings(HUB_AMQP_SSL="1", HUB_AMQP_URI=f"amqp://guest:guest@127.0.0.1:{endpoint.port}//",
                 HUB_AMQP_CA_FILE=str(pki / "ca.pem"), HUB_AMQP_CERT_FILE=str(pki / "host.pem"),
                 HUB_AMQP_KEY_FILE=str(pki / "host.key"))
    config = s.nameko_config("intake")
    with pytest.raises(Exception):          # not a broker: it only listens
        with get_connection(config["AMQP_URI"], config["AMQP_SSL"]) as conn:  # nameko's way
            conn.connect()
    seen = endpoint.result()
    assert seen.first_bytes.startswith(b"AMQP\x00\x00\x09\x01"), seen.error   # AMQP, in TLS
    assert dict(x[0] for x in seen.client_cert["subject"])["commonName"] == "localhost"

    stranger = TlsEndpoint(pki)             # a broker whose certificate our CA did not sign
    s = settings(HUB_AMQP_SSL="1", HUB_AMQP_URI=f"amqp://guest:guest@127.0.0.1:{stranger.port}//",
                 HUB_AMQP_CA_FILE=str(pki / "other-ca.pem"))
    with pytest.raises(Exception, match="certificate verify failed"):
        with s.broker_connection("intake", connect_timeout=5) as conn:
            conn.ensure_connection(max_retries=0)
    assert stranger.result().first_bytes == b""


def test_pg_tls_verifies_the_server_before_sending_the_role(pki):
    endpoint = TlsEndpoint(pki, postgres=True)
    s = settings(HUB_PG_DSN=f"host=127.0.0.1 port={endpoint.port} user=postgres",
                 HUB_PG_SSLMODE="verify-full", HUB_PG_SSLROOTCERT=str(pki / "ca.pem"))
    with pytest.raises(psycopg.OperationalError):   # it only listens
        psycopg.connect(s.service_pg_dsn("intake"), connect_timeout=5)
    startup = endpoint.result().first_bytes
    assert b"user\x00hub_intake\x00" in startup and b"database\x00hub_intake\x00" in startup

    stranger = TlsEndpoint(pki, postgres=True)
    s = settings(HUB_PG_DSN=f"host=127.0.0.1 port={stranger.port} user=postgres",
                 HUB_PG_SSLMODE="verify-full", HUB_PG_SSLROOTCERT=str(pki / "other-ca.pem"))
    with pytest.raises(psycopg.OperationalError, match="certificate verify failed"):
        psycopg.connect(s.service_pg_dsn("intake"), connect_timeout=5)
    assert stranger.result().first_bytes == b""
