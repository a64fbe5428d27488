"""The errors a hub answers with: each maps to one HTTP status and a JSON body naming the fields."""


class HubError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, message, fields=None, **extra):
        super().__init__(message)
        self.message = message
        self.fields = fields or {}
        self.extra = extra

    def body(self):
        error = {"code": self.code, "message": self.message, "fields": self.fields}
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
