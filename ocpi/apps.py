from django.apps import AppConfig


class OcpiConfig(AppConfig):
    name = "ocpi"
    verbose_name = "OCPI roaming"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from chargenet.metrics import scrape_collector_register
        from ocpi import subscribers
        from ocpi.metrics import OcpiCollector

        subscribers.subscribe()
        # Partners' CDRs of our drivers go on their invoices (the eMSP role).
        from billing.services import InvoiceLineSource, invoice_line_source_register
        from ocpi import services

        invoice_line_source_register(
            InvoiceLineSource(drivers=services.roaming_invoice_drivers, lines=services.roaming_invoice_lines)
        )
        # /metrics reports the pushes still pending (docs/deployment.md).
        scrape_collector_register(OcpiCollector())
