"""Brute force is slowed down: per source address and per account, on /login/, /admin/login/, API
keys and station Basic auth, with one audit record per lockout and no lockout of the real owner."""

import pytest
from django.test import Client, override_settings
from rest_framework.test import APIClient

from chargenet.api.models import AuditLog
from chargenet.api.services import api_key_create
from stations.models import SecurityEvent
from stations.services import StationAuthLocked, station_connect_authenticate, station_create

pytestmark = pytest.mark.django_db

ATTACKER = "203.0.113.9"
OWNER_HOME = "198.51.100.4"


def login(path: str, username: str, password: str, address: str = ATTACKER):
    return Client(REMOTE_ADDR=address).post(path, {"username": username, "password": password})


def lockouts(kind: str) -> int:
    return AuditLog.objects.filter(method="LOCKOUT", object_type=kind).count()


def test_ten_wrong_passwords_lock_the_account_with_a_clear_message_and_one_audit_record(operator):
    for _ in range(9):
        assert "didn't match" in login("/login/", "olivia", "wrong").content.decode()
    tenth = login("/login/", "olivia", "wrong")
    # then: the right password from the attacker's address is refused unchecked, with a message
    right = login("/login/", "olivia", "pw-olivia-1")
    assert "Too many failed sign-ins" in tenth.content.decode()
    assert right.status_code == 200 and "Too many failed sign-ins" in right.content.decode()
    assert "_auth_user_id" not in right.wsgi_request.session
    assert lockouts("signin-web-account") == 1


def test_the_owner_still_signs_in_from_where_they_signed_in_before(operator):
    # given: olivia signed in from home once; an attacker elsewhere locks her account
    assert login("/login/", "olivia", "pw-olivia-1", address=OWNER_HOME).status_code == 302
    for _ in range(12):
        login("/login/", "olivia", "wrong")
    # then: the attacker is locked out, olivia at home is not
    assert "Too many failed sign-ins" in login("/login/", "olivia", "pw-olivia-1").content.decode()
    assert login("/login/", "olivia", "pw-olivia-1", address=OWNER_HOME).status_code == 302


def test_the_admin_login_shares_the_count_with_the_dashboard_login(admin_user):
    for _ in range(5):
        login("/login/", "ada", "wrong")
    for _ in range(5):
        login("/admin/login/", "ada", "wrong")
    response = login("/admin/login/", "ada", "pw-ada-1")
    assert "Too many failed sign-ins" in response.content.decode()
    assert "_auth_user_id" not in response.wsgi_request.session


def test_many_accounts_tried_from_one_address_lock_that_address_only(operator):
    for number in range(30):
        login("/login/", f"guess{number}", "wrong")
    assert "Too many failed sign-ins" in login("/login/", "olivia", "pw-olivia-1").content.decode()
    assert login("/login/", "olivia", "pw-olivia-1", address="192.0.2.77").status_code == 302
    assert lockouts("signin-web-source") == 1


def test_invalid_api_keys_from_one_address_get_429_then_even_a_valid_key_waits(operator):
    _, key = api_key_create(user=operator, name="integration")
    attacker = APIClient(REMOTE_ADDR=ATTACKER)
    statuses = []
    for number in range(30):
        attacker.credentials(HTTP_AUTHORIZATION=f"Token invalid-{number}")
        statuses.append(attacker.get("/api/v1/stations/").status_code)
    attacker.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    refused = attacker.get("/api/v1/stations/")
    elsewhere = APIClient(REMOTE_ADDR="192.0.2.77")
    elsewhere.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert statuses[:29] == [401] * 29 and statuses[29] == 429
    assert refused.status_code == 429 and int(refused["Retry-After"]) > 0
    assert "Too many failed sign-ins" in refused.json()["error"]["message"]
    assert elsewhere.get("/api/v1/stations/").status_code == 200
    assert lockouts("signin-api-key-source") == 1


def test_wrong_station_passwords_lock_the_identity_and_stop_writing_security_events():
    station, password = station_create(identity="CP-BRUTE")

    def attempt(secret: bytes, address: str = ATTACKER):
        return station_connect_authenticate(
            identity="CP-BRUTE", username="CP-BRUTE", password=secret, remote_address=address
        )

    for _ in range(100):
        with pytest.raises(Exception):  # noqa: B017 (StationAuthError, then StationAuthLocked)
            attempt(b"wrong-password-123")
    with pytest.raises(StationAuthLocked):
        attempt(password.encode())
    # then: ten failures were recorded, then refusals without a check; one lockout each
    assert SecurityEvent.objects.filter(identity="CP-BRUTE").count() == 10
    assert lockouts("signin-station-account") == 1


def test_a_station_is_not_locked_out_of_the_address_it_connects_from():
    station, password = station_create(identity="CP-HOME")
    station_connect_authenticate(
        identity="CP-HOME", username="CP-HOME", password=password.encode(), remote_address=OWNER_HOME
    )
    for _ in range(15):
        with pytest.raises(Exception):  # noqa: B017
            station_connect_authenticate(
                identity="CP-HOME", username="CP-HOME", password=b"nope-nope-nope", remote_address=ATTACKER
            )
    assert (
        station_connect_authenticate(
            identity="CP-HOME", username="CP-HOME", password=password.encode(), remote_address=OWNER_HOME
        )
        == station
    )


@override_settings(SIGNIN_ACCOUNT_FAILURES=2)
def test_a_lockout_ends_when_its_time_is_up(operator):
    from django.core.cache import cache

    login("/login/", "olivia", "wrong")
    login("/login/", "olivia", "wrong")
    assert "Too many failed sign-ins" in login("/login/", "olivia", "pw-olivia-1").content.decode()
    # when: the lock's time is up (the cache entry expires; simulated without waiting)
    cache.delete("signin:web:account:olivia:locked")
    cache.delete("signin:web:source:203.0.113.9:locked")
    assert login("/login/", "olivia", "pw-olivia-1").status_code == 302
