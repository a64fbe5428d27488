"""Bearer tokens: signed JWTs (issued by the hub's admin for systems, or by accounts at a login),
the demo admin token, and the revocations every service keeps."""
import hmac
import secrets
import time
import uuid
from dataclasses import dataclass

import jwt

from hub.errors import Forbidden, Unauthorized
from hub.i18n import _

ROLES = ("station_worker", "township_admin", "county_admin", "province_viewer",
         "subscriber", "auditor")
STATION_ROLES = ("station_worker", "township_admin")
ALGORITHM = "HS256"
# accounts' event revoking sessions' tokens (contracts/events/accounts.py); every service's
# consumer applies it (hub.inbox.handle_events), so a disabled user is refused everywhere
REVOCATION_EVENT = "tokens.revoked.v1"


@dataclass(frozen=True)
class Principal:
    subject: str
    role: str
    county: str
    township: str | None = None
    session_id: str | None = None       # a user's login session (accounts), None for systems


class PasswordChangeRequired(Forbidden):
    code = "password_change_required"


def issue_token(settings, subject, role, *, township=None, ttl_seconds=30 * 24 * 3600,
                session_id=None, password_change=False):
    """A signed token; a user's (accounts) names its session and, until the first password is
    changed, says so (`pwc`): such a token is good for changing the password only."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; roles are {', '.join(ROLES)}")
    if role in STATION_ROLES and not township:
        raise ValueError(f"a {role} token needs --township (the code of their station)")
    if township and township not in settings.county.townships:
        raise ValueError(f"{township} is not a township of {settings.county.name}")
    now = int(time.time())
    claims = {"sub": subject, "role": role, "county": settings.county.code,
              "iat": now, "exp": now + ttl_seconds, "jti": str(uuid.uuid4())}
    if township:
        claims["township"] = township
    if session_id:
        claims["sid"] = str(session_id)
    if password_change:
        claims["pwc"] = True
    return jwt.encode(claims, settings.jwt_secret, algorithm=ALGORITHM)


def new_secret():
    return secrets.token_urlsafe(32)


class TokenRefused(Unauthorized):
    """A refused token, with why (for the audit trail) and whom it claimed to be (unverified)."""

    def __init__(self, message, reason, claims=None):
        super().__init__(message)
        self.reason = reason
        claims = claims or {}
        self.claimed_subject = str(claims.get("sub") or "-")[:200]
        self.claimed_role = str(claims.get("role") or "-")[:50]


def _unverified(token):
    try:
        return jwt.decode(token, options={"verify_signature": False})
    except jwt.InvalidTokenError:
        return {}


# tokens whose signature and claims were checked, with their claims: a station's app sends the
# same token with every call, and checking its HMAC and decoding it again cost more than the
# rest of authenticating. Expiry and revocation are still checked on every call.
VERIFIED_CACHE_SIZE = 4096
_verified = {}


def _claims(secret, token):
    """The token's claims, verified (signature, required claims, expiry); raises jwt errors."""
    claims = _verified.get((secret, token))
    if claims is not None and claims["exp"] > time.time():
        return claims
    claims = jwt.decode(token, secret, algorithms=[ALGORITHM],
                        options={"require": ["sub", "role", "exp", "iat"]})
    if len(_verified) >= VERIFIED_CACHE_SIZE:
        _verified.clear()
    _verified[(secret, token)] = claims
    return claims


def authenticate(settings, authorization, revocations=None, *, changing_password=False):
    """The caller of a request from its Authorization header, or TokenRefused (401); a token
    that must first change its password is refused (403) unless `changing_password`."""
    if not authorization or not authorization.startswith("Bearer "):
        raise TokenRefused(_("Send 'Authorization: Bearer <token>'; ask the hub admin for a "
                             "token."),
                           "no token")
    token = authorization[len("Bearer "):].strip()
    if settings.admin_token and hmac.compare_digest(token, settings.admin_token):
        return Principal("admin", "county_admin", settings.county.code)
    try:
        claims = _claims(settings.jwt_secret, token)
    except jwt.ExpiredSignatureError:
        raise TokenRefused(_("The token has expired; ask the hub admin for a new one."), "expired",
                           _unverified(token))
    except jwt.InvalidSignatureError:
        raise TokenRefused(_("The token is not valid for this hub."), "bad signature",
                           _unverified(token))
    except jwt.InvalidTokenError:
        raise TokenRefused(_("The token is not valid for this hub."), "malformed",
                           _unverified(token))
    # a token of another county verifies only where a province shares one signing key; its
    # principal then finds nothing here (hub.access.check_county answers 404)
    here = claims.get("county") == settings.county.code
    if not claims.get("county") or claims["role"] not in ROLES or (
            here and claims["role"] in STATION_ROLES
            and claims.get("township") not in settings.county.townships):
        raise TokenRefused(_("The token is not valid for this hub."), "bad role or township",
                           claims)
    if revocations is not None and revocations.revoked(claims):
        raise TokenRefused(_("The token has been revoked; log in again or ask the hub admin for "
                             "a new one."), "revoked", claims)
    if claims.get("pwc") and not changing_password:
        raise PasswordChangeRequired(
            _("Change your password first (POST /api/v1/session/password)."))
    return Principal(claims["sub"], claims["role"], claims["county"], claims.get("township"),
                     claims.get("sid"))


class Revocations:
    """The service's list of revoked tokens and sessions (hub_token_revocations), re-read every
    few seconds."""

    REFRESH_SECONDS = 2.0

    def __init__(self, database):
        self.database = database
        self.loaded_at = None
        self.jtis, self.subjects = frozenset(), {}

    def revoked(self, claims):
        if self.loaded_at is None or time.monotonic() - self.loaded_at > self.REFRESH_SECONDS:
            self._load()
        before = self.subjects.get(claims["sub"])
        return (claims.get("jti") in self.jtis or claims.get("sid") in self.jtis
                or (before is not None and claims["iat"] < before))

    def _load(self):
        rows = self.database.query(
            "SELECT jti, subject, extract(epoch FROM issued_before) AS before "
            "FROM hub_token_revocations WHERE expires_at IS NULL OR expires_at > now()")
        self.jtis = frozenset(r["jti"] for r in rows if r["jti"])
        subjects = {}
        for r in rows:
            if r["subject"] and r["before"] is not None:
                subjects[r["subject"]] = max(subjects.get(r["subject"], 0), float(r["before"]))
        self.subjects = subjects
        self.loaded_at = time.monotonic()


def revoke(settings, *, jti=None, subject=None, reason=""):
    """Revoke one token (jti) or every token issued so far to a subject, in every service."""
    from hub.db import each_database
    if not jti and not subject:
        raise ValueError("name a token id (jti) or a subject")
    for _service, conn in each_database(settings):
        conn.execute("INSERT INTO hub_token_revocations (jti, subject, issued_before, reason) "
                     "VALUES (%s, %s, CASE WHEN %s::text IS NULL THEN NULL ELSE now() END, %s)",
                     (jti, subject, subject, reason))


def record_revocation(tx, event):
    """Apply accounts' tokens.revoked event in this service (each session id kept as a jti)."""
    data = event["data"]
    tx.execute_each(
        "INSERT INTO hub_token_revocations (jti, reason, expires_at) VALUES (%s, %s, %s)",
        [(str(sid), data["reason"], data["expires_by"]) for sid in data["session_ids"]])
