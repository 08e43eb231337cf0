"""CDRs: priced once when a session stops, immutable, corrected by credit CDRs."""

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from billing import selectors, services
from billing.models import Cdr
from tests.billing.conftest import make_session, stop_session


@pytest.fixture
def session(station, card):
    return make_session(station, card)


def test_a_stopped_session_gets_one_cdr_with_its_price_and_tariff_snapshot(
    session, done_when_tariff, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        stop_session(session)

    cdr = Cdr.objects.get(session=session)
    assert cdr.total_excl_vat == Decimal("4.00")
    assert cdr.total_incl_vat == Decimal("5.00")
    assert cdr.total_vat == Decimal("1.00")
    assert cdr.tariff_snapshot["elements"][0]["price_components"][0]["price"] == "0.30"
    assert cdr.driver.name == "Dana"
    assert cdr.charging_periods and cdr.charging_periods[0]["tariff_id"] == "STD"


def test_the_stop_event_arriving_twice_still_makes_one_cdr(
    session, done_when_tariff, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        stop_session(session)
        stop_session(session)

    assert Cdr.objects.filter(session=session).count() == 1


def test_a_stopped_session_whose_event_was_lost_is_priced_by_the_sweep(station, card, done_when_tariff):
    # given two sessions that stopped without a CDR (stored before the outbox existed, say), one
    # of them still running
    stopped = make_session(station, card)
    running = make_session(station, card, stopped=False, started_at=datetime(2026, 10, 12, 10, 0, tzinfo=UTC))

    # when the sweep runs
    cdrs_create_missing_task_run()

    # then the stopped one has its CDR, once, and the running one none
    assert list(Cdr.objects.values_list("session_id", flat=True)) == [stopped.pk]
    cdrs_create_missing_task_run()
    assert Cdr.objects.filter(session=running).count() == 0
    assert Cdr.objects.count() == 1


def cdrs_create_missing_task_run() -> None:
    services.cdrs_create_missing(
        stopped_before=datetime(2026, 10, 13, tzinfo=UTC), stopped_after=datetime(2026, 10, 1, tzinfo=UTC)
    )


def test_changing_the_tariff_never_reprices_a_finished_session(session, done_when_tariff):
    cdr = services.cdr_create_for_session(session_id=session.pk)

    services.tariff_update(
        tariff=done_when_tariff, elements=[{"price_components": [{"type": "ENERGY", "price": "0.99"}]}]
    )
    again = services.cdr_create_for_session(session_id=session.pk)

    assert again.pk == cdr.pk
    assert selectors.session_cost(session=session).total_incl_vat == Decimal("5.00")


def test_a_cdr_cannot_be_edited(session, done_when_tariff):
    cdr = services.cdr_create_for_session(session_id=session.pk)
    cdr.total_excl_vat = Decimal("0")

    with pytest.raises(ValueError, match="immutable"):
        cdr.save()


def test_a_correction_credits_the_old_cdr_and_issues_a_new_one(session, done_when_tariff):
    cdr = services.cdr_create_for_session(session_id=session.pk)
    cheaper = services.tariff_create(
        code="CHEAP", name="Goodwill", vat_percent=Decimal("25"),
        elements=[{"price_components": [{"type": "ENERGY", "price": "0.10", "step_size": 1}]}],
    )  # fmt: skip

    credit, replacement = services.cdr_correct(cdr=cdr, tariff=cheaper)

    assert credit.kind == Cdr.Kind.CREDIT and credit.credit_reference == cdr
    assert credit.total_incl_vat == Decimal("-5.00") and credit.cdr_id == f"{cdr.cdr_id}-C"
    assert replacement.total_excl_vat == Decimal("1.00") and replacement.supersedes == cdr
    assert selectors.session_cost(session=session).total_excl_vat == Decimal("1.00")
    with pytest.raises(services.BillingError):
        services.cdr_correct(cdr=cdr)


def test_a_running_session_gets_no_cdr_but_a_live_cost(station, card, done_when_tariff):
    session = make_session(station, card, stopped=False, minutes=60)

    with pytest.raises(services.BillingError, match="still running"):
        services.cdr_create_for_session(session_id=session.pk)

    live = selectors.session_cost(session=session, now=datetime(2026, 10, 12, 8, 50, tzinfo=UTC))
    assert not Cdr.objects.exists()
    assert live.cdr is None
    # At 08:50 the samples say 7.5 kWh so far: 2.25 + 1.00 flat.
    assert live.total_excl_vat == Decimal("3.25")


def test_the_connector_tariff_beats_the_location_tariff_and_members_get_their_plan_price(
    station, location, card, driver, done_when_tariff
):
    site = services.tariff_create(
        code="SITE", name="Site", elements=[{"price_components": [{"type": "ENERGY", "price": "0.40"}]}]
    )
    fast = services.tariff_create(
        code="FAST", name="Fast", elements=[{"price_components": [{"type": "ENERGY", "price": "0.60"}]}]
    )
    members = services.tariff_create(
        code="MEMBER", name="Members", elements=[{"price_components": [{"type": "ENERGY", "price": "0.20"}]}]
    )
    connector = station.evses.get().connectors.get()
    services.tariff_assign(tariff=site, location_id=location.pk)
    session = make_session(station, card)
    assert selectors.tariff_resolve(session=session) == site

    services.tariff_assign(tariff=fast, connector_id=connector.pk)
    assert selectors.tariff_resolve(session=session) == fast

    plan = services.subscription_plan_create(
        name="Plus", monthly_fee=Decimal("5.00"), vat_percent=Decimal("21"), tariff=members
    )
    services.subscription_start(driver=driver, plan=plan, started_on=date(2026, 10, 1))
    assert selectors.tariff_resolve(session=session) == members


def test_an_invalid_tariff_is_refused_and_nothing_is_stored(db):
    with pytest.raises(services.BillingError, match="step_size"):
        services.tariff_create(
            code="BAD",
            name="Bad",
            elements=[{"price_components": [{"type": "ENERGY", "price": "1", "step_size": 0}]}],
        )

    from billing.models import Tariff

    assert not Tariff.objects.filter(code="BAD").exists()
