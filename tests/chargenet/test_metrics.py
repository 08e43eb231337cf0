"""Prometheus metrics at /metrics: what a monitoring system scrapes."""

import json
import logging

import pytest
from django.test import Client

from chargenet.logs import JsonFormatter
from chargenet.metrics import ocpp_frame_logged
from stations.models import Command
from tests.stations.dashboard.conftest import make_station


def _scrape(client: Client, **headers) -> tuple[int, str]:
    response = client.get("/metrics", **headers)
    return response.status_code, response.content.decode()


def _value(text: str, name: str) -> float:
    line = next(
        line for line in text.splitlines() if line.startswith(name + " ") or line.startswith(name + "{")
    )
    return float(line.rsplit(" ", 1)[1])


@pytest.mark.django_db
def test_metrics_count_connected_stations_commands_frames_and_answer_times(client):
    # given two stations, one connected, a command that was accepted, and a BootNotification answered
    station = make_station("MET-1")
    make_station("MET-2", online=False)
    Command.objects.create(station=station, action="Reset", payload={}, status=Command.Status.ACCEPTED)
    connection = object()
    for direction, kind in (("in", 2), ("out", 3)):
        ocpp_frame_logged(
            connection=connection,
            direction=direction,
            message_type=kind,
            message_id="b1",
            action="BootNotification",
        )

    # when Prometheus scrapes
    status, text = _scrape(client)

    # then
    assert status == 200
    assert _value(text, "chargenet_stations_connected") == 1
    assert 'chargenet_commands{status="accepted"} 1.0' in text
    assert 'chargenet_ocpp_messages_total{action="BootNotification",direction="in",kind="call"}' in text
    assert 'chargenet_ocpp_call_handling_seconds_count{action="BootNotification"}' in text
    assert _value(text, "chargenet_celery_broker_up") == 1
    assert "chargenet_celery_queue_depth{" in text
    assert _value(text, "chargenet_ocpi_pushes_pending") == 0


@pytest.mark.django_db
def test_a_station_cannot_invent_metric_labels():
    ocpp_frame_logged(
        connection=object(), direction="in", message_type=2, message_id="x", action="MakeMeALabel"
    )

    _, text = _scrape(Client())

    assert "MakeMeALabel" not in text and 'action="other"' in text


@pytest.mark.django_db
def test_with_a_token_set_only_a_scraper_that_sends_it_gets_metrics(client, settings):
    settings.METRICS_TOKEN = "scrape-me-0123456789"

    assert _scrape(client)[0] == 403
    assert _scrape(client, HTTP_AUTHORIZATION="Bearer wrong")[0] == 403
    assert _scrape(client, HTTP_AUTHORIZATION="Bearer scrape-me-0123456789")[0] == 200


@pytest.mark.django_db
def test_without_a_token_only_this_machine_may_scrape(client):
    assert _scrape(client, REMOTE_ADDR="203.0.113.9")[0] == 403


def test_json_logs_are_one_object_per_line_with_the_extra_fields_and_the_exception():
    try:
        raise ValueError("bad meter value")
    except ValueError:
        record = logging.LogRecord(
            "stations", logging.ERROR, __file__, 1, "station %s", ("CP-1",), exc_info=True
        )
        import sys

        record.exc_info = sys.exc_info()
    record.station = "CP-1"

    line = JsonFormatter().format(record)

    entry = json.loads(line)
    assert "\n" not in line
    assert (entry["level"], entry["logger"], entry["message"], entry["station"]) == (
        "ERROR",
        "stations",
        "station CP-1",
        "CP-1",
    )
    assert "ValueError: bad meter value" in entry["exception"]
