"""I02/I03 tariff texts over a real socket: an accepted driver's Authorize and TransactionEvent answers
carry the driver's tariff text as idTokenInfo `personalMessage`, in the language the station reported
for its display (DisplayMessageCtrlr.Language), else the site's language; none for a refused card or
a tariff without texts."""

import pytest

from billing.services import BillingError, tariff_assign, tariff_create
from rfid.services import id_token_create
from tests.stations.connection.helpers import now_iso, station_make
from tests.stations.devicemodel.helpers import booted201, report_item

pytestmark = pytest.mark.django_db(transaction=True)

ENERGY = [{"price_components": [{"type": "ENERGY", "price": "0.30", "step_size": 1}]}]
TEXTS = [
    {"language": "en", "text": "0.30 EUR per kWh"},
    {"language": "sv", "text": "3,00 kr per kWh för medlemmar"},
]


def language_report(language: str) -> dict:
    return {
        "requestId": 3,
        "generatedAt": now_iso(),
        "seqNo": 0,
        "reportData": [report_item("DisplayMessageCtrlr", "Language", language)],
    }


def test_tc_i_02_an_accepted_driver_is_told_the_tariff_text_in_the_stations_language(ocpp_server, run):
    # given a members' tariff with texts in English and Swedish for the card's group
    station = station_make(ocpp_version="2.0.1")
    id_token_create(uid="MEMBER-1", parent_id_tag="MEMBERS")
    members = tariff_create(code="MEM", name="Members", currency="SEK", elements=ENERGY, alt_texts=TEXTS)
    tariff_assign(tariff=members, id_token_group="MEMBERS")
    tariff_create(code="PUB", name="Public", is_default=True, elements=ENERGY)

    async def scenario():
        async with booted201(ocpp_server, station) as cp:
            before = await cp.ok("Authorize", {"idToken": {"idToken": "MEMBER-1", "type": "ISO14443"}})
            # when the station has reported that it shows Swedish
            await cp.ok("NotifyReport", language_report("sv"))
            authorized = await cp.ok("Authorize", {"idToken": {"idToken": "MEMBER-1", "type": "ISO14443"}})
            started = await cp.ok(
                "TransactionEvent",
                {
                    "eventType": "Started",
                    "timestamp": now_iso(),
                    "triggerReason": "Authorized",
                    "seqNo": 0,
                    "transactionInfo": {"transactionId": "tx-text"},
                    "idToken": {"idToken": "MEMBER-1", "type": "ISO14443"},
                    "evse": {"id": 1, "connectorId": 1},
                },
            )
            # and a card on the default tariff, which has no text
            public = await cp.ok("Authorize", {"idToken": {"idToken": "UNKNOWN-9", "type": "ISO14443"}})
            return before, authorized, started, public

    before, authorized, started, public = run(scenario())
    # then before the station named its language the site's (English) text is sent
    assert before["idTokenInfo"]["personalMessage"] == {
        "format": "UTF8",
        "language": "en",
        "content": "0.30 EUR per kWh",
    }
    # and afterwards the Swedish one, in Authorize and in the TransactionEvent answer
    swedish = {"format": "UTF8", "language": "sv", "content": "3,00 kr per kWh för medlemmar"}
    assert authorized["idTokenInfo"]["personalMessage"] == swedish
    assert started["idTokenInfo"] == {"status": "Accepted", "groupIdToken": {"idToken": "MEMBERS", "type": "Central"}, "personalMessage": swedish}  # fmt: skip
    # and a refused card is told nothing about prices
    assert public["idTokenInfo"] == {"status": "Invalid"}


def test_a_card_on_a_tariff_without_texts_gets_no_personal_message(ocpp_server, run):
    station = station_make(ocpp_version="2.0.1")
    id_token_create(uid="PLAIN-1")
    tariff_create(code="PLAIN", name="Plain", is_default=True, elements=ENERGY)

    async def scenario():
        async with booted201(ocpp_server, station) as cp:
            return await cp.ok("Authorize", {"idToken": {"idToken": "PLAIN-1", "type": "ISO14443"}})

    assert run(scenario())["idTokenInfo"] == {"status": "Accepted"}


@pytest.mark.parametrize(
    "texts, problem",
    [
        ([{"language": "english", "text": "x"}], "not a language code"),
        ([{"language": "en", "text": "x" * 513}], "1 to 512 characters"),
        ([{"language": "en", "text": "a"}, {"language": "EN", "text": "b"}], "two alt texts"),
        ({"en": "x"}, "must be a list"),
    ],
)
def test_a_tariff_refuses_alt_texts_a_station_could_not_show(texts, problem):
    with pytest.raises(BillingError, match=problem):
        tariff_create(code="BAD", name="Bad", elements=ENERGY, alt_texts=texts)
    from billing.models import Tariff

    assert not Tariff.objects.filter(code="BAD").exists()
