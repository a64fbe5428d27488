"""What accounts' routes take and give: logins, tokens, users."""
from marshmallow import Schema, fields, validate

from contracts.places import TOWNSHIP
from hub.auth import ROLES
from hub.validators import Pattern

USERNAME = Pattern(r"^[^\s/\\]{2,50}$", error="2 to 50 characters, no spaces or slashes")
SECRET = validate.Length(min=1, max=200)


class LoginSchema(Schema):
    username = fields.String(required=True, validate=validate.Length(min=1, max=50))
    password = fields.String(required=True, validate=SECRET)


class RefreshSchema(Schema):
    refresh_token = fields.String(required=True, validate=SECRET)


class PasswordSchema(Schema):
    current_password = fields.String(required=True, validate=SECRET)
    new_password = fields.String(required=True, validate=SECRET)


class UserSchema(Schema):
    id = fields.UUID()
    username = fields.String()
    display_name = fields.String()
    role = fields.String()
    township = fields.String(allow_none=True)
    disabled = fields.Boolean()
    must_change_password = fields.Boolean()
    locked_until = fields.DateTime(allow_none=True)
    created_at = fields.DateTime()
    updated_at = fields.DateTime()
    initial_password = fields.String(metadata={
        "description": "a new first password, shown once (create, reset_password)"})


class SessionSchema(Schema):
    access_token = fields.String()
    token_type = fields.String()
    expires_in = fields.Integer()
    refresh_token = fields.String()
    refresh_expires_in = fields.Integer()
    must_change_password = fields.Boolean()
    user = fields.Nested(UserSchema)


class WhoAmISchema(Schema):
    user = fields.Nested(UserSchema, allow_none=True)
    subject = fields.String()
    role = fields.String()
    township = fields.String(allow_none=True)


class UserCreateSchema(Schema):
    username = fields.String(required=True, validate=USERNAME)
    display_name = fields.String(load_default="", validate=validate.Length(max=100))
    role = fields.String(required=True, validate=validate.OneOf(ROLES))
    township = fields.String(allow_none=True, load_default=None, validate=TOWNSHIP)
    password = fields.String(validate=SECRET, metadata={
        "description": "the first password; made up and answered once when not given"})


class UserPatchSchema(Schema):
    display_name = fields.String(validate=validate.Length(max=100))
    role = fields.String(validate=validate.OneOf(ROLES))
    township = fields.String(allow_none=True, validate=TOWNSHIP)
    disabled = fields.Boolean()
    reset_password = fields.Boolean(metadata={
        "description": "true: a new first password, answered once; their sessions end"})


class UserQuerySchema(Schema):
    role = fields.String(validate=validate.OneOf(ROLES))
    township = fields.String(validate=TOWNSHIP)
    disabled = fields.Boolean()


class UserPageSchema(Schema):
    items = fields.List(fields.Nested(UserSchema))
