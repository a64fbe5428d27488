"""Hub settings, read once from environment variables (with defaults for a local demo hub)."""
import hashlib
import hmac
import os
import ssl
from base64 import urlsafe_b64encode
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

from psycopg.conninfo import conninfo_to_dict, make_conninfo

from hub.county import load_county

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_COUNTY = REPO_ROOT / "deploy" / "counties" / "dongzhi-341721.yaml"

SERVICE_PORTS = {"gateway": 8000, "intake": 8001, "visits": 8002, "resources": 8003, "stats": 8004}
# services that need neither a database nor the broker: no user of their own
STATELESS_SERVICES = ("gateway",)
# HUB_PG_SSL* variable -> the libpq connection parameter it sets
PG_TLS_VARIABLES = {"HUB_PG_SSLMODE": "sslmode", "HUB_PG_SSLROOTCERT": "sslrootcert",
                    "HUB_PG_SSLCERT": "sslcert", "HUB_PG_SSLKEY": "sslkey"}
AMQP_PORT, AMQPS_PORT = 5672, 5671


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

    @classmethod
    def from_env(cls, env=os.environ):
        pg_tls = {param: env[var] for var, param in PG_TLS_VARIABLES.items() if env.get(var)}
        amqp_ssl = env.get("HUB_AMQP_SSL", "0") == "1"
        amqp = (with_amqp_tls if amqp_ssl else str)
        amqp_uri = amqp(env.get("HUB_AMQP_URI", "amqp://guest:guest@127.0.0.1:5672//"))
        return cls(
            county_config=env.get("COUNTY_CONFIG") or str(DEFAULT_COUNTY),
            pg_dsn=with_pg_tls(env.get("HUB_PG_DSN", "host=127.0.0.1 port=5432 user=postgres"),
                               pg_tls),
            db_prefix=env.get("HUB_DB_PREFIX", "hub"),
            amqp_uri=amqp_uri,
            data_key=env.get("HUB_DATA_KEY", ""),
            jwt_secret=env.get("HUB_JWT_SECRET", ""),
            admin_token=env.get("HUB_ADMIN_TOKEN", ""),
            http_host=env.get("HUB_HTTP_HOST", "127.0.0.1"),
            port_offset=int(env.get("HUB_PORT_OFFSET", "0")),
            relay_batch=int(env.get("HUB_RELAY_BATCH", "500")),
            retry_attempts=int(env.get("HUB_RETRY_ATTEMPTS", "5")),
            retry_base_seconds=float(env.get("HUB_RETRY_BASE_SECONDS", "2")),
            only_services=tuple(x for x in env.get("HUB_SERVICES", "").split(",") if x),
            access_log=env.get("HUB_ACCESS_LOG", "0") == "1",
            service_urls={k: v.rstrip("/") for k, v in _per_service(env, "HUB_URL_").items()},
            service_secret=env.get("HUB_SERVICE_SECRET", ""),
            service_pg_dsns={k: with_pg_tls(v, pg_tls)
                             for k, v in _per_service(env, "HUB_PG_DSN_").items()},
            service_amqp_uris={k: amqp(v) for k, v in _per_service(env, "HUB_AMQP_URI_").items()},
            pg_tls=pg_tls,
            amqp_ssl=amqp_ssl,
            amqp_ca_file=env.get("HUB_AMQP_CA_FILE", ""),
            amqp_cert_file=env.get("HUB_AMQP_CERT_FILE", ""),
            amqp_key_file=env.get("HUB_AMQP_KEY_FILE", ""),
            amqp_admin_uri=amqp(env.get("HUB_AMQP_ADMIN_URI", "")) or amqp_uri,
            amqp_admin_url=env.get("HUB_AMQP_ADMIN_URL", ""),
        )

    def data_services(self):
        """The services with a database that this hub runs, in set-up order."""
        from hub.runner import DATA_SERVICES
        return tuple(s for s in DATA_SERVICES if not self.only_services or s in self.only_services)

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
        """The service's own HTTP port (any other, e.g. a test-only service, gets 8009)."""
        return SERVICE_PORTS.get(service, 8009) + self.port_offset

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
            "HUB_SERVICE": service,
            "HUB_SETTINGS": self,
        }
        if service not in STATELESS_SERVICES:
            config["AMQP_URI"] = self.service_amqp_uri(service)
            if self.amqp_ssl:
                config["AMQP_SSL"] = self.amqp_ssl_options(config["AMQP_URI"])
        return config
