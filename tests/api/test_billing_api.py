"""Billing over the API: CDRs, invoices (PDF), payments, tariffs with preview, assignments, plans, costs."""

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from billing import services
from billing.models import Cdr, Invoice, Payment, SubscriptionPlan, Tariff, TariffAssignment
from chargenet.api.models import AuditLog
from rfid.models import IdToken
from stations.models import Connector, Evse, Location, Station
from tests.billing.conftest import make_session

pytestmark = pytest.mark.django_db

ELEMENTS = [
    {"price_components": [{"type": "ENERGY", "price": "0.30", "step_size": 1}]},
    {"price_components": [{"type": "FLAT", "price": "1.00", "step_size": 1}]},
]
OCTOBER = services.InvoicePeriod(date(2026, 10, 1), date(2026, 10, 31))


@pytest.fixture
def harbour(db):
    location = Location.objects.create(name="Harbour", time_zone="Europe/Amsterdam", is_public=True)
    station = Station.objects.create(identity="CP-H1", location=location, is_public=True)
    evse = Evse.objects.create(station=station, evse_id=1)
    Connector.objects.create(evse=evse, connector_id=1)
    return station


@pytest.fixture
def standard(db):
    return services.tariff_create(
        code="STD",
        name="Standard",
        currency="EUR",
        vat_percent=Decimal("25"),
        is_default=True,
        elements=ELEMENTS,
    )


@pytest.fixture
def dana_card(driver):
    return IdToken.objects.create(uid="DANA0001", driver=driver)


@pytest.fixture
def bob_card(other_driver):
    return IdToken.objects.create(uid="BOB00001", driver=other_driver)


@pytest.fixture
def dana_cdr(harbour, dana_card, standard):
    session = make_session(harbour, dana_card, started_at=datetime(2026, 10, 12, 8, 0, tzinfo=UTC))
    return services.cdr_create_for_session(session_id=session.pk)


@pytest.fixture
def bob_cdr(harbour, bob_card, standard):
    session = make_session(harbour, bob_card, started_at=datetime(2026, 10, 13, 8, 0, tzinfo=UTC))
    return services.cdr_create_for_session(session_id=session.pk)


@pytest.fixture
def invoices(dana_cdr, bob_cdr):
    services.invoice_run(period=OCTOBER)
    return {
        invoice.driver.user.username: invoice for invoice in Invoice.objects.select_related("driver__user")
    }


# --- CDRs ---------------------------------------------------------------------------------------


def test_an_operator_lists_priced_sessions_with_their_totals_and_breakdown(operator_api, dana_cdr, bob_cdr):
    body = operator_api.get("/api/v1/cdrs/").json()

    assert [c["cdr_id"] for c in body["results"]] == [bob_cdr.cdr_id, dana_cdr.cdr_id]
    dana = body["results"][1]
    assert (dana["total_excl_vat"], dana["total_vat"], dana["total_incl_vat"]) == ("4.00", "1.00", "5.00")
    assert {c["type"] for c in dana["breakdown"]} == {"ENERGY", "FLAT"}
    assert dana["tariff_snapshot"]["id"] == "STD"
    assert dana["invoice"] is None


def test_cdrs_filter_by_the_time_their_session_stopped(operator_api, dana_cdr, bob_cdr):
    body = operator_api.get(
        "/api/v1/cdrs/?stopped_after=2026-10-13T00:00:00Z&stopped_before=2026-10-14T00:00:00Z"
    ).json()

    assert [c["cdr_id"] for c in body["results"]] == [bob_cdr.cdr_id]


def test_a_driver_sees_their_own_cdrs_and_another_drivers_cdr_is_a_404(driver_api, dana_cdr, bob_cdr):
    listed = driver_api.get("/api/v1/cdrs/").json()["results"]

    assert [c["cdr_id"] for c in listed] == [dana_cdr.cdr_id]
    assert driver_api.get(f"/api/v1/cdrs/{dana_cdr.pk}/").status_code == 200
    assert driver_api.get(f"/api/v1/cdrs/{bob_cdr.pk}/").status_code == 404


def test_a_correction_shows_the_credit_cdr_and_its_replacement(driver_api, dana_cdr):
    credit, replacement = services.cdr_correct(cdr=dana_cdr)

    listed = driver_api.get("/api/v1/cdrs/?kind=credit").json()["results"]

    assert [(c["cdr_id"], c["total_incl_vat"], c["credit_reference"]) for c in listed] == [
        (credit.cdr_id, "-5.00", dana_cdr.pk)
    ]
    assert driver_api.get(f"/api/v1/cdrs/{replacement.pk}/").json()["supersedes"] == dana_cdr.pk


def test_cdrs_cannot_be_written_through_the_api(operator_api, dana_cdr):
    response = operator_api.delete(f"/api/v1/cdrs/{dana_cdr.pk}/")

    assert response.status_code == 405
    assert Cdr.objects.filter(pk=dana_cdr.pk).exists()


# --- invoices and payments ----------------------------------------------------------------------


def test_a_driver_fetches_their_invoice_with_lines_and_pdf_but_not_anothers(driver_api, invoices):
    dana, bob = invoices["dana"], invoices["bob"]

    listed = driver_api.get("/api/v1/invoices/").json()["results"]
    detail = driver_api.get(f"/api/v1/invoices/{dana.pk}/").json()
    pdf = driver_api.get(f"/api/v1/invoices/{dana.pk}/pdf/")

    assert [i["number"] for i in listed] == [dana.number]
    assert detail["total_incl_vat"] == "5.00"
    assert [line["amount_incl_vat"] for line in detail["lines"]] == ["5.00"]
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    assert b"".join(pdf.streaming_content if pdf.streaming else [pdf.content]).startswith(b"%PDF")
    for path in (
        f"/api/v1/invoices/{bob.pk}/",
        f"/api/v1/invoices/{bob.pk}/pdf/",
        f"/api/v1/invoices/{bob.pk}/payments/",
    ):
        response = driver_api.get(path)
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"


def test_an_operator_records_a_bank_transfer_and_the_invoice_is_paid(operator_api, invoices):
    invoice = invoices["dana"]

    response = operator_api.post(
        f"/api/v1/invoices/{invoice.pk}/payments/", {"amount": "5.00", "reference": "TRX-1"}, format="json"
    )

    assert response.status_code == 201
    assert response.json()["status"] == "paid" and response.json()["recorded_by"] == "olivia"
    assert operator_api.get(f"/api/v1/invoices/{invoice.pk}/").json()["status"] == "paid"
    assert [
        p["reference"] for p in operator_api.get(f"/api/v1/invoices/{invoice.pk}/payments/").json()["results"]
    ] == ["TRX-1"]
    audit = AuditLog.objects.get(path__endswith="/payments/")
    assert (audit.object_type, audit.status_code) == ("payment", 201)


def test_the_same_bank_reference_is_not_recorded_twice(operator_api, invoices):
    path = f"/api/v1/invoices/{invoices['dana'].pk}/payments/"
    operator_api.post(path, {"amount": "2.00", "reference": "TRX-1"}, format="json")

    again = operator_api.post(path, {"amount": "2.00", "reference": "TRX-1"}, format="json")

    assert again.status_code == 409
    assert again.json()["error"]["code"] == "billing_refused"
    assert Payment.objects.count() == 1


@pytest.mark.parametrize(
    ("persona", "expected"), [("driver_api", 403), ("viewer_api", 403), ("operator_read_key_api", 403)]
)
def test_only_operators_with_an_operate_key_record_payments(request, persona, expected, invoices):
    client = request.getfixturevalue(persona)

    response = client.post(
        f"/api/v1/invoices/{invoices['dana'].pk}/payments/", {"amount": "5.00"}, format="json"
    )

    assert response.status_code == expected
    assert not Payment.objects.exists()


# --- tariffs --------------------------------------------------------------------------------------


def test_an_operator_creates_changes_and_deletes_a_tariff(operator_api):
    created = operator_api.post(
        "/api/v1/tariffs/",
        {"code": "NIGHT", "name": "Night", "vat_percent": "21", "elements": ELEMENTS},
        format="json",
    )
    tariff_id = created.json()["id"]
    changed = operator_api.patch(f"/api/v1/tariffs/{tariff_id}/", {"name": "Night owl"}, format="json")
    deleted = operator_api.delete(f"/api/v1/tariffs/{tariff_id}/")

    assert (
        created.status_code == 201 and created.json()["elements"][0]["price_components"][0]["price"] == "0.30"
    )
    assert changed.json()["name"] == "Night owl"
    assert deleted.status_code == 204
    assert not Tariff.objects.exists()
    assert list(AuditLog.objects.order_by("id").values_list("method", "object_type", "object_id")) == [
        ("POST", "tariff", str(tariff_id)),
        ("PATCH", "tariff", str(tariff_id)),
        ("DELETE", "tariff", str(tariff_id)),
    ]


def test_a_tariff_with_a_float_price_is_refused_and_nothing_is_stored(operator_api):
    response = operator_api.post(
        "/api/v1/tariffs/",
        {
            "code": "BAD",
            "name": "Bad",
            "vat_percent": "21",
            "elements": [{"price_components": [{"type": "ENERGY", "price": 0.3}]}],
        },
        format="json",
    )

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "billing_refused"
    assert "decimal string" in response.json()["error"]["message"]
    assert not Tariff.objects.exists()


def test_an_assigned_tariff_cannot_be_deleted(operator_api, standard, harbour):
    services.tariff_assign(tariff=standard, station_id=harbour.pk)

    response = operator_api.delete(f"/api/v1/tariffs/{standard.pk}/")

    assert response.status_code == 409
    assert "assigned" in response.json()["error"]["message"]
    assert Tariff.objects.filter(pk=standard.pk).exists()


def test_drivers_read_tariffs_but_cannot_write_them(driver_api, standard):
    assert driver_api.get(f"/api/v1/tariffs/{standard.pk}/").status_code == 200
    assert (
        driver_api.patch(f"/api/v1/tariffs/{standard.pk}/", {"name": "Free"}, format="json").status_code
        == 403
    )
    assert Tariff.objects.get().name == "Standard"


def test_the_preview_prices_ten_kwh_on_a_station_with_the_tariff_that_applies_there(
    driver_api, harbour, standard
):
    response = driver_api.post(
        "/api/v1/tariffs/preview/",
        {"station": "CP-H1", "energy_kwh": "10", "power_kw": "11", "start": "2026-03-07T18:00:00+01:00"},
        format="json",
    )

    assert response.status_code == 200
    body = response.json()
    assert (body["tariff_code"], body["total_excl_vat"], body["total_incl_vat"]) == ("STD", "4.00", "5.00")
    assert body["time_zone"] == "Europe/Amsterdam"
    assert not Tariff.objects.exclude(pk=standard.pk).exists()


def test_the_preview_without_a_tariff_or_station_is_a_validation_error(operator_api):
    response = operator_api.post(
        "/api/v1/tariffs/preview/",
        {"energy_kwh": "10", "power_kw": "11", "start": "2026-03-07T18:00:00Z"},
        format="json",
    )

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "validation_error"


# --- assignments and plans -----------------------------------------------------------------------


def test_a_connector_assignment_changes_the_price_there_and_removing_it_restores_the_default(
    operator_api, harbour, standard
):
    fast = services.tariff_create(
        code="FAST", name="Fast", vat_percent=Decimal("25"),
        elements=[{"price_components": [{"type": "ENERGY", "price": "0.50", "step_size": 1}]}],
    )  # fmt: skip
    preview = {
        "station": "CP-H1",
        "connector_id": 1,
        "energy_kwh": "10",
        "power_kw": "11",
        "start": "2026-03-07T18:00:00Z",
    }

    created = operator_api.post(
        "/api/v1/tariff-assignments/",
        {"tariff": fast.pk, "station": "CP-H1", "evse_id": 1, "connector_id": 1},
        format="json",
    )
    assigned = operator_api.post("/api/v1/tariffs/preview/", preview, format="json").json()
    operator_api.delete(f"/api/v1/tariff-assignments/{created.json()['id']}/")
    removed = operator_api.post("/api/v1/tariffs/preview/", preview, format="json").json()

    assert created.status_code == 201 and created.json()["connector"] is not None
    assert (assigned["tariff_code"], assigned["total_excl_vat"]) == ("FAST", "5.00")
    assert (removed["tariff_code"], removed["total_excl_vat"]) == ("STD", "4.00")
    assert not TariffAssignment.objects.exists()


def test_an_assignment_naming_an_unknown_station_is_refused_and_nothing_is_stored(operator_api, standard):
    response = operator_api.post(
        "/api/v1/tariff-assignments/", {"tariff": standard.pk, "station": "NOPE"}, format="json"
    )

    assert response.status_code == 400
    assert response.json()["error"]["details"] == {"station": ["No such object."]}
    assert not TariffAssignment.objects.exists()


def test_members_of_a_plan_get_its_tariff_in_the_preview_for_their_card(
    operator_api, harbour, standard, dana_card
):
    members = services.tariff_create(
        code="MEMBER", name="Members", vat_percent=Decimal("25"),
        elements=[{"price_components": [{"type": "ENERGY", "price": "0.20", "step_size": 1}]}],
    )  # fmt: skip
    plan = operator_api.post(
        "/api/v1/subscription-plans/",
        {"name": "Frequent", "monthly_fee": "9.99", "vat_percent": "21", "tariff": members.pk},
        format="json",
    ).json()
    services.subscription_start(
        driver=dana_card.driver, plan=SubscriptionPlan.objects.get(pk=plan["id"]), started_on=date(2026, 1, 1)
    )

    body = operator_api.post(
        "/api/v1/tariffs/preview/",
        {
            "station": "CP-H1",
            "id_token": "dana0001",
            "energy_kwh": "10",
            "power_kw": "11",
            "start": "2026-03-07T18:00:00Z",
        },
        format="json",
    ).json()

    assert plan["monthly_fee"] == "9.99"
    assert (body["tariff_code"], body["total_excl_vat"]) == ("MEMBER", "2.00")


def test_a_plan_name_is_unique_and_drivers_see_only_plans_on_offer(operator_api, driver_api):
    first = operator_api.post(
        "/api/v1/subscription-plans/",
        {"name": "Basic", "monthly_fee": "0", "vat_percent": "21"},
        format="json",
    ).json()
    duplicate = operator_api.post(
        "/api/v1/subscription-plans/",
        {"name": "basic", "monthly_fee": "1", "vat_percent": "21"},
        format="json",
    )
    operator_api.patch(f"/api/v1/subscription-plans/{first['id']}/", {"is_active": False}, format="json")

    assert duplicate.status_code == 409
    assert SubscriptionPlan.objects.count() == 1
    assert driver_api.get("/api/v1/subscription-plans/").json()["results"] == []
    assert driver_api.get(f"/api/v1/subscription-plans/{first['id']}/").status_code == 404


# --- session cost -------------------------------------------------------------------------------


def test_a_driver_follows_the_cost_of_their_running_session_but_not_anothers(
    driver_api, harbour, dana_card, bob_card, standard
):
    running = make_session(
        harbour, dana_card, started_at=datetime(2026, 10, 12, 8, 0, tzinfo=UTC), energy_wh=8000, stopped=False
    )
    bobs = make_session(harbour, bob_card, started_at=datetime(2026, 10, 13, 8, 0, tzinfo=UTC), stopped=False)

    cost = driver_api.get(f"/api/v1/sessions/{running.pk}/cost/").json()
    session = driver_api.get(f"/api/v1/sessions/{running.pk}/").json()

    assert cost["final"] is False and cost["cdr"] is None and cost["tariff"] == standard.pk
    assert Decimal(cost["total_excl_vat"]) > Decimal("1.00")  # the flat fee plus energy so far
    assert session["cost_url"] == f"/api/v1/sessions/{running.pk}/cost/"
    assert driver_api.get(f"/api/v1/sessions/{bobs.pk}/cost/").status_code == 404


def test_a_priced_session_costs_what_its_cdr_says(operator_api, dana_cdr):
    cost = operator_api.get(f"/api/v1/sessions/{dana_cdr.session_id}/cost/").json()

    assert (cost["final"], cost["cdr"], cost["total_excl_vat"], cost["total_incl_vat"]) == (
        True, dana_cdr.pk, "4.00", "5.00",
    )  # fmt: skip
