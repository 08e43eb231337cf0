"""403, 404 and 500 in the site's layout; an ordinary refusal logs one line, not a traceback."""

import io
import logging

import pytest
from django.test import override_settings
from django.urls import path

from chargenet import urls as project_urls
from chargenet.logs import ClientErrorsBrief


def _broken(request):
    raise RuntimeError("a bug")


urlpatterns = [path("broken/", _broken), *project_urls.urlpatterns]


@pytest.fixture
def console():
    """What the console handler writes while the test runs."""
    handler = next(
        h for h in logging.getLogger().handlers if any(isinstance(f, ClientErrorsBrief) for f in h.filters)
    )
    stream = io.StringIO()
    previous = handler.setStream(stream)
    yield stream
    handler.setStream(previous)


@pytest.mark.parametrize("debug", [False, True], ids=["production", "embedded (DEBUG)"])
def test_an_unknown_page_is_a_404_in_the_sites_layout(client, operator, debug, settings):
    settings.DEBUG = debug
    client.force_login(operator)

    response = client.get("/no-such-page/")

    assert response.status_code == 404
    assert 'class="topbar"' in response.text and "Not found" in response.text
    assert "/no-such-page/" in response.text and "URLconf" not in response.text


def test_a_driver_on_an_operator_page_gets_a_403_in_the_layout_and_the_log_gets_one_line(
    client, driver, console
):
    client.force_login(driver.user)

    response = client.get("/stations/")

    assert response.status_code == 403
    assert 'class="topbar"' in response.text and "Operators only." in response.text
    assert "Forbidden (Permission denied): /stations/" in console.getvalue()
    assert "Traceback" not in console.getvalue()


@override_settings(ROOT_URLCONF=__name__)
def test_a_bug_is_a_500_in_the_layout_and_its_traceback_is_logged(client, console):
    client.raise_request_exception = False

    response = client.get("/broken/")

    assert response.status_code == 500
    assert 'class="topbar"' in response.text and "Something went wrong" in response.text
    assert "RuntimeError: a bug" not in response.text
    assert "Traceback" in console.getvalue() and "RuntimeError: a bug" in console.getvalue()
