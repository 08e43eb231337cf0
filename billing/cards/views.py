"""The driver's saved cards: list (masked), add through the provider, remove, choose the default."""

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from billing.cards import services
from billing.models import PaymentBlock, PaymentMethod
from billing.services import BillingError
from chargenet.permissions import UserRequest, driver_required
from rfid.models import Driver


def _driver(request: UserRequest) -> Driver:
    driver = Driver.objects.select_related("user").filter(user=request.user).first()
    if driver is None:
        raise Http404("no driver account")
    return driver


def _method_id(request: UserRequest) -> int:
    value = request.POST.get("card", "")
    return int(value) if value.isdigit() else 0


@driver_required
def card_list(request: UserRequest) -> HttpResponse:
    """My saved cards; POST adds one (off to the provider's page)."""
    driver = _driver(request)
    if request.method == "POST":
        back = request.build_absolute_uri(reverse("billing:card-added"))
        try:
            url = services.payment_method_setup_start(
                driver=driver,
                success_url=f"{back}?session_id={{CHECKOUT_SESSION_ID}}",
                cancel_url=request.build_absolute_uri(reverse("billing:card-list")),
            )
        except BillingError as exc:
            messages.error(request, f"Not saved: {exc}.")
            return redirect("billing:card-list")
        return redirect(url)
    cards = PaymentMethod.objects.filter(driver=driver)
    blocked = PaymentBlock.objects.filter(driver=driver, lifted_at__isnull=True).exists()
    failed = services.driver_failed_invoices(driver_id=driver.pk) if blocked else []
    return render(request, "billing/card_list.html", {"cards": cards, "blocked": blocked, "failed": failed})


@driver_required
def card_added(request: UserRequest) -> HttpResponse:
    """The provider sends the driver back here once the card is saved."""
    driver = _driver(request)
    reference = request.GET.get("session_id", "")[:255]
    try:
        method = services.payment_method_setup_complete(checkout_reference=reference, driver=driver)
    except BillingError as exc:
        messages.error(request, f"Not saved: {exc}.")
    except Exception:
        messages.error(request, "We could not confirm the card with the payment provider; try again later.")
    else:
        if method is None:
            messages.info(request, "The card is not confirmed yet; it appears here once it is.")
        else:
            messages.success(request, f"Saved {method.masked}.")
    return redirect("billing:card-list")


@driver_required
@require_POST
def card_remove(request: UserRequest) -> HttpResponse:
    try:
        services.payment_method_remove(driver=_driver(request), method_id=_method_id(request))
        messages.success(request, "The card was removed.")
    except BillingError as exc:
        messages.error(request, f"Not removed: {exc}.")
    return redirect("billing:card-list")


@driver_required
@require_POST
def card_default(request: UserRequest) -> HttpResponse:
    try:
        method = services.payment_method_default_set(driver=_driver(request), method_id=_method_id(request))
        messages.success(request, f"Invoices are charged to {method.masked} from now on.")
    except BillingError as exc:
        messages.error(request, f"Not changed: {exc}.")
    return redirect("billing:card-list")
