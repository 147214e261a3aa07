"""The API's error vocabulary (cartly-api.md, "Conventions"): {"error", "message", "fields"?}."""


class ApiError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, message: str, fields: dict[str, list[str]] | None = None, **headers):
        super().__init__(message)
        self.message = message
        self.fields = fields
        self.headers = headers

    def body(self) -> dict:
        body = {"error": self.code, "message": self.message}
        if self.fields:
            body["fields"] = self.fields
        return body


class BadRequest(ApiError):
    status, code = 400, "bad_request"


class InvalidToken(ApiError):
    status, code = 401, "invalid_token"


class InsufficientScope(ApiError):
    status, code = 403, "insufficient_scope"


class NotFound(ApiError):
    status, code = 404, "not_found"


class IdempotencyConflict(ApiError):
    status, code = 409, "idempotency_conflict"


class ValidationFailed(ApiError):
    status, code = 422, "validation_failed"

    def __init__(self, fields: dict[str, list[str]], message: str | None = None):
        if message is None:
            message = "; ".join(f"{key} {', '.join(errs)}" for key, errs in fields.items())
        super().__init__(message, fields)


class RateLimited(ApiError):
    status, code = 429, "rate_limited"


class ServerError(ApiError):
    status, code = 500, "server_error"
