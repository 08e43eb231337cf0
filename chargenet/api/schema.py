"""OpenAPI generation: every operation documents the error responses it can give, in our format."""

from drf_spectacular.openapi import AutoSchema

from chargenet.api.exceptions import ErrorSerializer

ERRORS_ALWAYS = {
    "400": "Invalid input or query parameters (`validation_error`, `parse_error`).",
    "401": "No or an invalid API key (`not_authenticated`, `authentication_failed`).",
    "403": "The user's role or the key's role does not allow this (`permission_denied`).",
    "404": "No such object, or not one of yours (`not_found`); also an invalid page cursor.",
    "429": "Too many requests for this API key (`throttled`); see `Retry-After`.",
}
ERRORS_ON_WRITE = {
    "409": "The request was understood but the current state refuses it "
    "(`station_refused`, `command_refused`, `id_token_refused`, `billing_refused`, "
    "`idempotency_key_reused`, …).",
    "415": "The body is not JSON (`unsupported_media_type`).",
}


class ApiAutoSchema(AutoSchema):
    """AutoSchema that adds the shared error responses to every operation."""

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction=direction)
        if direction != "response":
            return responses
        errors = dict(ERRORS_ALWAYS)
        if self.method in ("POST", "PUT", "PATCH", "DELETE"):
            errors.update(ERRORS_ON_WRITE)
        for code, description in errors.items():
            if code not in responses:
                response = self._get_response_for_code(ErrorSerializer, code)
                response["description"] = description
                responses[code] = response
        return responses
