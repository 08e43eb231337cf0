"""Operators' e-mail alerts: opt in on the Alerts page; one mail per alert occurrence, sent by a
Celery task after the event's transaction commits (Django's locmem mail backend)."""

from datetime import timedelta

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from chargenet.celery import app as celery_app
from stations import services
from stations.alerts.services import alert_acknowledge, alert_list, alert_mail_set
from stations.models import AlertMailPreference, Connector, Station
from stations.tasks import alert_mail_task
from tests.stations.dashboard.conftest import connector_status_set, make_station


@pytest.fixture(autouse=True)
def locmem_mail_and_eager_tasks(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = False


@pytest.fixture
def olivia(operator):
    operator.email = "olivia@example.com"
    operator.save()
    alert_mail_set(user=operator, enabled=True)
    return operator


@pytest.fixture
def ada(admin_user):
    admin_user.email = "ada@example.com"
    admin_user.save()
    alert_mail_set(user=admin_user, enabled=True)
    return admin_user


def _fault(station, django_capture_on_commit_callbacks, error_code="HighTemperature"):
    connector = Connector.objects.filter(evse__station=station).select_related("evse").first()
    with django_capture_on_commit_callbacks(execute=True):
        connector_status_set(connector=connector, status="Faulted", error_code=error_code)
    return connector


def test_a_connector_fault_mails_each_opted_in_operator_once_however_often_the_station_repeats_it(
    olivia, ada, viewer, django_capture_on_commit_callbacks
):
    station = make_station("CP-1")

    # when the connector faults, and the station reports the fault twice more
    _fault(station, django_capture_on_commit_callbacks)
    _fault(station, django_capture_on_commit_callbacks)
    _fault(station, django_capture_on_commit_callbacks, error_code="GroundFailure")
    alert_mail_task()  # the periodic run finds nothing new either

    # then each opted-in operator got one mail (the viewer did not opt in), naming station and fault
    assert sorted(m.to[0] for m in mail.outbox) == ["ada@example.com", "olivia@example.com"]
    assert all(len(m.to) == 1 for m in mail.outbox)
    assert mail.outbox[0].subject == "[ChargeNet] CP-1: EVSE 1 connector 1 faulted"
    assert "/alerts/" in mail.outbox[0].body


def test_a_fault_that_clears_and_comes_back_is_mailed_again(olivia, django_capture_on_commit_callbacks):
    station = make_station("CP-1")
    connector = _fault(station, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        connector_status_set(connector=connector, status="Available")

    _fault(station, django_capture_on_commit_callbacks)

    assert len(mail.outbox) == 2


def test_an_acknowledged_fault_stays_acknowledged_when_the_station_repeats_it(
    operator, django_capture_on_commit_callbacks
):
    station = make_station("CP-1")
    _fault(station, django_capture_on_commit_callbacks)
    (alert,) = alert_list()
    alert_acknowledge(
        kind=alert.kind, object_id=alert.object_id, occurred_at=alert.occurred_key, note="", user=operator
    )

    _fault(station, django_capture_on_commit_callbacks)

    assert alert_list(include_acknowledged=False) == []


def test_a_station_silent_past_the_offline_limit_is_mailed_by_the_periodic_run(olivia, settings):
    settings.ALERT_OFFLINE_MINUTES = 15
    quiet = make_station("QUIET-1", online=False)
    Station.objects.filter(pk=quiet.pk).update(last_seen_at=timezone.now() - timedelta(minutes=10))
    assert alert_mail_task() == 0  # not yet past the limit

    Station.objects.filter(pk=quiet.pk).update(last_seen_at=timezone.now() - timedelta(minutes=20))
    alert_mail_task()
    alert_mail_task()

    (message,) = mail.outbox
    assert message.subject == "[ChargeNet] QUIET-1: Station offline"


def test_a_refused_boot_and_a_security_event_are_mailed_together_after_commit(
    olivia, django_capture_on_commit_callbacks
):
    station = make_station("CP-9", registration_status=Station.RegistrationStatus.REJECTED)
    Station.objects.filter(pk=station.pk).update(last_boot_at=timezone.now())

    with django_capture_on_commit_callbacks(execute=True):
        services.security_event_record(
            identity="CP-9", station=station, type="InvalidCentralSystemCertificate"
        )

    (message,) = mail.outbox
    assert message.subject == "[ChargeNet] 2 new alerts"
    assert "Boot answered Rejected" in message.body and "InvalidCentralSystemCertificate" in message.body


def test_nobody_is_mailed_who_did_not_opt_in_or_turned_it_off(olivia, django_capture_on_commit_callbacks):
    alert_mail_set(user=olivia, enabled=False)

    _fault(make_station("CP-1"), django_capture_on_commit_callbacks)

    assert mail.outbox == []


def test_an_operator_turns_alert_mail_on_and_off_on_the_alerts_page(client, operator, viewer):
    client.force_login(operator)
    refused = client.post(reverse("alert-mail"), {"enabled": "on"}, follow=True).content.decode()
    assert "Add an e-mail address to your account first." in refused
    assert not AlertMailPreference.objects.filter(enabled=True).exists()

    operator.email = "olivia@example.com"
    operator.save()
    page = client.post(reverse("alert-mail"), {"enabled": "on"}, follow=True).content.decode()
    assert "New alerts will be e-mailed to olivia@example.com." in page
    assert 'name="enabled" checked' in page

    client.post(reverse("alert-mail"), {})
    assert not AlertMailPreference.objects.get(user=operator).enabled

    # viewers may opt in too (it changes nothing but their own mail); drivers may not
    viewer.email = "victor@example.com"
    viewer.save()
    client.force_login(viewer)
    client.post(reverse("alert-mail"), {"enabled": "on"})
    assert AlertMailPreference.objects.get(user=viewer).enabled


def test_a_driver_cannot_opt_in_to_alert_mail(client, driver):
    client.force_login(driver.user)

    assert client.post(reverse("alert-mail"), {"enabled": "on"}).status_code == 403
    assert not AlertMailPreference.objects.exists()


def test_each_operator_reads_the_alert_mail_in_their_own_language(
    olivia, ada, django_capture_on_commit_callbacks
):
    # given Olivia chose Swedish; Ada chose nothing (the site's English)
    olivia.language = "sv"
    olivia.save()
    station = make_station("CP-1")

    _fault(station, django_capture_on_commit_callbacks)

    mails = {m.to[0]: m for m in mail.outbox}
    assert "Nya larm i ChargeNet:" in mails["olivia@example.com"].body
    assert "(Uttag i fel," in mails["olivia@example.com"].body
    assert "New alerts in ChargeNet:" in mails["ada@example.com"].body
