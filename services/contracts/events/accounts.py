"""The events accounts publishes: only that tokens were revoked (a user id, never a name)."""
from marshmallow import Schema, fields, validate

from hub.auth import REVOCATION_EVENT
from hub.events import EventContractError, register


class TokensRevokedData(Schema):
    subject = fields.String(required=True, validate=validate.Length(min=1, max=200),
                            metadata={"description": "the tokens' `sub`: user:<uuid>"})
    session_ids = fields.List(fields.UUID(), required=True, validate=validate.Length(min=1),
                              metadata={"description": "the sessions whose tokens are revoked"})
    expires_by = fields.AwareDateTime(required=True, metadata={
        "description": "when the last access token of those sessions expires anyway"})
    reason = fields.String(required=True, validate=validate.OneOf(
        ("logout", "disabled", "password_changed", "password_reset", "refresh_reused",
         "role_changed")))


REVOKED = register("tokens.revoked", 1, TokensRevokedData, "accounts",
                   "A user's tokens were revoked (logout, disabled, password changed…): every "
                   "service refuses them from now on.")
if REVOKED.key != REVOCATION_EVENT:     # the chassis applies it by that name (hub.auth)
    raise EventContractError(f"{REVOKED.key} is not {REVOCATION_EVENT}")
