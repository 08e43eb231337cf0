import logging
from typing import Any

from django.apps import AppConfig

logger = logging.getLogger(__name__)


class BillingConfig(AppConfig):
    name = "billing"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from chargenet.events import event_subscribe
        from stations.sessions.services import session_cost_register

        event_subscribe("session.stopped", _on_session_stopped)
        event_subscribe("invoice.issued", _on_invoice_issued)
        # A 2.0.1 station shows the driver the session's cost at its end (totalCost, I02).
        session_cost_register(_session_total_cost)


def _on_session_stopped(event_type: str, data: dict) -> None:
    """Price the stopped session into its CDR, in the dispatcher's transaction (once per event)."""
    from billing import services

    try:
        services.cdr_create_for_session(session_id=data["session_id"])
    except services.BillingError:
        # Running again (an offline replay reopened it): its next stop prices it.
        logger.warning("session %s is not priceable yet", data["session_id"], exc_info=True)


def _on_invoice_issued(event_type: str, data: dict) -> None:
    """Mail the invoice from a worker once the dispatcher commits (the sweep resends a lost one)."""
    from billing import services

    services.invoice_email_request(invoice_id=data["invoice_id"])


def _session_total_cost(session: Any) -> Any:
    """The session's cost incl. VAT as the driver sees it (its CDR, or priced live from its samples)."""
    from billing import selectors

    return selectors.session_cost(session=session).total_incl_vat
