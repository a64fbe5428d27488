"""The users of a hub: create, change, disable, list; who may manage whom.

County admins manage every user; a township admin manages the station workers of their own
township (other users of the county look to them as if they did not exist). Disabling a user,
changing their role or place, or resetting their password ends their sessions (revocation.py).
"""
import uuid

from accounts import passwords, revocation
from hub.access import OutOfScope
from hub.audit import Entry
from hub.auth import ROLES, STATION_ROLES
from hub.errors import Conflict, Forbidden, NotFound, ValidationFailed
from hub.i18n import _

COLUMNS = "id, username, display_name, role, township_code, disabled, must_change_password, " \
          "locked_until, created_at, updated_at"


def present(row):
    return {"id": row["id"], "username": row["username"], "display_name": row["display_name"],
            "role": row["role"], "township": row["township_code"], "disabled": row["disabled"],
            "must_change_password": row["must_change_password"],
            "locked_until": row["locked_until"], "created_at": row["created_at"],
            "updated_at": row["updated_at"]}


def subject_of(user):
    """The `sub` of a user's tokens."""
    return f"user:{user['id']}"


def of_session(tx, principal, *, lock=False):
    """The user whose login session the caller's token is (None for a system's token)."""
    if not principal.session_id:
        return None
    return tx.one("SELECT * FROM users WHERE id::text = %s" + (" FOR UPDATE" if lock else ""),
                  (principal.subject.removeprefix("user:"),))


def manages(principal, role, township):
    """Whether `principal` may manage a user with that role and township."""
    if principal.role == "county_admin":
        return True
    return (principal.role == "township_admin" and role == "station_worker"
            and township == principal.township)


def _check_place(settings, role, township):
    if role not in ROLES:
        raise ValidationFailed(_("Unknown role."), fields={"role": [_("one of {roles}",
                                                                      roles=", ".join(ROLES))]})
    if role in STATION_ROLES and not township:
        raise ValidationFailed(_("A station role needs its township."), fields={
            "township": [_("required for role {role}", role=role)]})
    if township and township not in settings.county.townships:
        raise ValidationFailed(_("No such township in this county."), fields={
            "township": [_("{code} is not a township of this county", code=township)]})


def _check_allowed(principal, role, township):
    if not manages(principal, role, township):
        raise Forbidden(_("You may not manage a user with this role or township."), fields={
            "role": [_("a township admin manages the station workers of their own township")]})


def get(tx, principal, user_id):
    row = tx.one(f"SELECT {COLUMNS} FROM users WHERE id = %s", (user_id,))
    if row is None:
        raise NotFound(_("There is no user {user_id}.", user_id=user_id))
    if not manages(principal, row["role"], row["township_code"]) and \
            principal.subject != subject_of(row):
        raise OutOfScope()
    return row


def search(tx, principal, query):
    where, params = [], []
    if principal.role != "county_admin":
        where.append("role = 'station_worker' AND township_code = %s")
        params.append(principal.township)
    for name, column in (("role", "role"), ("township", "township_code")):
        if query.get(name):
            where.append(f"{column} = %s")
            params.append(query[name])
    if query.get("disabled") is not None:
        where.append("disabled = %s")
        params.append(query["disabled"])
    sql = (f"SELECT {COLUMNS} FROM users" + (" WHERE " + " AND ".join(where) if where else "")
           + " ORDER BY lower(username) LIMIT 1000")
    return tx.all(sql, params)


def create(tx, settings, principal, body, address, user_id=None):
    """A new user with a first password (given, or made up); returns (row, first password)."""
    role, township = body["role"], body.get("township")
    _check_place(settings, role, township)
    _check_allowed(principal, role, township)
    password = body.get("password") or passwords.first_password()
    if body.get("password"):
        passwords.check_new(password, field="password")
    row = tx.one(
        f"""INSERT INTO users (id, username, display_name, role, township_code, password_hash)
            VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING RETURNING {COLUMNS}""",
        (user_id or uuid.uuid4(), body["username"], body.get("display_name") or "", role,
         township, passwords.hash_password(password)))
    if row is None:
        raise Conflict(_("This username is taken."), fields={
            "username": [_("already used by another user")]})
    tx.pending_audit.append(Entry(principal.subject, principal.role, "user.create",
                                  f"user/{row['id']}", address,
                                  {"role": role, "township": township}))
    return row, password


def change(tx, settings, policy, principal, user_id, body, address):
    """Change a user; returns (row, new first password or None). Revokes their sessions when
    they are disabled, change role or township, or get a new password."""
    row = tx.one(f"SELECT {COLUMNS} FROM users WHERE id = %s FOR UPDATE", (user_id,))
    if row is None:
        raise NotFound(_("There is no user {user_id}.", user_id=user_id))
    if not manages(principal, row["role"], row["township_code"]):
        raise OutOfScope()
    role = body.get("role", row["role"])
    township = body["township"] if "township" in body else row["township_code"]
    if role not in STATION_ROLES and "township" not in body:
        township = None
    _check_place(settings, role, township)
    _check_allowed(principal, role, township)
    if body.get("disabled") and principal.subject == subject_of(row):
        raise Forbidden(_("You may not disable yourself."), fields={
            "disabled": [_("ask another admin")]})
    password = passwords.first_password() if body.get("reset_password") else None
    disabled = body.get("disabled", row["disabled"])
    updated = tx.one(
        f"""UPDATE users SET display_name = %s, role = %s, township_code = %s, disabled = %s,
                   password_hash = coalesce(%s, password_hash),
                   must_change_password = must_change_password OR %s,
                   failed_logins = CASE WHEN %s THEN 0 ELSE failed_logins END,
                   locked_until = CASE WHEN %s THEN NULL ELSE locked_until END,
                   updated_at = now()
            WHERE id = %s RETURNING {COLUMNS}""",
        (body.get("display_name", row["display_name"]), role, township, disabled,
         passwords.hash_password(password) if password else None, password is not None,
         password is not None, password is not None, user_id))
    changed = sorted(k for k in body if k != "reset_password"
                     and body[k] != present(row).get(k))
    reason = ("disabled" if disabled and not row["disabled"] else
              "password_reset" if password else
              "role_changed" if (role, township) != (row["role"], row["township_code"]) else None)
    if reason:
        revocation.revoke_all(tx, policy, row["id"], reason)
    tx.pending_audit.append(Entry(principal.subject, principal.role, "user.change",
                                  f"user/{row['id']}", address,
                                  {"fields": changed, "password_reset": password is not None,
                                   "sessions_revoked": reason}))
    return updated, password
