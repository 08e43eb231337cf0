"""API keys: created hashed, shown once, scoped by role, revocable, audited and throttled per key."""

import io

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from chargenet.api.models import ApiKey, AuditLog
from chargenet.api.services import api_key_create, api_key_digest, api_key_revoke

pytestmark = pytest.mark.django_db


def _client(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def test_create_api_token_prints_a_key_that_authenticates_and_is_stored_only_as_a_digest(operator):
    out = io.StringIO()
    call_command("create_api_token", operator.username, stdout=out)
    key = out.getvalue().strip()

    response = _client(key).get("/api/v1/stations/")

    assert response.status_code == 200
    stored = ApiKey.objects.get(user=operator)
    assert stored.key_hash == api_key_digest(key)
    assert key not in (stored.key_hash, stored.prefix)
    assert stored.role == ApiKey.Role.OPERATE


def test_create_api_token_gives_a_viewer_a_read_only_key(viewer):
    out = io.StringIO()
    call_command("create_api_token", viewer.username, stdout=out)

    assert ApiKey.objects.get(user=viewer).role == ApiKey.Role.READ


def test_an_unknown_or_revoked_key_is_refused_with_401(operator):
    api_key, key = api_key_create(user=operator, name="ci")
    api_key_revoke(api_key=api_key)

    for client in (_client(key), _client("cn_not-a-key")):
        response = client.get("/api/v1/stations/")
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "authentication_failed"
        assert response.headers["WWW-Authenticate"] == "Token"


def test_anonymous_requests_are_refused_with_the_error_format(anonymous):
    response = anonymous.get("/api/v1/sessions/")

    assert response.status_code == 401
    assert response.json() == {
        "error": {"code": "not_authenticated", "message": "Authentication credentials were not provided."}
    }


def test_a_read_only_key_of_an_operator_cannot_write_and_the_refusal_is_audited(operator_read_key_api):
    response = operator_read_key_api.post("/api/v1/stations/", {"identity": "CP-9"}, format="json")

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"
    log = AuditLog.objects.get()
    assert (log.method, log.path, log.status_code) == ("POST", "/api/v1/stations/", 403)
    assert log.api_key.role == ApiKey.Role.READ


def test_every_write_is_audited_with_user_key_and_object(operator, operator_api):
    response = operator_api.post("/api/v1/stations/", {"identity": "CP-7"}, format="json")
    operator_api.patch("/api/v1/stations/CP-7/", {"name": "Level 2"}, format="json")
    operator_api.get("/api/v1/stations/CP-7/")

    assert response.status_code == 201
    logs = list(AuditLog.objects.order_by("id"))
    assert [(log.method, log.object_type, log.object_id, log.status_code) for log in logs] == [
        ("POST", "station", "CP-7", 201),
        ("PATCH", "station", "CP-7", 200),
    ]
    assert {log.user for log in logs} == {operator}
    assert all(log.api_key is not None for log in logs)


def test_a_user_lists_creates_and_revokes_their_own_keys_through_the_api(operator_api, viewer_api):
    created = operator_api.post("/api/v1/api-keys/", {"name": "fleet app", "role": "read"}, format="json")
    key = created.json()["key"]
    key_id = created.json()["id"]

    assert created.status_code == 201
    assert _client(key).get("/api/v1/stations/").status_code == 200
    assert viewer_api.get(f"/api/v1/api-keys/{key_id}/").status_code == 404
    assert "key" not in operator_api.get(f"/api/v1/api-keys/{key_id}/").json()

    assert operator_api.delete(f"/api/v1/api-keys/{key_id}/").status_code == 204
    assert _client(key).get("/api/v1/stations/").status_code == 401


def test_the_settings_page_shows_a_new_key_once_and_revokes_it(client, viewer):
    client.force_login(viewer)

    page = client.post("/settings/api-keys/", {"name": "grafana", "role": "read"})
    key = page.context["new_key"]

    assert key.startswith("cn_") and key in page.content.decode()
    assert key not in client.get("/settings/api-keys/").content.decode()
    api_key = ApiKey.objects.get(user=viewer)
    client.post(f"/settings/api-keys/{api_key.pk}/revoke/")
    assert _client(key).get("/api/v1/stations/").status_code == 401


def test_another_users_key_cannot_be_revoked_from_the_settings_page(client, viewer, operator):
    api_key, key = api_key_create(user=operator, name="mine")
    client.force_login(viewer)

    response = client.post(f"/settings/api-keys/{api_key.pk}/revoke/")

    assert response.status_code == 404
    assert _client(key).get("/api/v1/stations/").status_code == 200


def test_requests_are_throttled_per_key_not_per_user(operator, settings):
    from django.core.cache import cache

    cache.clear()
    settings.API_THROTTLE_RATE = "3/min"
    first = _client(api_key_create(user=operator, name="a")[1])
    second = _client(api_key_create(user=operator, name="b")[1])

    statuses = [first.get("/api/v1/stations/").status_code for _ in range(4)]
    throttled = first.get("/api/v1/stations/")

    assert statuses == [200, 200, 200, 429]
    assert throttled.json()["error"]["code"] == "throttled"
    assert int(throttled.headers["Retry-After"]) > 0
    assert second.get("/api/v1/stations/").status_code == 200
    cache.clear()


def test_a_huge_limit_is_capped_instead_of_reaching_the_database(operator_api):
    response = operator_api.get("/api/v1/api-keys/?limit=105016823324255945462399871935232640391")

    assert response.status_code == 200
    assert response.json()["count"] == 1
