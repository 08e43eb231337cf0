"""Pages in English, Swedish and Ukrainian: the browser's language, or the one picked in the header."""

import ast
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


def _po_entries(text: str) -> list[dict]:
    """The entries of a .po file: flags, msgid, msgid_plural and the msgstr(s), continuation lines
    joined and escapes undone (the header, msgid "", is left out)."""
    entries = []
    for block in text.split("\n\n"):
        entry: dict = {"flags": "", "msgstr": {}}
        key = None
        for line in block.splitlines():
            if line.startswith("#,"):
                entry["flags"] += line
            elif line.startswith("#"):
                continue
            elif match := re.match(r'^(msgctxt|msgid|msgid_plural|msgstr(?:\[(\d+)\])?) (".*")$', line):
                key = (match.group(1), match.group(2))
                _po_append(entry, key, match.group(3))
            elif line.startswith('"') and key:
                _po_append(entry, key, line)
        if entry.get("msgid"):
            entries.append(entry)
    return entries


def _po_append(entry: dict, key: tuple, quoted: str) -> None:
    name, index = key
    value = ast.literal_eval(quoted)
    if name.startswith("msgstr"):
        entry["msgstr"][int(index or 0)] = entry["msgstr"].get(int(index or 0), "") + value
    else:
        entry[name] = entry.get(name, "") + value


@pytest.mark.parametrize("language", ["sv", "uk"])
def test_every_message_is_translated_and_compiled(language):
    po = REPO / "locale" / language / "LC_MESSAGES" / "django.po"
    entries = _po_entries(po.read_text(encoding="utf-8"))
    with open(po.with_suffix(".mo"), "rb") as mo:
        compiled = gettext.GNUTranslations(mo)

    # Every message has a translation (every plural form too), and none is left fuzzy.
    assert len(entries) > 500
    assert [e["msgid"] for e in entries if not e["msgstr"] or not all(e["msgstr"].values())] == []
    assert [e["msgid"] for e in entries if "fuzzy" in e["flags"]] == []
    # Placeholders survive translation.
    placeholders = re.compile(r"%\(\w+\)s|%%")
    assert [
        e["msgid"]
        for e in entries
        for msgstr in e["msgstr"].values()
        if sorted(placeholders.findall(msgstr)) != sorted(placeholders.findall(e["msgid"]))
    ] == []
    # The .mo the server reads says what the .po says (compilemessages was run after the last edit).
    singular = [e for e in entries if "msgid_plural" not in e]
    assert [
        e["msgid"]
        for e in singular
        if (compiled.pgettext(e["msgctxt"], e["msgid"]) if "msgctxt" in e else compiled.gettext(e["msgid"]))
        != e["msgstr"][0]
    ] == []


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


# One page per area and a string on it, with its Swedish and Ukrainian translations.
OPERATOR_PAGES = [
    ("/dashboard/", "Network overview", "Nätöversikt", "Огляд мережі"),
    ("/stations/", "Register a station", "Registrera en station", "Зареєструвати станцію"),
    ("/sessions/", "No sessions match.", "Inga laddningar matchar.", "Жоден сеанс не відповідає."),
    ("/alerts/", "Faults and alerts", "Fel och larm", "Несправності та сповіщення"),
    ("/billing/tariffs/", "No tariffs.", "Inga taxor.", "Тарифів немає."),
    ("/billing/cdrs/", "Priced sessions", "Prissatta laddningar", "Оцінені сеанси"),
    (
        "/billing/invoices/",
        "Invoice a period now",
        "Fakturera en period nu",
        "Виставити рахунки за період зараз",
    ),
    ("/cards/", "No cards match.", "Inga kort matchar.", "Жодна картка не відповідає."),
    ("/no-such-page/", "Not found", "Hittades inte", "Не знайдено"),
    ("/fleet/", "Firmware and diagnostics", "Firmware och diagnostik", "Прошивка та діагностика"),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("url", "english", "swedish", "ukrainian"), OPERATOR_PAGES)
def test_the_operators_pages_speak_swedish_and_ukrainian(client, operator, url, english, swedish, ukrainian):
    client.force_login(operator)

    pages = {language: client.get(url, HTTP_ACCEPT_LANGUAGE=language).text for language in ("en", "sv", "uk")}

    assert english in pages["en"]
    assert swedish in pages["sv"] and english not in pages["sv"]
    assert ukrainian in pages["uk"] and english not in pages["uk"]


@pytest.mark.django_db
def test_a_stations_page_speaks_swedish_and_ukrainian(client, operator):
    from stations.services import station_create

    station_create(identity="LANG-1", evses=1)
    client.force_login(operator)

    pages = {
        language: client.get("/stations/LANG-1/", HTTP_ACCEPT_LANGUAGE=language).text
        for language in ("en", "sv", "uk")
    }

    for english, swedish, ukrainian in [
        ("Configuration keys", "Konfigurationsnycklar", "Ключі конфігурації"),
        ("Message log", "Meddelandelogg", "Журнал повідомлень"),
        ("Current sessions", "Pågående sessioner", "Поточні сеанси"),
    ]:
        assert english in pages["en"]
        assert swedish in pages["sv"] and english not in pages["sv"]
        assert ukrainian in pages["uk"] and english not in pages["uk"]


@pytest.mark.django_db
def test_a_forbidden_page_says_so_in_the_viewers_language(client, driver):
    client.force_login(driver.user)

    page = client.get("/stations/", HTTP_ACCEPT_LANGUAGE="uk")

    assert page.status_code == 403 and "Доступ заборонено" in page.text


@pytest.mark.django_db
def test_a_message_after_an_action_is_in_the_viewers_language(client, operator):
    from rfid.services import id_token_create

    card = id_token_create(uid="CARD0001")
    client.force_login(operator)

    page = client.post(f"/cards/{card.pk}/block/", HTTP_ACCEPT_LANGUAGE="sv", follow=True).text

    assert "Kortet CARD0001 är spärrat." in page


@pytest.mark.django_db
def test_a_driver_who_signs_up_in_swedish_gets_the_confirmation_mail_in_swedish(
    client, mailoutbox, django_capture_on_commit_callbacks
):
    # The mail goes out after the sign-up's transaction, from the durable event: the language travels with it.
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            "/signup/",
            {"name": "Eva", "email": "eva@example.com", "password": "charge-my-car-2024"},
            HTTP_ACCEPT_LANGUAGE="sv",
        )

    assert mailoutbox[0].subject == "Bekräfta ditt ChargeNet-konto"
    assert mailoutbox[0].body.startswith("Hej Eva,") and "/signup/" in mailoutbox[0].body


@pytest.mark.django_db
def test_a_guest_at_a_charger_reads_its_page_in_the_phones_language(client):
    from stations.models import Connector, Evse, Location, Station

    station = Station.objects.create(identity="CP-1", location=Location.objects.create(name="Harbour"))
    Connector.objects.create(evse=Evse.objects.create(station=station, evse_id=1), connector_id=1)

    pages = {
        language: client.get("/pay/CP-1/1/", HTTP_ACCEPT_LANGUAGE=language).text
        for language in ("en", "sv", "uk")
    }

    assert "Charge at Harbour" in pages["en"] and "No public price is set for this charger." in pages["en"]
    assert (
        "Ladda vid Harbour" in pages["sv"]
        and "Inget publikt pris är satt för den här laddaren." in pages["sv"]
    )
    assert (
        "Заряджання на Harbour" in pages["uk"]
        and "Для цього зарядного пристрою не встановлено" in pages["uk"]
    )
    assert "Charge at" not in pages["sv"] + pages["uk"]


@pytest.mark.django_db
def test_the_language_picked_in_the_header_follows_the_user_to_another_device(client, driver):
    from django.test import Client

    client.force_login(driver.user)
    client.post("/i18n/setlang/", {"language": "sv", "next": "/account/"})

    driver.user.refresh_from_db()
    assert driver.user.language == "sv"
    # a phone that never saw the switcher, whose browser asks for English
    phone = Client()
    phone.force_login(driver.user)
    page = phone.get("/account/", HTTP_ACCEPT_LANGUAGE="en").text
    assert '<html lang="sv">' in page and "Mina kort" in page


@pytest.mark.django_db
def test_a_user_sets_their_language_on_preferences_and_can_go_back_to_the_browsers(client, operator):
    client.force_login(operator)

    saved = client.post("/preferences/", {"time_zone": "", "language": "uk"}, follow=True)
    operator.refresh_from_db()
    assert operator.language == "uk" and '<html lang="uk">' in saved.text
    assert "Мова" in saved.text

    refused = client.post("/preferences/", {"time_zone": "", "language": "xx"})
    operator.refresh_from_db()
    assert refused.status_code == 400 and operator.language == "uk"

    client.post("/preferences/", {"time_zone": "", "language": ""})
    operator.refresh_from_db()
    assert operator.language == ""
    assert '<html lang="sv">' in client.get("/dashboard/", HTTP_ACCEPT_LANGUAGE="sv").text


@pytest.mark.django_db
def test_a_roaming_partners_page_speaks_swedish_and_ukrainian(client, operator):
    from ocpi.services import partner_create

    partner, _ = partner_create(name="Example eMSP", country_code="DE", party_id="EMS", roles=["EMSP"])
    client.force_login(operator)

    pages = {
        language: client.get(f"/roaming/{partner.pk}/", HTTP_ACCEPT_LANGUAGE=language).text
        for language in ("en", "sv", "uk")
    }

    assert "Register with the partner" in pages["en"] and "Request log" in pages["en"]
    assert "Registrera hos partnern" in pages["sv"] and "Förfrågningslogg" in pages["sv"]
    assert "Зареєструватися в партнера" in pages["uk"] and "Журнал запитів" in pages["uk"]
    assert "Request log" not in pages["sv"] + pages["uk"]


@pytest.mark.django_db
def test_statuses_and_roles_are_shown_in_the_viewers_language(client, operator):
    from chargenet.models import User
    from stations.models import Session

    with translation.override("sv"):
        assert str(Session.Status.COMPLETED.label) == "Slutförd"
        assert str(User.Role.OPERATOR.label) == "Operatör"
    with translation.override("uk"):
        assert str(Session.Status.COMPLETED.label) == "Завершена"
    client.force_login(operator)
    header = client.get("/dashboard/", HTTP_ACCEPT_LANGUAGE="uk").text
    assert f"{operator.username} · Оператор" in header


@pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"no Chromium at {CHROMIUM}")
def test_the_live_indicator_speaks_the_pages_language(logged_in, live_server_url, operator):
    from playwright.sync_api import expect

    context = logged_in(operator)
    context.set_extra_http_headers({"Accept-Language": "uk"})
    page = context.new_page()
    page.goto(f"{live_server_url}/dashboard/")

    expect(page.locator("#live-status")).to_have_text("Наживо", timeout=15000)


@pytest.mark.django_db
def test_alert_titles_are_in_the_viewers_language(client, operator):
    from stations.services import connector_status_record, station_create

    station = station_create(identity="LANG-FAULT", evses=1)[0]
    connector_status_record(
        station_id=station.pk, connector_id=1, status="Faulted", error_code="GroundFailure"
    )
    client.force_login(operator)

    english = client.get("/alerts/", HTTP_ACCEPT_LANGUAGE="en").text
    ukrainian = client.get("/alerts/", HTTP_ACCEPT_LANGUAGE="uk").text

    assert "EVSE 1 connector 1 faulted" in english
    assert "EVSE 1 роз'єм 1 несправний" in ukrainian.replace("&#x27;", "'")
    assert "faulted" not in ukrainian
