"""Logging in and out: sessions, their tokens, failed attempts and locks.

A login opens a session: a short-lived access token (a JWT every service checks, naming the
session in `sid`) and a refresh token (random, kept here only as its SHA-256), which works once
and is replaced at each refresh. A refresh token shown a second time means it was copied: the
session is revoked. Closing a session (log out, a password change, the user disabled …) emits
tokens.revoked, which every service records (hub.inbox's chassis events), so its access tokens
are refused everywhere within seconds, not only when they expire.

Failed logins are counted per user; at the policy's limit the account locks for a while. Every
login, failure, lock and logout goes in the audit trail (by user id; never the password).
"""
import hashlib
import secrets
import uuid
from datetime import datetime, timedelta, timezone

from accounts import passwords, revocation
from accounts.users import of_session, present, subject_of
from hub import auth
from hub.audit import Entry
from hub.errors import Conflict, Forbidden, HubError, Unauthorized
from hub.i18n import _


class Locked(HubError):
    status, code = 429, "locked"


def _digest(token):
    return hashlib.sha256(token.encode()).hexdigest()


def _now():
    return datetime.now(timezone.utc)


def _audit(tx, user, action, address, **detail):
    actor, role = (subject_of(user), user["role"]) if user else ("unknown user", "-")
    tx.pending_audit.append(Entry(actor, role, action, f"user/{user['id']}" if user else "session",
                                  address, detail))


def _answer(settings, policy, user, session_id, refresh):
    return {"access_token": auth.issue_token(
                settings, subject_of(user), user["role"], township=user["township_code"],
                ttl_seconds=policy.access_seconds, session_id=session_id,
                password_change=user["must_change_password"]),
            "token_type": "Bearer", "expires_in": policy.access_seconds,
            "refresh_token": refresh, "refresh_expires_in": policy.refresh_seconds,
            "must_change_password": user["must_change_password"], "user": present(user)}


def _open(tx, settings, policy, user):
    session_id, refresh = uuid.uuid4(), secrets.token_urlsafe(32)
    tx.execute("INSERT INTO sessions (id, user_id, refresh_hash, refresh_until) "
               "VALUES (%s, %s, %s, %s)",
               (session_id, user["id"], _digest(refresh),
                _now() + timedelta(seconds=policy.refresh_seconds)))
    return _answer(settings, policy, user, session_id, refresh)


def log_in(db, settings, policy, username, password, address):
    """The tokens of a new session, or the error to answer with (after the failure is kept)."""
    refusal = None
    with db.transaction() as tx:
        user = tx.one("SELECT * FROM users WHERE lower(username) = lower(%s) FOR UPDATE",
                      (username,))
        now = _now()
        if user and user["locked_until"] and user["locked_until"] > now:
            wait = int((user["locked_until"] - now).total_seconds()) + 1
            _audit(tx, user, "auth.login_locked", address)
            refusal = _locked(wait)
        elif not passwords.verify(user and user["password_hash"], password):
            refusal = Unauthorized(_("Wrong username or password."), fields={
                "password": [_("wrong username or password")]})
            if user is None:
                _audit(tx, None, "auth.login_failed", address)
            else:
                failed = user["failed_logins"] + 1
                locks = failed >= policy.attempts
                tx.execute("UPDATE users SET failed_logins = %s, locked_until = %s WHERE id = %s",
                           (0 if locks else failed,
                            now + timedelta(seconds=policy.lock_seconds) if locks else None,
                            user["id"]))
                _audit(tx, user, "auth.login_failed", address, failures=failed)
                if locks:
                    _audit(tx, user, "auth.locked", address, seconds=policy.lock_seconds)
                    refusal = _locked(policy.lock_seconds)
        elif user["disabled"]:
            _audit(tx, user, "auth.login_disabled", address)
            refusal = Forbidden(_("This account is disabled; ask your admin."), fields={
                "username": [_("disabled")]})
        else:
            tx.execute("UPDATE users SET failed_logins = 0, locked_until = NULL WHERE id = %s",
                       (user["id"],))
            _audit(tx, user, "auth.login", address)
            return _open(tx, settings, policy, user)
    raise refusal


def _locked(seconds):
    return Locked(_("Too many failed logins: the account is locked; try again in {minutes} "
                    "minutes.", minutes=max(1, round(seconds / 60))),
                  retry_after=seconds, headers={"Retry-After": str(seconds)})


def refresh(db, settings, policy, token, address):
    """A refreshed session: new access and refresh tokens; the old refresh token is spent."""
    refusal = Unauthorized(_("The session has ended; log in again."), fields={
        "refresh_token": [_("not valid")]})
    with db.transaction() as tx:
        row = tx.one("""SELECT s.id AS session_id, s.refresh_until, s.revoked_at, u.*
                        FROM sessions s JOIN users u ON u.id = s.user_id
                        WHERE s.refresh_hash = %s FOR UPDATE OF s""", (_digest(token),))
        if row is None:
            spent = tx.one("""SELECT s.id, s.user_id, s.revoked_at FROM used_refresh_tokens t
                              JOIN sessions s ON s.id = t.session_id
                              WHERE t.refresh_hash = %s""", (_digest(token),))
            if spent and spent["revoked_at"] is None:
                user = tx.one("SELECT * FROM users WHERE id = %s", (spent["user_id"],))
                revocation.revoke(tx, policy, user["id"], [spent["id"]], "refresh_reused")
                _audit(tx, user, "auth.refresh_reused", address)
        elif row["revoked_at"] or row["refresh_until"] < _now() or row["disabled"]:
            pass
        else:
            new = secrets.token_urlsafe(32)
            tx.execute("INSERT INTO used_refresh_tokens (refresh_hash, session_id) "
                       "VALUES (%s, %s)", (_digest(token), row["session_id"]))
            tx.execute("UPDATE sessions SET refresh_hash = %s, refresh_until = %s, "
                       "refreshed_at = now() WHERE id = %s",
                       (_digest(new), _now() + timedelta(seconds=policy.refresh_seconds),
                        row["session_id"]))
            return _answer(settings, policy, row, row["session_id"], new)
    raise refusal


def _session_user(tx, principal, lock=False):
    """The user whose session the caller's token is; 409 for a system's token (no session)."""
    user = of_session(tx, principal, lock=lock)
    if user is None:
        raise Conflict(_("This token is not a login session: a system's token has no "
                         "password and is revoked with `hub token revoke`."), fields={
            "Authorization": [_("a system's token, not a login session")]})
    return user


def log_out(tx, policy, principal, address):
    user = _session_user(tx, principal)
    revocation.revoke(tx, policy, user["id"], [principal.session_id], "logout")
    _audit(tx, user, "auth.logout", address)


def change_password(tx, settings, policy, principal, current, new, address):
    """A new password; every session of the user is closed and a new one opened."""
    user = _session_user(tx, principal, lock=True)
    if not passwords.verify(user["password_hash"], current):
        raise Forbidden(_("The current password is wrong."), fields={
            "current_password": [_("wrong password")]})
    passwords.check_new(new, current)
    user = tx.one("UPDATE users SET password_hash = %s, must_change_password = false, "
                  "updated_at = now() WHERE id = %s RETURNING *",
                  (passwords.hash_password(new), user["id"]))
    revocation.revoke_all(tx, policy, user["id"], "password_changed")
    _audit(tx, user, "user.password_changed", address)
    return _open(tx, settings, policy, user)
