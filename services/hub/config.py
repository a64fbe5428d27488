"""Hub settings, read once from environment variables (with defaults for a local demo hub), each
checked by a marshmallow schema of the variables."""
import hashlib
import hmac
import os
import ssl
from base64 import urlsafe_b64encode
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

from marshmallow import Schema, ValidationError, fields, validate
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from hub.county import load_county
from hub.manifest import data_services, manifest

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_COUNTY = REPO_ROOT / "deploy" / "counties" / "dongzhi-341721.yaml"

# HUB_PG_SSL* variable -> the libpq connection parameter it sets
PG_TLS_VARIABLES = {"HUB_PG_SSLMODE": "sslmode", "HUB_PG_SSLROOTCERT": "sslrootcert",
                    "HUB_PG_SSLCERT": "sslcert", "HUB_PG_SSLKEY": "sslkey"}
AMQP_PORT, AMQPS_PORT = 5672, 5671


class SettingsError(ValueError):
    """Variables whose values will not do; the message names each and what it expects."""

    def __init__(self, messages, env):
        self.variables = sorted(messages)
        super().__init__("; ".join(
            f"{name}={env.get(name, '')!r}: {' '.join(problems)}"
            for name, problems in sorted(messages.items())))


class Flag(fields.Boolean):
    """A switch: 1 (or true, yes, on) or 0 (or false, no, off)."""

    def __init__(self):
        super().__init__(load_default=False, error_messages={
            "invalid": "must be 1 or 0 (on or off)"})


def text(default=""):
    return fields.String(load_default=default)


def whole_number(default, least):
    return fields.Integer(load_default=default, strict=False, validate=validate.Range(min=least),
                          error_messages={"invalid": "must be a whole number"})


# The environment variables a hub reads (docs/operations.md), their types and defaults; the
# per-service ones (HUB_URL_<SERVICE>, HUB_PG_DSN_<SERVICE>, HUB_AMQP_URI_<SERVICE>) are read
# beside them.
VARIABLES = Schema.from_dict(dict(
    COUNTY_CONFIG=text(),
    HUB_PG_DSN=text("host=127.0.0.1 port=5432 user=postgres"),
    HUB_DB_PREFIX=fields.String(load_default="hub", validate=validate.Regexp(
        r"^[a-z][a-z0-9_]{0,39}$",
        error="must be a lower-case letter, then up to 39 lower-case letters, digits or _")),
    HUB_AMQP_URI=text("amqp://guest:guest@127.0.0.1:5672//"),
    HUB_DATA_KEY=text(),
    HUB_JWT_SECRET=text(),
    HUB_ADMIN_TOKEN=text(),
    HUB_SERVICE_SECRET=text(),
    HUB_HTTP_HOST=text("127.0.0.1"),
    HUB_PORT_OFFSET=whole_number(0, 0),
    HUB_RELAY_BATCH=whole_number(500, 1),
    HUB_DB_POOL_SIZE=whole_number(20, 1),
    HUB_RETRY_ATTEMPTS=whole_number(5, 1),
    HUB_RETRY_BASE_SECONDS=fields.Float(load_default=2.0, validate=validate.Range(min=0),
                                        error_messages={"invalid": "must be a number"}),
    HUB_SERVICES=text(),
    HUB_ACCESS_LOG=Flag(),
    HUB_AMQP_SSL=Flag(),
    HUB_AMQP_CA_FILE=text(),
    HUB_AMQP_CERT_FILE=text(),
    HUB_AMQP_KEY_FILE=text(),
    HUB_AMQP_ADMIN_URI=text(),
    HUB_AMQP_ADMIN_URL=text(),
    **{variable: text() for variable in PG_TLS_VARIABLES},
), name="Variables")()


class MissingCredentials(ValueError):
    """A service's own database or broker password cannot be known; the message says what to set."""


def with_pg_tls(dsn, tls):
    """`dsn` with the TLS parameters `tls` (sslmode …) set, whatever it said before."""
    return make_conninfo(dsn, **tls) if tls else dsn


def with_amqp_tls(uri):
    """`uri` as amqps://: a plain amqp:// URI on the default port (or none) goes to 5671."""
    parts = urlsplit(uri)
    if parts.scheme != "amqp":
        return uri
    userinfo, at, hostport = parts.netloc.rpartition("@")
    if parts.port in (None, AMQP_PORT):
        host = hostport if parts.port is None else hostport.rsplit(":", 1)[0]
        hostport = f"{host}:{AMQPS_PORT}"
    return urlunsplit(("amqps", userinfo + at + hostport, parts.path, parts.query, parts.fragment))


def with_amqp_user(uri, user, password):
    """`uri` (the hub's broker and vhost) logged in as `user`."""
    parts = urlsplit(uri)
    host = parts.netloc.rsplit("@", 1)[-1]
    netloc = f"{quote(user, safe='')}:{quote(password, safe='')}@{host}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def _per_service(env, prefix):
    """{service: value} of the variables `<prefix><SERVICE>` that are set."""
    return {k[len(prefix):].lower(): v for k, v in env.items() if k.startswith(prefix) and v}


@dataclass(frozen=True)
class Settings:
    """Everything a hub process needs to know; see docs/operations.md for each variable."""
    county_config: str
    pg_dsn: str                 # ADMIN server DSN without dbname (setup, migrations, operators)
    db_prefix: str              # each service's database is f"{db_prefix}_{service}"
    amqp_uri: str               # ADMIN broker URI (setup, operators); services use their own
    data_key: str               # base64 32-byte master key for personal data (encryption, lookups)
    jwt_secret: str
    admin_token: str
    http_host: str
    port_offset: int
    relay_batch: int
    retry_attempts: int
    retry_base_seconds: float
    only_services: tuple        # HUB_SERVICES: run just these data services (default: all)
    access_log: bool            # HUB_ACCESS_LOG=1: log every HTTP request (metrics count them anyway)
    service_urls: dict          # HUB_URL_<SERVICE>=http://host:port where it runs elsewhere
    service_secret: str = ""    # HUB_SERVICE_SECRET: the services' own passwords derive from it
    # HUB_PG_DSN_<SERVICE>, HUB_AMQP_URI_<SERVICE>: a service's own DSN / URI, given in full
    service_pg_dsns: dict = field(default_factory=dict)
    service_amqp_uris: dict = field(default_factory=dict)
    pg_tls: dict = field(default_factory=dict)  # HUB_PG_SSLMODE, …: TLS for every DSN
    amqp_ssl: bool = False      # HUB_AMQP_SSL=1: amqps:// for every broker connection
    amqp_ca_file: str = ""
    amqp_cert_file: str = ""
    amqp_key_file: str = ""
    amqp_admin_uri: str = ""    # HUB_AMQP_ADMIN_URI: the management API's credentials
    amqp_admin_url: str = ""    # HUB_AMQP_ADMIN_URL: the management API's address
    db_pool_size: int = 20      # HUB_DB_POOL_SIZE: each service's most database connections

    @classmethod
    def from_env(cls, env=os.environ):
        """The settings the environment `env` gives; SettingsError names a variable whose value
        will not do, and what it expects."""
        try:
            v = VARIABLES.load({k: val for k, val in env.items() if k in VARIABLES.fields})
        except ValidationError as exc:
            raise SettingsError(exc.messages, env) from None
        pg_tls = {param: v[var] for var, param in PG_TLS_VARIABLES.items() if v[var]}
        amqp = (with_amqp_tls if v["HUB_AMQP_SSL"] else str)
        amqp_uri = amqp(v["HUB_AMQP_URI"])
        return cls(
            county_config=v["COUNTY_CONFIG"] or str(DEFAULT_COUNTY),
            pg_dsn=with_pg_tls(v["HUB_PG_DSN"], pg_tls),
            db_prefix=v["HUB_DB_PREFIX"],
            amqp_uri=amqp_uri,
            data_key=v["HUB_DATA_KEY"],
            jwt_secret=v["HUB_JWT_SECRET"],
            admin_token=v["HUB_ADMIN_TOKEN"],
            http_host=v["HUB_HTTP_HOST"],
            port_offset=v["HUB_PORT_OFFSET"],
            relay_batch=v["HUB_RELAY_BATCH"],
            retry_attempts=v["HUB_RETRY_ATTEMPTS"],
            retry_base_seconds=v["HUB_RETRY_BASE_SECONDS"],
            only_services=tuple(x for x in v["HUB_SERVICES"].split(",") if x),
            access_log=v["HUB_ACCESS_LOG"],
            service_urls={k: u.rstrip("/") for k, u in _per_service(env, "HUB_URL_").items()},
            service_secret=v["HUB_SERVICE_SECRET"],
            service_pg_dsns={k: with_pg_tls(dsn, pg_tls)
                             for k, dsn in _per_service(env, "HUB_PG_DSN_").items()},
            service_amqp_uris={k: amqp(u) for k, u in _per_service(env, "HUB_AMQP_URI_").items()},
            pg_tls=pg_tls,
            amqp_ssl=v["HUB_AMQP_SSL"],
            amqp_ca_file=v["HUB_AMQP_CA_FILE"],
            amqp_cert_file=v["HUB_AMQP_CERT_FILE"],
            amqp_key_file=v["HUB_AMQP_KEY_FILE"],
            amqp_admin_uri=amqp(v["HUB_AMQP_ADMIN_URI"]) or amqp_uri,
            amqp_admin_url=v["HUB_AMQP_ADMIN_URL"],
            db_pool_size=v["HUB_DB_POOL_SIZE"],
        )

    def data_services(self):
        """The services with a database that this hub runs, in the order of their ports."""
        return tuple(s for s in data_services() if not self.only_services or s in self.only_services)

    @cached_property
    def county(self):
        return load_county(self.county_config)

    # -- PostgreSQL ------------------------------------------------------------------------------
    def database_dsn(self, service):
        """The ADMIN connection to a service's database (migrations, operator commands)."""
        return f"{self.pg_dsn} dbname={self.database_name(service)}"

    def database_name(self, service):
        return f"{self.db_prefix}_{service}"

    def service_pg_user(self, service):
        """The service's own PostgreSQL role: `<prefix>_<service>`, or HUB_PG_DSN_<SERVICE>'s."""
        given = self.service_pg_dsns.get(service)
        if given:
            return conninfo_to_dict(given).get("user") or self.database_name(service)
        return self.database_name(service)

    def service_pg_dsn(self, service):
        """What the service itself connects to its database with: its own role, never the admin."""
        given = self.service_pg_dsns.get(service)
        if given:
            info = conninfo_to_dict(given)
            return make_conninfo(given, dbname=info.get("dbname") or self.database_name(service))
        password = self.service_password("pg", service, f"HUB_PG_DSN_{service.upper()}")
        return make_conninfo(self.pg_dsn, user=self.service_pg_user(service), password=password,
                             dbname=self.database_name(service))

    # -- the broker ------------------------------------------------------------------------------
    def service_amqp_user(self, service):
        """The service's own broker user: `<prefix>.<service>`, or HUB_AMQP_URI_<SERVICE>'s."""
        given = self.service_amqp_uris.get(service)
        if given:
            return urlsplit(given).username or ""
        return f"{self.db_prefix}.{service}"

    def amqp_user_given(self, service):
        """Whether the deployment gave the service's broker user (HUB_AMQP_URI_<SERVICE>): then
        it made the user (deploy/rabbitmq/definitions.py), and `hub setup` leaves it alone."""
        return bool(self.service_amqp_uris.get(service))

    def service_amqp_uri(self, service):
        """What the service itself connects to the broker with: its own user, never the admin."""
        given = self.service_amqp_uris.get(service)
        if given:
            return given
        password = self.service_password("amqp", service, f"HUB_AMQP_URI_{service.upper()}")
        return with_amqp_user(self.amqp_uri, self.service_amqp_user(service), password)

    def amqp_ssl_options(self, uri=None):
        """kombu's / py-amqp's `ssl` for connections to the broker of `uri` (None: no TLS)."""
        if not self.amqp_ssl:
            return None
        options = {"cert_reqs": ssl.CERT_REQUIRED,
                   "server_hostname": urlsplit(uri or self.amqp_uri).hostname or "127.0.0.1"}
        for key, path in (("ca_certs", self.amqp_ca_file), ("certfile", self.amqp_cert_file),
                          ("keyfile", self.amqp_key_file)):
            if path:
                options[key] = path
        return options

    def broker_connection(self, service=None, **kwargs):
        """A kombu Connection (not open yet): the service's own; with service=None the admin's."""
        import kombu
        uri = self.amqp_uri if service is None else self.service_amqp_uri(service)
        return kombu.Connection(uri, ssl=self.amqp_ssl_options(uri) or False, **kwargs)

    # -- the services' own passwords -------------------------------------------------------------
    def service_password(self, kind, service, override):
        """The service's password derived from HUB_SERVICE_SECRET: HMAC-SHA256 of what it is for
        (kind "pg" or "amqp", the prefix, the service), URL-safe. `override` names the variable
        that would give it in full instead."""
        if not self.service_secret:
            raise MissingCredentials(
                f"{service} has no {'database' if kind == 'pg' else 'broker'} password of its "
                f"own: set HUB_SERVICE_SECRET (`hub secrets` writes one) or {override}")
        purpose = f"{kind}:{self.db_prefix}:{service}".encode()
        digest = hmac.new(self.service_secret.encode(), purpose, hashlib.sha256).digest()
        return urlsafe_b64encode(digest).decode().rstrip("=")

    # -- HTTP --------------------------------------------------------------------------------------
    def port(self, service):
        """The service's own HTTP port (its manifest's, moved by HUB_PORT_OFFSET)."""
        return manifest(service).port + self.port_offset

    def service_url(self, service):
        """Where a service answers HTTP: HUB_URL_<SERVICE> if set, else this host and its port."""
        if service in self.service_urls:
            return self.service_urls[service]
        host = "127.0.0.1" if self.http_host in ("0.0.0.0", "::") else self.http_host
        return f"http://{host}:{self.port(service)}"

    @property
    def exchange(self):
        """The topic exchange this hub's services publish their events to."""
        return f"{self.db_prefix}.events"

    def queue_name(self, service):
        """The durable queue a service consumes its events from."""
        return f"{self.db_prefix}.{service}.inbox"

    def event_source(self, service):
        return f"/hub/{self.county.code}/{service}"

    def nameko_config(self, service):
        """The service's nameko config: its own broker user (the gateway has no broker)."""
        config = {
            "WEB_SERVER_ADDRESS": f"{self.http_host}:{self.port(service)}",
            "max_workers": 32,
            "DB_POOL_SIZE": self.db_pool_size,
            "HUB_SERVICE": service,
            "HUB_SETTINGS": self,
        }
        if manifest(service).database:
            config["AMQP_URI"] = self.service_amqp_uri(service)
            if self.amqp_ssl:
                config["AMQP_SSL"] = self.amqp_ssl_options(config["AMQP_URI"])
        return config
