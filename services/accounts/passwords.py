"""Passwords: Argon2id hashes (argon2-cffi), made-up first passwords, and the password rule.

Hashing costs a fifth of a second of CPU at the default cost, so it runs in an OS thread
(eventlet.tpool; argon2 releases the GIL): the service goes on answering other calls meanwhile.
"""
import secrets
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from eventlet import tpool

from accounts.policy import MIN_PASSWORD, policy
from hub.errors import ValidationFailed
from hub.i18n import _

# first passwords are read aloud or copied by hand: no 0/O, 1/l/I
ALPHABET = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"


@cache
def hasher():
    p = policy()
    return PasswordHasher(time_cost=p.argon2_time_cost, memory_cost=p.argon2_memory_kib)


@cache
def _unknown():
    """A hash to check against when the username is unknown, so both cost the same time."""
    return hash_password(secrets.token_urlsafe(16))


def hash_password(password):
    return tpool.execute(hasher().hash, password)


def verify(password_hash, password):
    """Whether `password` matches; with no hash (unknown user) it still takes the time."""
    try:
        return (tpool.execute(hasher().verify, password_hash or _unknown(), password)
                and password_hash is not None)
    except (VerificationError, InvalidHashError):
        return False


def first_password():
    """A first password for a new user or a reset (they must change it at first login)."""
    return "".join(secrets.choice(ALPHABET) for _ in range(12))


def check_new(new, current=None, field="new_password"):
    """The password rule: at least MIN_PASSWORD characters, not the current one."""
    if len(new) < MIN_PASSWORD:
        raise ValidationFailed(_("The new password is too short."), fields={
            field: [_("at least {n} characters", n=MIN_PASSWORD)]})
    if current is not None and new == current:
        raise ValidationFailed(_("The new password must differ from the current one."), fields={
            field: [_("the same as the current password")]})
