"""Invoicing: numbered PDF invoices per driver and period, idempotent and never half-written."""

import os
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.conf import settings
from django.core import mail
from django.core.management import call_command

from billing import services
from billing.models import Cdr, Invoice, InvoiceCounter, InvoiceLine
from tests.billing.conftest import make_session
from tests.support import REPO

OCTOBER = services.InvoicePeriod(date(2026, 10, 1), date(2026, 10, 31))


@pytest.fixture
def priced_session(station, card, done_when_tariff):
    session = make_session(station, card, started_at=datetime(2026, 10, 12, 8, 0, tzinfo=UTC))
    services.cdr_create_for_session(session_id=session.pk)
    return session


def test_the_done_when_example_invoices_four_plus_vat_once(
    priced_session, django_capture_on_commit_callbacks
):
    # when
    with django_capture_on_commit_callbacks(execute=True):
        call_command("invoice", "--period", "2026-10", stdout=open(os.devnull, "w"))
    # then
    invoice = Invoice.objects.get()
    line = invoice.lines.get()
    assert (line.amount_excl_vat, line.amount_vat, line.amount_incl_vat) == (
        Decimal("4.00"), Decimal("1.00"), Decimal("5.00"),
    )  # fmt: skip
    assert invoice.total_incl_vat == Decimal("5.00")
    assert invoice.number == f"CN{datetime.now(UTC):%Y}-000001"
    assert invoice.vat_summary == [{"vat_percent": "25.00", "net": "4.00", "vat": "1.00", "gross": "5.00"}]
    assert bytes(invoice.pdf).startswith(b"%PDF")
    assert len(mail.outbox) == 1 and mail.outbox[0].attachments[0][0] == f"{invoice.number}.pdf"

    # when it runs again
    with django_capture_on_commit_callbacks(execute=True):
        call_command("invoice", "--from", "2026-10-01", "--to", "2026-10-31", stdout=open(os.devnull, "w"))
    # then nothing new
    assert Invoice.objects.count() == 1
    assert len(mail.outbox) == 1


def test_invoice_numbers_are_sequential_per_series_across_drivers(
    station, card, other_card, done_when_tariff
):
    for day, token in ((5, card), (6, other_card), (7, card)):
        session = make_session(station, token, started_at=datetime(2026, 10, day, 8, 0, tzinfo=UTC))
        services.cdr_create_for_session(session_id=session.pk)

    invoices = services.invoice_run(period=OCTOBER)

    assert sorted(i.sequence for i in invoices) == [1, 2]
    assert InvoiceCounter.objects.get().last_number == 2
    dana = next(i for i in invoices if i.driver == card.driver)
    assert dana.lines.count() == 2 and dana.total_excl_vat == Decimal("8.00")


def test_a_sessions_outside_the_period_wait_for_their_own_invoice(station, card, done_when_tariff):
    november = make_session(station, card, started_at=datetime(2026, 11, 2, 8, 0, tzinfo=UTC))
    services.cdr_create_for_session(session_id=november.pk)

    assert services.invoice_run(period=OCTOBER) == []
    assert (
        len(services.invoice_run(period=services.InvoicePeriod(date(2026, 11, 1), date(2026, 11, 30)))) == 1
    )


def test_the_subscription_fee_is_invoiced_with_the_months_sessions_once(
    priced_session, driver, done_when_tariff
):
    plan = services.subscription_plan_create(
        name="Plus", monthly_fee=Decimal("4.99"), vat_percent=Decimal("21"), tariff=done_when_tariff
    )
    services.subscription_start(driver=driver, plan=plan, started_on=date(2026, 9, 15))

    (invoice,) = services.invoice_run(period=OCTOBER)

    fee = invoice.lines.get(subscription__isnull=False)
    assert (fee.amount_excl_vat, fee.amount_vat, fee.amount_incl_vat) == (
        Decimal("4.99"), Decimal("1.05"), Decimal("6.04"),
    )  # fmt: skip
    assert invoice.total_incl_vat == Decimal("11.04")
    assert [r["vat_percent"] for r in invoice.vat_summary] == ["21.00", "25.00"]
    assert services.invoice_run(period=OCTOBER) == []


def test_a_credit_cdr_after_invoicing_lands_on_the_next_invoice(priced_session, done_when_tariff):
    services.invoice_run(period=OCTOBER)
    credit, replacement = services.cdr_correct(cdr=Cdr.objects.get())

    (second,) = services.invoice_run(period=OCTOBER)

    assert second.total_incl_vat == Decimal("0.00")
    assert second.lines.count() == 2 and second.sequence == 2


def test_the_monthly_schedule_invoices_the_previous_calendar_month():
    period = services.invoice_period_previous(today=date(2026, 11, 1), length="monthly")

    assert (period.first_day, period.last_day) == (date(2026, 10, 1), date(2026, 10, 31))
    assert settings.CELERY_BEAT_SCHEDULE["billing-invoice-run"]["task"] == "billing.invoice_run_task"


KILL_AFTER_FIRST_INVOICE_ROW = """
import os, signal, django
django.setup()
from django.db.models.signals import post_save
from billing.models import Invoice

def die(sender, instance, created, **kwargs):
    if created:
        os.kill(os.getpid(), signal.SIGKILL)

post_save.connect(die, sender=Invoice)
from django.core.management import call_command
call_command("invoice", "--period", "2026-10")
"""


@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_invoice_leaves_no_half_invoice_and_no_gap(station, card, done_when_tariff):
    # given a priced session, committed so another process sees it
    session = make_session(station, card)
    services.cdr_create_for_session(session_id=session.pk)
    from django.db import connection

    # the process works on this test's database, whichever engine runs the suite
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.stations.connection.server_settings",
        "CHARGENET_TEST_DB_NAME": str(connection.settings_dict["NAME"]),
    }
    # when a process issuing invoices is killed right after writing the first invoice row
    killed = subprocess.run(
        [sys.executable, "-c", KILL_AFTER_FIRST_INVOICE_ROW],
        cwd=REPO,
        env=env,
        capture_output=True,
        timeout=120,
    )
    # then nothing of it remains, and the next run takes number 1
    assert killed.returncode == -9, killed.stderr.decode()[-2000:]
    assert not Invoice.objects.exists() and not InvoiceLine.objects.exists()
    assert not InvoiceCounter.objects.filter(last_number__gt=0).exists()

    (invoice,) = services.invoice_run(period=OCTOBER)
    assert invoice.sequence == 1 and invoice.lines.count() == 1


def test_an_invoice_whose_mail_was_never_sent_is_mailed_by_the_sweep(
    priced_session, django_capture_on_commit_callbacks
):
    # given an invoice issued while the mail could not be queued (the broker was down)
    services.invoice_run(period=OCTOBER)
    invoice = Invoice.objects.get()
    assert invoice.emailed_at is None and mail.outbox == []

    # when the sweep runs
    with django_capture_on_commit_callbacks(execute=True):
        queued = services.invoice_emails_resend(
            issued_before=invoice.issued_at + timedelta(seconds=1),
            issued_after=invoice.issued_at - timedelta(days=1),
        )

    # then the driver has it, once, and the next sweep has nothing to send
    invoice.refresh_from_db()
    assert queued == 1 and len(mail.outbox) == 1
    assert invoice.emailed_at is not None
    assert (
        services.invoice_emails_resend(
            issued_before=invoice.issued_at + timedelta(seconds=1),
            issued_after=invoice.issued_at - timedelta(days=1),
        )
        == 0
    )


def test_a_driver_who_chose_ukrainian_gets_the_invoice_its_pdf_and_mail_in_ukrainian(
    driver, station, card, done_when_tariff, mailoutbox, django_capture_on_commit_callbacks
):
    # given Dana chose Ukrainian (the switcher or Preferences) and charged in October
    driver.user.language = "uk"
    driver.user.save()
    session = make_session(station, card, started_at=datetime(2026, 10, 12, 8, 0, tzinfo=UTC))
    services.cdr_create_for_session(session_id=session.pk)

    with django_capture_on_commit_callbacks(execute=True):
        (invoice,) = services.invoice_run(
            period=services.InvoicePeriod(date(2026, 10, 1), date(2026, 10, 31))
        )

    assert invoice.lines.get().description.startswith(
        "Заряджання 2026-10-12 10:00 CEST у Harbour, 10.000 кВт·год"
    )
    assert invoice.payment_terms == "Сплатити протягом 14 днів від дати рахунку."
    (mail,) = mailoutbox
    assert mail.subject == f"Ваш рахунок ChargeNet {invoice.number}" and mail.body.startswith("Вітаємо")
    # the PDF embeds a font with Cyrillic letters (PDF's Helvetica has none)
    assert b"DejaVuSans" in bytes(invoice.pdf)
