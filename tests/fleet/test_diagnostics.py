"""Diagnostics and log requests: the command each station gets, one-time upload URLs, size limits,
status notifications, retention; over the API and the station-facing upload endpoint."""

from datetime import timedelta

import pytest
from django.test import override_settings
from django.utils import timezone

from fleet import services
from fleet.models import DiagnosticsRequest
from stations.models import Command, Station


@pytest.fixture
def station(db):
    return Station.objects.create(identity="DG-1", vendor="Alfen", model="Eve")


def upload_path(request: DiagnosticsRequest) -> str:
    command = Command.objects.get(pk=request.command_id)
    location = command.payload.get("location") or command.payload["log"]["remoteLocation"]
    return "/" + location.split("://", 1)[1].split("/", 1)[1]


def test_the_api_collects_diagnostics_from_a_16_station_with_a_one_time_upload_url(operator_api, station):
    response = operator_api.post(
        "/api/v1/stations/DG-1/diagnostics/",
        {"since": "2026-01-01T00:00:00Z", "until": "2026-01-02T00:00:00Z"},
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["kind"] == "diagnostics" and body["status"] == "requested" and body["download_url"] is None
    command = Command.objects.get(station=station)
    assert command.action == "GetDiagnostics"
    assert command.payload["startTime"] == "2026-01-01T00:00:00Z"
    assert "/fleet/uploads/" in command.payload["location"]


def test_a_201_station_is_asked_for_its_log(operator_api, station):
    Station.objects.filter(pk=station.pk).update(ocpp_version="2.0.1")
    response = operator_api.post(
        "/api/v1/stations/DG-1/diagnostics/", {"log_type": "SecurityLog"}, format="json"
    )
    assert response.status_code == 201, response.content
    command = Command.objects.get(station=station)
    assert command.action == "GetLog" and command.payload["logType"] == "SecurityLog"
    assert command.payload["requestId"] == DiagnosticsRequest.objects.get().request_id


def test_a_window_that_ends_before_it_starts_is_refused_and_nothing_is_sent(operator_api, station):
    response = operator_api.post(
        "/api/v1/stations/DG-1/diagnostics/",
        {"since": "2026-01-02T00:00:00Z", "until": "2026-01-01T00:00:00Z"},
        format="json",
    )
    assert response.status_code == 400 and "end after it starts" in response.json()["error"]["message"]
    assert not DiagnosticsRequest.objects.exists() and not Command.objects.exists()


@override_settings(FLEET_FTP_ENABLED=False)
def test_ftp_is_refused_while_the_ftp_server_is_off(operator_api, station):
    response = operator_api.post("/api/v1/stations/DG-1/diagnostics/", {"transport": "ftp"}, format="json")
    assert response.status_code == 400 and "FTP" in response.json()["error"]["message"]


def test_a_station_uploads_once_by_put_and_the_file_is_downloadable(client, operator_api, station):
    request = services.diagnostics_collect(station=station)
    path = upload_path(request)

    response = client.put(
        path + "diag.log", data=b"line 1\nline 2\n", content_type="application/octet-stream"
    )
    assert response.status_code == 201

    request.refresh_from_db()
    assert request.status == "received" and request.file_name == "diag.log" and request.size == 14
    again = client.put(path + "diag.log", data=b"other", content_type="application/octet-stream")
    assert again.status_code == 403 and b"already used" in again.content
    download = operator_api.get(f"/api/v1/diagnostics/{request.uuid}/file/")
    assert download.status_code == 200 and b"".join(download.streaming_content) == b"line 1\nline 2\n"
    detail = operator_api.get(f"/api/v1/diagnostics/{request.uuid}/").json()
    assert detail["download_url"].endswith(f"/api/v1/diagnostics/{request.uuid}/file/")


def test_a_multipart_post_is_received(client, station):
    from django.core.files.uploadedfile import SimpleUploadedFile

    request = services.diagnostics_collect(station=station)
    response = client.post(upload_path(request), {"file": SimpleUploadedFile("box.zip", b"PK..")})
    assert response.status_code == 201
    request.refresh_from_db()
    assert request.file_name == "box.zip" and request.file.read() == b"PK.."


@override_settings(FLEET_UPLOAD_MAX_BYTES=10)
def test_an_oversize_upload_is_refused_and_nothing_is_stored(client, station):
    request = services.diagnostics_collect(station=station)
    response = client.put(
        upload_path(request) + "big.log", data=b"x" * 11, content_type="application/octet-stream"
    )
    assert response.status_code == 413
    request.refresh_from_db()
    assert request.status == "requested" and not request.file and request.secret_hash  # still usable


def test_a_wrong_or_expired_token_is_refused(client, station):
    request = services.diagnostics_collect(station=station)
    path = upload_path(request)
    wrong = path.rstrip("/").rsplit("/", 1)[0] + "/not-the-secret/"
    assert client.put(wrong + "a.log", data=b"x", content_type="text/plain").status_code == 403
    DiagnosticsRequest.objects.filter(pk=request.pk).update(
        secret_expires_at=timezone.now() - timedelta(seconds=1)
    )
    assert client.put(path + "a.log", data=b"x", content_type="text/plain").status_code == 403


def test_status_notifications_follow_the_request_and_a_failure_closes_its_upload(station):
    request = services.diagnostics_collect(station=station)
    services.diagnostics_station_report(
        station_id=station.pk, kind="diagnostics", status="Uploading", request_id=None
    )
    request.refresh_from_db()
    assert request.status == "uploading"
    services.diagnostics_station_report(
        station_id=station.pk, kind="diagnostics", status="Sideways", request_id=None
    )
    request.refresh_from_db()
    assert request.status == "uploading" and "unknown status 'Sideways'" in request.error
    services.diagnostics_station_report(
        station_id=station.pk, kind="diagnostics", status="UploadFailed", request_id=None
    )
    request.refresh_from_db()
    assert request.status == "failed" and request.secret_hash == ""


def test_old_diagnostics_are_pruned_with_their_files(client, station):
    request = services.diagnostics_collect(station=station)
    client.put(upload_path(request) + "old.log", data=b"old", content_type="text/plain")
    request.refresh_from_db()
    storage, name = request.file.storage, request.file.name
    DiagnosticsRequest.objects.filter(pk=request.pk).update(created_at=timezone.now() - timedelta(days=31))

    assert services.diagnostics_prune(older_than_days=30) == 1
    assert not DiagnosticsRequest.objects.exists() and not storage.exists(name)
