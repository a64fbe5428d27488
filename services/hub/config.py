"""Hub settings, read once from environment variables (with defaults for a local demo hub)."""
import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from hub.county import load_county

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_COUNTY = REPO_ROOT / "deploy" / "counties" / "dongzhi-341721.yaml"

SERVICE_PORTS = {"gateway": 8000, "intake": 8001, "visits": 8002, "resources": 8003, "stats": 8004}


@dataclass(frozen=True)
class Settings:
    """Everything a hub process needs to know; see docs/operations.md for each variable."""
    county_config: str
    pg_dsn: str                 # server DSN without dbname, e.g. "host=127.0.0.1 user=postgres"
    db_prefix: str              # each service's database is f"{db_prefix}_{service}"
    amqp_uri: str
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

    @classmethod
    def from_env(cls, env=os.environ):
        return cls(
            county_config=env.get("COUNTY_CONFIG") or str(DEFAULT_COUNTY),
            pg_dsn=env.get("HUB_PG_DSN", "host=127.0.0.1 port=5432 user=postgres"),
            db_prefix=env.get("HUB_DB_PREFIX", "hub"),
            amqp_uri=env.get("HUB_AMQP_URI", "amqp://guest:guest@127.0.0.1:5672//"),
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
            service_urls={k[len("HUB_URL_"):].lower(): v.rstrip("/") for k, v in env.items()
                          if k.startswith("HUB_URL_") and v},
        )

    def data_services(self):
        """The services with a database that this hub runs, in set-up order."""
        from hub.runner import DATA_SERVICES
        return tuple(s for s in DATA_SERVICES if not self.only_services or s in self.only_services)

    @cached_property
    def county(self):
        return load_county(self.county_config)

    def database_dsn(self, service):
        return f"{self.pg_dsn} dbname={self.database_name(service)}"

    def database_name(self, service):
        return f"{self.db_prefix}_{service}"

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
        return {
            "AMQP_URI": self.amqp_uri,
            "WEB_SERVER_ADDRESS": f"{self.http_host}:{self.port(service)}",
            "max_workers": 32,
            "HUB_SERVICE": service,
            "HUB_SETTINGS": self,
        }
