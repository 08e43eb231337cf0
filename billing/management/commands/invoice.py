"""manage.py invoice --period 2026-10 | --from 2026-10-01 --to 2026-10-31"""

from datetime import date, timedelta

from django.core.management.base import BaseCommand, CommandError

from billing import services


class Command(BaseCommand):
    help = "Issue invoices for a period (a month YYYY-MM, or --from/--to days). Safe to run twice."

    def add_arguments(self, parser):
        parser.add_argument("--period", help="a calendar month, YYYY-MM")
        parser.add_argument("--from", dest="first_day", help="first day, YYYY-MM-DD")
        parser.add_argument("--to", dest="last_day", help="last day (inclusive), YYYY-MM-DD")

    def handle(self, *args, period=None, first_day=None, last_day=None, **options):
        try:
            if period and not (first_day or last_day):
                first = date.fromisoformat(f"{period}-01")
                last = (first + timedelta(days=32)).replace(day=1) - timedelta(days=1)
            elif first_day and last_day and not period:
                first, last = date.fromisoformat(first_day), date.fromisoformat(last_day)
            else:
                raise CommandError("give --period YYYY-MM, or both --from and --to")
        except ValueError as exc:
            raise CommandError(f"not a date: {exc}") from None
        if last < first:
            raise CommandError("--to is before --from")
        invoices = services.invoice_run(period=services.InvoicePeriod(first, last))
        for invoice in invoices:
            self.stdout.write(
                f"{invoice.number}  {invoice.total_incl_vat} {invoice.currency}  {invoice.email}"
            )
        self.stdout.write(f"{len(invoices)} invoice(s) issued for {first} – {last}.")
