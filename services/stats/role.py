"""Which role this stats service plays (HUB_ROLE): a county hub's statistics, or an aggregator's:
the province's, or a prefecture's (市) that forwards what it takes in to the province.

Read here, beside the chassis settings, from the service's nameko config (tests run both roles in
one process) or else the environment:

    HUB_ROLE                  county (default) | province | prefecture
    HUB_PROVINCE_CODE/_NAME   the aggregator's area (default 340000 安徽省): a province's code
                              ends in 0000; with HUB_ROLE=prefecture, the prefecture's code
                              (the first four digits of its counties' codes, then 00: 341700)
    HUB_PROVINCE_POPULATION   for shares of population (default: the sum of its counties')
    HUB_PREFECTURES           the prefectures' names, `code=name` separated by commas
                              (341700=池州市,340800=安庆市); a prefecture not named is shown
                              by its code
    HUB_STATS_BATCH           province: events per ingestion transaction (default 5000)
    HUB_STATS_PREFETCH        province: unacknowledged deliveries in flight (default 15000:
                              a batch being written, one waiting, one being read)
    HUB_STATS_BATCH_WAIT      province: seconds to wait for a batch to fill (default 0.05)
    HUB_STATS_READ_AHEAD      province: 0 reads the broker with py-amqp's own transport instead
                              of stats/amqp_reader.py's read-ahead one (default 1)
    HUB_STATS_HEARTBEAT_SECONDS  county: heartbeat to the province link (default 15)
    HUB_STATS_GAUGES_SECONDS  how often per-county gauges are refreshed (default 15)
    HUB_SUPPRESSION_K         readers outside the county see no count below it: 1 .. k-1 show
                              as "<k" (stats/disclosure.py; default 5, a whole number >= 2)
"""
import os
import re
from dataclasses import dataclass

ROLES = ("county", "province", "prefecture")
AGGREGATORS = ("province", "prefecture")
# a province's code ends in 0000, a prefecture's in 00 (GB/T 2260: 34 安徽省, 3417 池州市)
AREA_CODES = {"province": re.compile(r"[0-9]{2}0000"),
              "prefecture": re.compile(r"[0-9]{2}(?!00)[0-9]{2}00")}


def parse_prefectures(text, role, area_code):
    """HUB_PREFECTURES (`341700=池州市,340800=安庆市`) as ((code, name), …), each checked:
    ValueError naming the variable and the entry that will not do."""
    found = {}
    for entry in (e.strip() for e in text.split(",")):
        if not entry:
            continue
        code, _, name = (part.strip() for part in entry.partition("="))
        if not AREA_CODES["prefecture"].fullmatch(code) or not name:
            raise ValueError(f"HUB_PREFECTURES: {entry!r} is not code=name with a prefecture's "
                             "code (6 digits ending in 00, e.g. 341700=池州市)")
        inside = (code == area_code if role == "prefecture" else code[:2] == area_code[:2])
        if not inside:
            raise ValueError(f"HUB_PREFECTURES: {code} is not in this aggregator's area "
                             f"{area_code}")
        if code in found:
            raise ValueError(f"HUB_PREFECTURES names {code} twice")
        found[code] = name
    return tuple(sorted(found.items()))


def parse_suppression_k(text):
    """HUB_SUPPRESSION_K (default 5): a whole number of at least 2; ValueError naming it."""
    text = text.strip() or str(StatsConfig.suppression_k)
    if not text.isdigit() or int(text) < 2:
        raise ValueError(f"HUB_SUPPRESSION_K must be a whole number of at least 2 (the smallest "
                         f"count shown outside the county), not {text!r}")
    return int(text)


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
    prefectures: tuple = ()         # ((code, name), …) from HUB_PREFECTURES
    suppression_k: int = 5          # HUB_SUPPRESSION_K

    @property
    def is_province(self):
        """An aggregator of county hubs' events: the province's, or a prefecture's (its area is
        HUB_PROVINCE_CODE, its level the role)."""
        return self.role in AGGREGATORS

    def prefecture_name(self, code):
        """A prefecture's configured name (a prefecture aggregator's own: HUB_PROVINCE_NAME), or
        None."""
        if self.role == "prefecture" and code == self.province_code:
            return self.province_name
        return dict(self.prefectures).get(code)

    @classmethod
    def from_env(cls, env=None):
        env = os.environ if env is None else env
        role = env.get("HUB_ROLE", "county")
        if role not in ROLES:
            raise ValueError(f"HUB_ROLE must be one of {', '.join(ROLES)}, not {role!r}")
        area = env.get("HUB_PROVINCE_CODE", cls.province_code)
        if role in AGGREGATORS and not AREA_CODES[role].fullmatch(area):
            example = "341700" if role == "prefecture" else "340000"
            raise ValueError(f"HUB_PROVINCE_CODE must be a {role}'s code with HUB_ROLE={role} "
                             f"(e.g. {example}), not {area!r}")
        prefectures = (parse_prefectures(env.get("HUB_PREFECTURES", ""), role, area)
                       if role in AGGREGATORS else ())
        default_name = (dict(prefectures).get(area, area) if role == "prefecture"
                        else cls.province_name)
        return cls(
            role=role,
            province_code=area,
            prefectures=prefectures,
            province_name=env.get("HUB_PROVINCE_NAME") or default_name,
            province_population=int(env.get("HUB_PROVINCE_POPULATION", "0")),
            batch_size=int(env.get("HUB_STATS_BATCH", cls.batch_size)),
            prefetch=int(env.get("HUB_STATS_PREFETCH", cls.prefetch)),
            batch_wait=float(env.get("HUB_STATS_BATCH_WAIT", cls.batch_wait)),
            read_ahead=env.get("HUB_STATS_READ_AHEAD", "1") != "0",
            heartbeat_seconds=float(env.get("HUB_STATS_HEARTBEAT_SECONDS", cls.heartbeat_seconds)),
            gauges_seconds=float(env.get("HUB_STATS_GAUGES_SECONDS", cls.gauges_seconds)),
            suppression_k=parse_suppression_k(env.get("HUB_SUPPRESSION_K", "")),
        )

    @classmethod
    def from_nameko_config(cls, config):
        """The environment, overridden by HUB_* strings in the service's nameko config."""
        env = dict(os.environ)
        env.update({k: v for k, v in config.items() if k.startswith("HUB_") and isinstance(v, str)})
        return cls.from_env(env)
