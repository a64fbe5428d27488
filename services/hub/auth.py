"""Bearer tokens: signed JWTs issued by the hub's admin, and the demo admin token."""
import hmac
import secrets
import time
import uuid
from dataclasses import dataclass

import jwt

from hub.errors import Unauthorized

ROLES = ("station_worker", "township_admin", "county_admin", "province_viewer",
         "subscriber", "auditor")
ALGORITHM = "HS256"


@dataclass(frozen=True)
class Principal:
    subject: str
    role: str
    county: str
    township: str | None = None

    @property
    def may_see_personal_ids(self):
        return self.role == "county_admin"


def issue_token(settings, subject, role, *, township=None, ttl_seconds=30 * 24 * 3600):
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; roles are {', '.join(ROLES)}")
    now = int(time.time())
    claims = {"sub": subject, "role": role, "county": settings.county.code,
              "iat": now, "exp": now + ttl_seconds, "jti": str(uuid.uuid4())}
    if township:
        claims["township"] = township
    return jwt.encode(claims, settings.jwt_secret, algorithm=ALGORITHM)


def new_secret():
    return secrets.token_urlsafe(32)


def authenticate(settings, authorization):
    """The caller of a request from its Authorization header, or Unauthorized."""
    if not authorization or not authorization.startswith("Bearer "):
        raise Unauthorized("Send 'Authorization: Bearer <token>'; ask the hub admin for a token.")
    token = authorization[len("Bearer "):].strip()
    if settings.admin_token and hmac.compare_digest(token, settings.admin_token):
        return Principal("admin", "county_admin", settings.county.code)
    try:
        claims = jwt.decode(token, settings.jwt_secret, algorithms=[ALGORITHM],
                            options={"require": ["sub", "role", "exp"]})
    except jwt.ExpiredSignatureError:
        raise Unauthorized("The token has expired; ask the hub admin for a new one.")
    except jwt.InvalidTokenError:
        raise Unauthorized("The token is not valid for this hub.")
    if claims.get("county") != settings.county.code or claims["role"] not in ROLES:
        raise Unauthorized("The token is not valid for this hub.")
    return Principal(claims["sub"], claims["role"], claims["county"], claims.get("township"))
