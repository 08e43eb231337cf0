"""Card pages: operators manage every card; drivers sign up and manage their own cards."""

import csv
import io

from django.contrib import messages
from django.contrib.auth import login, logout
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext
from django.views.decorators.http import require_POST

from chargenet.permissions import UserRequest, driver_required, operate_required, staff_required
from rfid import selectors, services
from rfid.forms import CardClaimForm, CardLabelForm, DriverDetailsForm, IdTokenForm, ImportForm, SignupForm
from rfid.models import AuthorizationLog, Driver, IdToken

PAGE_SIZE = 50
MAX_IMPORT_BYTES = 2 * 1024 * 1024

# --- operators ---------------------------------------------------------------------------------


@staff_required
def card_list(request: HttpRequest) -> HttpResponse:
    filters = {
        name: request.GET.get(name, "").strip() for name in ("q", "status", "type", "source", "assigned")
    }
    tokens = selectors.id_token_search(
        search=filters["q"],
        status=filters["status"],
        type=filters["type"],
        source=filters["source"],
        assigned=filters["assigned"],
    )
    page = Paginator(tokens, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "rfid/card_list.html",
        {
            "page": page,
            "filters": filters,
            "query": query.urlencode(),
            "statuses": IdToken.Status.choices,
            "types": IdToken.Type.choices,
            "sources": IdToken.Source.choices,
        },
    )


@staff_required
def card_detail(request: HttpRequest, pk: int) -> HttpResponse:
    token = get_object_or_404(IdToken.objects.select_related("driver"), pk=pk)
    return render(
        request,
        "rfid/card_detail.html",
        {"token": token, "authorizations": selectors.authorization_log_search(id_token=token)[:20]},
    )


def _card_fields(form: IdTokenForm) -> dict:
    data = form.cleaned_data
    fields = {
        name: data[name]
        for name in ("printed_number", "type", "status", "expires_at", "parent_id_tag", "label", "source")
    }
    email = data["driver_email"]
    if email:
        driver = Driver.objects.filter(email__iexact=email).first()
        if driver is None:
            raise services.IdTokenError(f"no driver with e-mail {email!r}")
        fields["driver"] = driver
    else:
        fields["driver"] = None
    return fields


@operate_required
def card_create(request: HttpRequest) -> HttpResponse:
    form = IdTokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            token = services.id_token_create(uid=form.cleaned_data["uid"], **_card_fields(form))
        except services.IdTokenError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, gettext("Card %(uid)s created.") % {"uid": token.uid})
            return redirect("rfid:card-detail", pk=token.pk)
    return render(request, "rfid/card_form.html", {"form": form, "token": None})


@operate_required
def card_edit(request: HttpRequest, pk: int) -> HttpResponse:
    token = get_object_or_404(IdToken.objects.select_related("driver"), pk=pk)
    initial = {
        "printed_number": token.printed_number,
        "type": token.type,
        "status": token.status,
        "expires_at": token.expires_at,
        "parent_id_tag": token.parent_id_tag,
        "driver_email": token.driver.email if token.driver else "",
        "label": token.label,
        "source": token.source,
    }
    form = IdTokenForm(request.POST or None, initial=initial, editing=True)
    if request.method == "POST" and form.is_valid():
        try:
            services.id_token_update(id_token=token, **_card_fields(form))
        except services.IdTokenError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, gettext("Card %(uid)s saved.") % {"uid": token.uid})
            return redirect("rfid:card-detail", pk=token.pk)
    return render(request, "rfid/card_form.html", {"form": form, "token": token})


@require_POST
@operate_required
def card_block(request: HttpRequest, pk: int) -> HttpResponse:
    token = get_object_or_404(IdToken, pk=pk)
    services.id_token_block(id_token=token)
    messages.success(request, gettext("Card %(uid)s is blocked.") % {"uid": token.uid})
    return redirect("rfid:card-detail", pk=token.pk)


@require_POST
@operate_required
def card_unblock(request: HttpRequest, pk: int) -> HttpResponse:
    token = get_object_or_404(IdToken, pk=pk)
    try:
        services.id_token_unblock(id_token=token)
    except services.IdTokenError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, gettext("Card %(uid)s is valid again.") % {"uid": token.uid})
    return redirect("rfid:card-detail", pk=token.pk)


@operate_required
def card_import(request: HttpRequest) -> HttpResponse:
    form = ImportForm(request.POST or None, request.FILES or None)
    report = None
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        if upload.size > MAX_IMPORT_BYTES:
            form.add_error("file", "the file is larger than 2 MB; split it")
        else:
            try:
                text = upload.read().decode("utf-8-sig")
            except UnicodeDecodeError:
                form.add_error("file", "the file is not UTF-8 text")
            else:
                reader = csv.DictReader(io.StringIO(text))
                if not reader.fieldnames or "uid" not in [f.strip().lower() for f in reader.fieldnames]:
                    form.add_error("file", "the first line must name the columns, including uid")
                else:
                    report = services.id_token_import(rows=reader)
    return render(
        request,
        "rfid/card_import.html",
        {
            "form": form,
            "report": report,
            "created": sum(1 for row in report or [] if row.ok),
            "columns": services.IMPORT_COLUMNS,
        },
    )


@staff_required
def authorization_list(request: HttpRequest) -> HttpResponse:
    filters = {name: request.GET.get(name, "").strip() for name in ("q", "status", "station")}
    log = selectors.authorization_log_search(
        search=filters["q"], status=filters["status"], station=filters["station"]
    )
    page = Paginator(log, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "rfid/authorization_list.html",
        {
            "page": page,
            "filters": filters,
            "query": query.urlencode(),
            "statuses": ["Accepted", "Blocked", "Expired", "Invalid", "ConcurrentTx"],
            "log_model": AuthorizationLog,
        },
    )


# --- drivers ---------------------------------------------------------------------------------


def _driver(request: UserRequest) -> Driver:
    driver = selectors.driver_for_user(user=request.user)
    if driver is None:
        raise Http404("no driver account")
    return driver


def _own_card(request: UserRequest, pk: int) -> IdToken:
    # Another driver's card is a 404, never a 403: its existence is not disclosed.
    return get_object_or_404(IdToken, pk=pk, driver=_driver(request))


@driver_required
def account(request: UserRequest) -> HttpResponse:
    return render(
        request,
        "rfid/account.html",
        {"id_tokens": selectors.id_token_list_for_user(user=request.user), "claim_form": CardClaimForm()},
    )


@driver_required
def my_card_add(request: UserRequest) -> HttpResponse:
    form = CardClaimForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            token = services.driver_card_claim(
                driver=_driver(request),
                printed_number=form.cleaned_data["printed_number"],
                label=form.cleaned_data["label"],
            )
        except services.IdTokenError as exc:
            form.add_error("printed_number", str(exc))
        else:
            messages.success(
                request,
                gettext("Card %(printed_number)s added to your account.")
                % {"printed_number": token.printed_number},
            )
            return redirect("account")
    return render(request, "rfid/my_card_add.html", {"form": form})


@driver_required
def my_card_edit(request: UserRequest, pk: int) -> HttpResponse:
    token = _own_card(request, pk)
    form = CardLabelForm(request.POST or None, initial={"label": token.label})
    if request.method == "POST" and form.is_valid():
        services.driver_card_label(driver=_driver(request), id_token=token, label=form.cleaned_data["label"])
        messages.success(request, gettext("Card renamed."))
        return redirect("account")
    return render(request, "rfid/my_card_edit.html", {"form": form, "token": token})


@require_POST
@driver_required
def my_card_block(request: UserRequest, pk: int) -> HttpResponse:
    token = _own_card(request, pk)
    services.driver_card_block(driver=_driver(request), id_token=token)
    messages.success(
        request,
        gettext("Card %(uid)s is blocked. Nobody can charge with it any more.")
        % {"uid": token.printed_number or token.uid},
    )
    return redirect("account")


@require_POST
@driver_required
def my_card_unblock(request: UserRequest, pk: int) -> HttpResponse:
    token = _own_card(request, pk)
    try:
        services.driver_card_unblock(driver=_driver(request), id_token=token)
    except services.IdTokenError as exc:
        messages.error(
            request,
            gettext("Card %(uid)s stays blocked: %(exc)s.")
            % {"uid": token.printed_number or token.uid, "exc": exc},
        )
    else:
        messages.success(
            request, gettext("Card %(uid)s works again.") % {"uid": token.printed_number or token.uid}
        )
    return redirect("account")


@driver_required
def my_details(request: UserRequest) -> HttpResponse:
    """The driver's own details: name, phone, and what their invoices are addressed to."""
    driver = _driver(request)
    form = DriverDetailsForm(
        request.POST or None, initial={f: getattr(driver, f) for f in DriverDetailsForm.base_fields}
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.driver_profile_update(driver=driver, **form.cleaned_data)
        except services.DriverError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, gettext("Your details are saved; your next invoices use them."))
            return redirect("account")
    return render(request, "rfid/my_details.html", {"form": form}, status=400 if form.errors else 200)


@driver_required
def my_account_delete(request: UserRequest) -> HttpResponse:
    """Delete one's own account, after typing the user name to confirm."""
    if request.method == "POST":
        if request.POST.get("confirm", "") != request.user.username:
            messages.error(request, gettext("Type your user name to confirm; nothing was deleted."))
            return render(request, "rfid/my_account_delete.html", status=400)
        services.driver_account_delete(driver=_driver(request))
        logout(request)
        return render(request, "rfid/my_account_deleted.html")
    return render(request, "rfid/my_account_delete.html")


# --- sign-up --------------------------------------------------------------------------------


def signup(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("home")
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            driver = services.driver_signup(
                email=form.cleaned_data["email"],
                password=form.cleaned_data["password"],
                name=form.cleaned_data["name"],
                site_url=request.build_absolute_uri("/"),
            )
        except services.DriverError as exc:
            form.add_error(None, str(exc))
        else:
            return render(request, "rfid/signup_sent.html", {"email": driver.email})
    return render(request, "rfid/signup.html", {"form": form})


def signup_verify(request: HttpRequest, uidb64: str, token: str) -> HttpResponse:
    try:
        user = services.driver_email_verify(uidb64=uidb64, token=token)
    except services.DriverError as exc:
        return render(request, "rfid/signup_verify_failed.html", {"error": str(exc)}, status=400)
    login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    messages.success(request, gettext("Your e-mail address is confirmed. Welcome to ChargeNet!"))
    return redirect("account")
