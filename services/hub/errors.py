"""The errors a hub answers with: each maps to one HTTP status and a JSON body naming the fields.

Their messages are marked with hub.i18n's `_()`; `body(locale)` renders the message and every
field message in the caller's language."""
from hub.i18n import translate_all


class HubError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, message, fields=None, headers=None, **extra):
        super().__init__(message)
        self.message = message
        self.fields = fields or {}
        self.headers = headers or {}    # response headers (Retry-After …)
        self.extra = extra

    def body(self, locale=None):
        """The JSON body, its messages in `locale` (as raised, in English, when None)."""
        error = {"code": self.code, "message": translate_all(self.message, locale),
                 "fields": translate_all(self.fields, locale)}
        error.update(self.extra)
        return {"error": error}


class BadRequest(HubError):
    status, code = 400, "bad_request"


class Unauthorized(HubError):
    status, code = 401, "unauthorized"


class Forbidden(HubError):
    status, code = 403, "forbidden"


class NotFound(HubError):
    status, code = 404, "not_found"


class Conflict(HubError):
    status, code = 409, "conflict"


class ValidationFailed(HubError):
    status, code = 422, "validation_failed"


class PayloadTooLarge(HubError):
    status, code = 413, "payload_too_large"


class Unavailable(HubError):
    status, code = 503, "unavailable"


class IdempotentReplay(Exception):
    """Raised when a request repeats an Idempotency-Key: carries the first answer."""

    def __init__(self, status, body):
        super().__init__(status)
        self.status = status
        self.body = body
