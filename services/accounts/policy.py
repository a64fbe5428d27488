"""How accounts treats logins: token lifetimes, failed attempts before a lock, the password rule.

Read from the environment (docs/operations.md); the defaults suit a county hub: access tokens
live 15 minutes, a refresh token 30 days (a worker may be in the field, offline, for weeks),
five failed logins in a row lock the account for 15 minutes. Passwords are hashed with Argon2id
at argon2-cffi's default cost (RFC 9106's low-memory profile: 3 passes over 64 MiB); a weaker
machine, or the test suite, may lower it (HUB_ARGON2_TIME_COST, HUB_ARGON2_MEMORY_KIB).
"""
import os
from dataclasses import dataclass
from functools import cache

from marshmallow import Schema, ValidationError

from hub.config import SettingsError, whole_number

POLICY_VARIABLES = Schema.from_dict(dict(
    HUB_ACCESS_TOKEN_SECONDS=whole_number(900, 60),
    HUB_REFRESH_TOKEN_SECONDS=whole_number(30 * 24 * 3600, 600),
    HUB_LOGIN_ATTEMPTS=whole_number(5, 1),
    HUB_LOGIN_LOCK_SECONDS=whole_number(900, 1),
    HUB_ARGON2_TIME_COST=whole_number(3, 1),
    HUB_ARGON2_MEMORY_KIB=whole_number(65536, 1024),
))()
MIN_PASSWORD = 8


@dataclass(frozen=True)
class Policy:
    access_seconds: int
    refresh_seconds: int
    attempts: int
    lock_seconds: int
    argon2_time_cost: int = 3
    argon2_memory_kib: int = 65536

    @classmethod
    def from_env(cls, env=os.environ):
        try:
            v = POLICY_VARIABLES.load({k: x for k, x in env.items()
                                       if k in POLICY_VARIABLES.fields})
        except ValidationError as exc:
            raise SettingsError(exc.messages, env) from None
        return cls(v["HUB_ACCESS_TOKEN_SECONDS"], v["HUB_REFRESH_TOKEN_SECONDS"],
                   v["HUB_LOGIN_ATTEMPTS"], v["HUB_LOGIN_LOCK_SECONDS"],
                   v["HUB_ARGON2_TIME_COST"], v["HUB_ARGON2_MEMORY_KIB"])


@cache
def policy():
    """The policy of this process (read from its environment once)."""
    return Policy.from_env()
