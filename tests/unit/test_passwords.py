"""Passwords: Argon2id at the policy's cost (argon2-cffi's default unless lowered), never the
clear text, and the rule a new password must meet."""
import pytest

from accounts import passwords
from accounts.policy import Policy
from hub.config import SettingsError
from hub.errors import ValidationFailed


def test_the_default_cost_is_argon2_cffis_own_and_a_bad_value_is_named():
    policy = Policy.from_env({})
    assert (policy.argon2_time_cost, policy.argon2_memory_kib) == (3, 65536)
    assert (policy.attempts, policy.lock_seconds, policy.access_seconds) == (5, 900, 900)
    with pytest.raises(SettingsError, match="HUB_LOGIN_ATTEMPTS='many'"):
        Policy.from_env({"HUB_LOGIN_ATTEMPTS": "many"})


def test_a_hash_is_argon2id_and_only_the_right_password_verifies():
    stored = passwords.hash_password("县里的密码 123")
    assert stored.startswith("$argon2id$") and "县里的密码" not in stored
    assert passwords.verify(stored, "县里的密码 123")
    assert not passwords.verify(stored, "县里的密码 124")
    assert not passwords.verify(None, "县里的密码 123")      # an unknown user
    assert not passwords.verify("not a hash", "x")


def test_first_passwords_are_long_and_unambiguous():
    made = {passwords.first_password() for _ in range(50)}
    assert len(made) == 50 and all(len(p) == 12 for p in made)
    assert not any(c in p for p in made for c in "0O1lI")


def test_the_password_rule_names_the_field():
    with pytest.raises(ValidationFailed) as short:
        passwords.check_new("short")
    assert "new_password" in short.value.fields
    with pytest.raises(ValidationFailed) as same:
        passwords.check_new("the same one 1", "the same one 1")
    assert "new_password" in same.value.fields
