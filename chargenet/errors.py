"""The base of every domain error: a business rule refused an action.

Apps subclass `DomainError` for their own refusals and say how an interface reports them, so the
foundation maps every app's errors without importing any app: the REST API answers `api_status`
with `{"error": {"code": api_code, "message": str(error)}}` (chargenet.api.exceptions).
"""


class DomainError(Exception):
    """A business rule refused an action; the message says why in words a person understands."""

    api_status: int = 409
    api_code: str = "refused"
