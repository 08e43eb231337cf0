"""The Django admin is where support staff look things up: every page opens, none changes data."""

import pytest
from django.contrib import admin
from django.urls import reverse

from chargenet.models import User

# ChargeNet's own models; users are added here (their role is set on the users page).
LOOK_ONLY = [
    model
    for model in admin.site._registry
    if model._meta.app_label in {"chargenet", "rfid", "stations", "billing", "ocpi"} and model is not User
]


@pytest.mark.django_db
@pytest.mark.parametrize("model", LOOK_ONLY, ids=lambda model: model._meta.label)
def test_support_staff_can_open_each_list_but_not_add_a_row(client, sam, model):
    client.force_login(sam)
    opts = model._meta

    listing = client.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist"))
    adding = client.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_add"))

    assert listing.status_code == 200
    assert adding.status_code == 403


@pytest.mark.django_db
def test_support_staff_can_look_at_a_station_without_seeing_its_password_hash(client, sam):
    from stations.services import station_create

    station, _ = station_create(identity="CP-1")
    client.force_login(sam)

    page = client.get(reverse("admin:stations_station_change", args=[station.pk]))

    assert page.status_code == 200
    assert "CP-1" in page.text
    assert station.password_hash not in page.text


@pytest.mark.django_db
def test_a_users_role_is_not_changed_in_the_admin_but_on_the_users_page(client, sam, operator):
    client.force_login(sam)

    page = client.get(reverse("admin:chargenet_user_change", args=[operator.pk]))

    assert page.status_code == 200
    assert 'name="role"' not in page.text
