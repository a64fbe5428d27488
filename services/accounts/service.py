"""The accounts service: log in, refresh, log out, change password; the users of the hub."""
from werkzeug.wrappers import Response

from accounts import sessions, users
from accounts.policy import policy
from accounts.schemas import (
    LoginSchema,
    PasswordSchema,
    RefreshSchema,
    SessionSchema,
    UserCreateSchema,
    UserPageSchema,
    UserPatchSchema,
    UserQuerySchema,
    UserSchema,
    WhoAmISchema,
)
from hub.access import Access
from hub.auth import ROLES
from hub.http import api
from hub.service import HubService

SESSION = "/api/v1/session"
USER = "/api/v1/users/<user_id>"
ANYONE = Access(ROLES, scoped=False)        # their own session only
# township admins: their township's users only (hub.access, by users.township_code), and of
# those the station workers (users.manages)
USER_ADMINS = Access(("township_admin", "county_admin"))
SHOW = UserSchema()


class AccountsService(HubService):
    name = "accounts"
    record_tables = {"user_id": "users"}

    def _settings(self):
        return self.db.settings

    @api("POST", SESSION, body=LoginSchema, status=201, public=True, transaction=False,
         responds=SessionSchema)
    def log_in(self, call):
        """Log in with a username and password: an access token (short-lived) and a refresh
        token (works once). Five failures in a row lock the account for a while (429)."""
        return sessions.log_in(self.db, self._settings(), policy(), call.body["username"],
                               call.body["password"], call.address)

    @api("POST", SESSION + "/refresh", body=RefreshSchema, public=True, transaction=False,
         responds=SessionSchema)
    def refresh(self, call):
        """New tokens for a refresh token; the refresh token is spent (a second use ends the
        session)."""
        return sessions.refresh(self.db, self._settings(), policy(),
                                call.body["refresh_token"], call.address)

    @api("GET", SESSION, responds=WhoAmISchema, access=ANYONE, changing_password=True)
    def who_am_i(self, call):
        """Who the token is: the user of a session, or a system's subject and role."""
        p = call.principal
        row = users.of_session(call.tx, p)
        return {"user": SHOW.dump(users.present(row)) if row else None, "subject": p.subject,
                "role": p.role, "township": p.township}

    @api("DELETE", SESSION, transaction=False, access=ANYONE, changing_password=True)
    def log_out(self, call):
        """Log out: the session's refresh token and access tokens are revoked (204)."""
        with self.db.transaction() as tx:
            sessions.log_out(tx, policy(), call.principal, call.address)
        return Response(status=204)

    @api("POST", SESSION + "/password", body=PasswordSchema, access=ANYONE, idempotent=False,
         changing_password=True, responds=SessionSchema)
    def change_password(self, call):
        """Change your password (required at first login): every session of yours ends and a
        new one begins (its tokens answered)."""
        return sessions.change_password(call.tx, self._settings(), policy(), call.principal,
                                        call.body["current_password"],
                                        call.body["new_password"], call.address)

    @api("GET", "/api/v1/users", query=UserQuerySchema, responds=UserPageSchema,
         access=USER_ADMINS)
    def list_users(self, call):
        """The users a county admin (all) or a township admin (their station workers) manages."""
        return {"items": [SHOW.dump(users.present(r))
                          for r in users.search(call.tx, call.principal, call.query)]}

    @api("POST", "/api/v1/users", body=UserCreateSchema, status=201, responds=UserSchema,
         access=USER_ADMINS, idempotent=False)
    def create_user(self, call):
        """Create a user; the first password (made up unless given) is answered once and must
        be changed at first login."""
        row, password = users.create(call.tx, self._settings(), call.principal, call.body,
                                     call.address)
        return {**SHOW.dump(users.present(row)), "initial_password": password}

    @api("GET", USER, responds=UserSchema, access=USER_ADMINS)
    def get_user(self, call, user_id):
        return SHOW.dump(users.present(users.get(call.tx, call.principal, user_id)))

    @api("PATCH", USER, body=UserPatchSchema, responds=UserSchema, access=USER_ADMINS,
         idempotent=False)
    def change_user(self, call, user_id):
        """Change a user's name, role or township, disable or enable them, or give them a new
        first password; disabling (or a new role, place or password) ends their sessions."""
        row, password = users.change(call.tx, self._settings(), policy(), call.principal,
                                     user_id, call.body, call.address)
        shown = SHOW.dump(users.present(row))
        return {**shown, "initial_password": password} if password else shown
