"""Which role this stats service plays (HUB_ROLE): a county hub's statistics, or the province's.

Read here, beside the chassis settings, from the service's nameko config (tests run both roles in
one process) or else the environment:

    HUB_ROLE                  county (default) | province
    HUB_PROVINCE_CODE/_NAME   the province (default 340000 安徽省)
    HUB_PROVINCE_POPULATION   for shares of population (default: the sum of its counties')
    HUB_STATS_BATCH           province: events per ingestion transaction (default 5000)
    HUB_STATS_PREFETCH        province: unacknowledged deliveries in flight (default 15000:
                              a batch being written, one waiting, one being read)
    HUB_STATS_BATCH_WAIT      province: seconds to wait for a batch to fill (default 0.05)
    HUB_STATS_READ_AHEAD      province: 0 reads the broker with py-amqp's own transport instead
                              of stats/amqp_reader.py's read-ahead one (default 1)
    HUB_STATS_HEARTBEAT_SECONDS  county: heartbeat to the province link (default 15)
    HUB_STATS_GAUGES_SECONDS  how often per-county gauges are refreshed (default 15)
"""
import os
from dataclasses import dataclass

ROLES = ("county", "province")


@dataclass(frozen=True)
class StatsConfig:
    role: str = "county"
    province_code: str = "340000"
    province_name: str = "安徽省"
    province_population: int = 0
    batch_size: int = 5000
    prefetch: int = 15000
    batch_wait: float = 0.05
    read_ahead: bool = True
    heartbeat_seconds: float = 15.0
    gauges_seconds: float = 15.0

    @property
    def is_province(self):
        return self.role == "province"

    @classmethod
    def from_env(cls, env=None):
        env = os.environ if env is None else env
        role = env.get("HUB_ROLE", "county")
        if role not in ROLES:
            raise ValueError(f"HUB_ROLE must be one of {', '.join(ROLES)}, not {role!r}")
        return cls(
            role=role,
            province_code=env.get("HUB_PROVINCE_CODE", cls.province_code),
            province_name=env.get("HUB_PROVINCE_NAME", cls.province_name),
            province_population=int(env.get("HUB_PROVINCE_POPULATION", "0")),
            batch_size=int(env.get("HUB_STATS_BATCH", cls.batch_size)),
            prefetch=int(env.get("HUB_STATS_PREFETCH", cls.prefetch)),
            batch_wait=float(env.get("HUB_STATS_BATCH_WAIT", cls.batch_wait)),
            read_ahead=env.get("HUB_STATS_READ_AHEAD", "1") != "0",
            heartbeat_seconds=float(env.get("HUB_STATS_HEARTBEAT_SECONDS", cls.heartbeat_seconds)),
            gauges_seconds=float(env.get("HUB_STATS_GAUGES_SECONDS", cls.gauges_seconds)),
        )

    @classmethod
    def from_nameko_config(cls, config):
        """The environment, overridden by HUB_* strings in the service's nameko config."""
        env = dict(os.environ)
        env.update({k: v for k, v in config.items() if k.startswith("HUB_") and isinstance(v, str)})
        return cls.from_env(env)
