"""The first operator account: `createsuperuser` (docs/deployment.md) makes an admin; a user without a
role sees nothing until an admin gives one."""

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from chargenet.models import User
from chargenet.services import api_token_create

pytestmark = pytest.mark.django_db


def test_createsuperuser_makes_an_admin_whose_api_key_may_act(monkeypatch):
    # given: the operator follows docs/deployment.md
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "first-admin-pw-1")
    call_command("createsuperuser", interactive=False, username="root", email="root@example.com")
    # when: they make an API key and register a station with it
    key = api_token_create(username="root")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    response = client.post("/api/v1/stations/", {"identity": "CP-FIRST"}, format="json")
    # then
    assert User.objects.get(username="root").role == User.Role.ADMIN
    assert response.status_code == 201, response.content


def test_a_user_without_a_role_sees_no_operator_page_and_no_api(client):
    # given: an account made without a role (e.g. in the Django admin)
    User.objects.create_user(username="nadia", password="pw-nadia-1")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {api_token_create(username='nadia')}")
    client.login(username="nadia", password="pw-nadia-1")
    # then: nothing to see until an admin gives a role
    assert client.get("/").status_code == 403
    assert client.get("/dashboard/").status_code == 403
    assert api.get("/api/v1/stations/").status_code == 403
    assert api.get("/api/v1/sessions/").status_code == 403


def test_an_admin_can_give_a_user_without_a_role_one(admin_user):
    from chargenet.services import user_role_set

    nadia = User.objects.create_user(username="nadia", password="pw-nadia-1")
    user_role_set(user=nadia, role=User.Role.VIEWER, is_active=True)
    client = APIClient()
    client.force_authenticate(nadia)
    assert client.get("/api/v1/stations/").status_code == 200
