"""The base of every API view: authentication, throttling, errors, audit and idempotency."""

import json
import logging
from typing import TYPE_CHECKING

from rest_framework import permissions
from rest_framework.authentication import SessionAuthentication
from rest_framework.exceptions import ValidationError
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from chargenet.api.authentication import ApiKeyAuthentication
from chargenet.api.exceptions import api_exception_handler
from chargenet.api.models import ApiKey
from chargenet.api.pagination import ApiLimitOffsetPagination
from chargenet.api.schema import ApiAutoSchema
from chargenet.api.services import audit_record, idempotency_begin, idempotency_finish
from chargenet.api.throttling import ApiKeyRateThrottle

logger = logging.getLogger(__name__)

IDEMPOTENCY_HEADER = "Idempotency-Key"


def _has_nul(value) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


if TYPE_CHECKING:
    from rest_framework.views import APIView as _MixinBase  # the views it is mixed into
else:
    _MixinBase = object


# Mixed into every API view (APIView or a generic view). No docstring on purpose: drf-spectacular
# would show it as the description of every operation whose view has none.
class ApiMixin(_MixinBase):
    authentication_classes = [ApiKeyAuthentication, SessionAuthentication]
    throttle_classes = [ApiKeyRateThrottle]
    # DRF's default LimitOffsetPagination has no max_limit: ?limit=10**40 reached the database (a 500).
    pagination_class = ApiLimitOffsetPagination
    schema = ApiAutoSchema()
    # What the audit log calls the object a write acts on, and which URL argument names it.
    audit_object_type = ""
    audit_lookup = ""

    def get_exception_handler(self):
        return api_exception_handler

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        # NUL cannot be stored in PostgreSQL text or jsonb: refuse it as bad input, not a 500.
        if _has_nul(request.path) or _has_nul(dict(request.query_params)):
            raise ValidationError({"non_field_errors": ["NUL characters are not allowed."]})
        if request.method not in permissions.SAFE_METHODS and _has_nul(request.data):
            raise ValidationError({"non_field_errors": ["NUL characters are not allowed."]})

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        if request.method not in permissions.SAFE_METHODS and request.user.is_authenticated:
            try:
                self._audit(request, response, kwargs)
            except Exception:
                logger.exception("could not write the audit log for %s %s", request.method, request.path)
        return response

    def _audit(self, request, response, kwargs) -> None:
        object_id = kwargs.get(self.audit_lookup, "") if self.audit_lookup else ""
        data = getattr(response, "data", None)
        if not object_id and isinstance(data, dict):
            object_id = data.get("identity") or data.get("id") or ""
        audit_record(
            user=request.user,
            api_key=request.auth if isinstance(request.auth, ApiKey) else None,
            method=request.method,
            path=request.get_full_path(),
            status_code=response.status_code,
            object_type=self.audit_object_type,
            object_id=str(object_id),
        )

    def idempotent(self, request, handler) -> Response:
        """Serve `handler()` once per Idempotency-Key and user; retries get the first response."""
        key = request.headers.get(IDEMPOTENCY_HEADER, "").strip()
        if not key:
            return handler()
        if len(key) > 100:
            raise ValidationError({IDEMPOTENCY_HEADER: ["must be at most 100 characters"]})
        body = json.dumps(request.data, sort_keys=True, default=str).encode()
        record = idempotency_begin(
            user=request.user, key=key, method=request.method, path=request.path, body=body
        )
        if record is not None:
            return Response(
                record.response, status=record.status_code, headers={"Idempotent-Replayed": "true"}
            )
        try:
            try:
                response = handler()
            except Exception as exc:
                response = self.handle_exception(exc)
        except BaseException:
            # A crash (500) releases the key so that the client's retry is served afresh.
            idempotency_finish(user=request.user, key=key, status_code=500, response=None)
            raise
        data = json.loads(JSONRenderer().render(response.data)) if response.data is not None else None
        idempotency_finish(user=request.user, key=key, status_code=response.status_code, response=data)
        return response


class ApiView(ApiMixin, APIView):
    pass
