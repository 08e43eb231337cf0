"""Pages in English, Swedish and Ukrainian: the browser's language, or the one picked in the header."""

import gettext
import os
import re

import pytest
from django.utils import translation

from chargenet.templatetags.units import energy
from tests.browser import PHONE
from tests.support import CHROMIUM, REPO


@pytest.mark.django_db
def test_a_driver_whose_browser_asks_for_swedish_gets_swedish_pages(client, driver):
    client.force_login(driver.user)

    page = client.get("/account/", HTTP_ACCEPT_LANGUAGE="sv-SE,sv;q=0.9,en;q=0.5").text

    assert '<html lang="sv">' in page
    assert "Mina kort" in page and "Lägg till ett kort" in page and "Logga ut" in page


@pytest.mark.django_db
def test_the_language_picked_in_the_header_sticks_over_the_browsers(client, driver):
    client.force_login(driver.user)

    client.post("/i18n/setlang/", {"language": "uk", "next": "/account/"})
    page = client.get("/account/", HTTP_ACCEPT_LANGUAGE="sv").text

    assert '<html lang="uk">' in page and "Мої картки" in page


def test_numbers_use_the_languages_decimal_separator():
    with translation.override("sv"):
        assert energy(4200) == "4,20 kWh"
    with translation.override("en"):
        assert energy(4200) == "4.20 kWh"


@pytest.mark.parametrize("language", ["sv", "uk"])
def test_every_message_is_translated_and_compiled(language):
    po = REPO / "locale" / language / "LC_MESSAGES" / "django.po"
    text = po.read_text(encoding="utf-8")
    with open(po.with_suffix(".mo"), "rb") as mo:
        compiled = gettext.GNUTranslations(mo)

    entries = re.findall(r'^msgid "(.+)"\nmsgstr "(.*)"$', text, flags=re.MULTILINE)

    assert entries and [msgid for msgid, msgstr in entries if not msgstr] == []
    # The .mo the server reads says what the .po says (compilemessages was run after the last edit).
    assert [msgid for msgid, msgstr in entries if compiled.gettext(msgid) != msgstr] == []


@pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"no Chromium at {CHROMIUM}")
def test_on_a_phone_the_driver_switches_the_page_to_ukrainian(logged_in, live_server_url, driver):
    from playwright.sync_api import expect

    page = logged_in(driver.user, PHONE).new_page()
    page.goto(f"{live_server_url}/account/")
    expect(page.get_by_role("heading", name="My account")).to_be_visible()

    page.get_by_label("Language").select_option("uk")

    expect(page.get_by_role("heading", name="Мій обліковий запис")).to_be_visible()
    assert page.url.endswith("/account/")


@pytest.mark.django_db
def test_the_login_page_greets_a_ukrainian_browser_in_ukrainian(client):
    page = client.get("/login/", HTTP_ACCEPT_LANGUAGE="uk").text

    assert "Увійти" in page and "Забули пароль?" in page
