"""The daily payment reconciliation report: what the provider says against the books."""

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.mail import EmailMessage

from billing import selectors
from billing.money import money_round
from chargenet.models import User


def reconciliation_for_day(*, day: date) -> selectors.Reconciliation:
    """The report for one day of the operator's time zone."""
    zone = ZoneInfo(settings.OPERATOR_TIME_ZONE)
    start = datetime.combine(day, time(0), tzinfo=zone)
    return selectors.payments_reconciliation(start=start, end=start + timedelta(days=1))


def reconciliation_text(report: selectors.Reconciliation) -> str:
    lines = [
        f"Payment reconciliation {report.start:%Y-%m-%d %H:%M} – {report.end:%Y-%m-%d %H:%M} {report.start:%Z}"
    ]
    if report.clean:
        lines.append("Everything adds up.")
    for row in report.paid_twice:
        lines.append(
            f"PAID TWICE: invoice {row['invoice'].number} ({row['invoice'].total_incl_vat} "
            f"{row['invoice'].currency}) has {row['count']} paid payments totalling {money_round(row['paid'], row['invoice'].currency)}"
        )
    for row in report.unmatched_events:
        lines.append(
            f"NO INVOICE: provider event {row['event'].event_id} ({row['event'].type}, {row['object_id']}) "
            "names no payment of ours"
        )
    for payment in report.disputed:
        lines.append(f"DISPUTED: payment {payment.pk} of invoice {payment.invoice.number}")
    for refund in report.failed_refunds:
        lines.append(
            f"REFUND FAILED: {refund.amount} {refund.currency} on payment {refund.payment_id}: {refund.note}"
        )
    for payment in report.stuck_automatic:
        lines.append(f"NO ANSWER: automatic payment {payment.pk} of invoice {payment.invoice.number}")
    for charge in report.guest_unpaid:
        lines.append(f"GUEST UNPAID: CDR {charge.cdr.cdr_id} of guest charge {charge.pk}: {charge.note}")
    return "\n".join(lines) + "\n"


def reconciliation_report_send(*, day: date) -> bool:
    """Mail the day's report to admins and operators with an address, unless everything adds up."""
    report = reconciliation_for_day(day=day)
    if report.clean:
        return False
    to = list(
        User.objects.filter(role__in=(User.Role.ADMIN, User.Role.OPERATOR), is_active=True)
        .exclude(email="")
        .values_list("email", flat=True)
    )
    if not to:
        return False
    EmailMessage(
        subject=f"Payment reconciliation {day:%Y-%m-%d}: action needed",
        body=reconciliation_text(report),
        to=to,
    ).send()
    return True
