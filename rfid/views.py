"""The driver's self-service account page."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from chargenet.permissions import driver_required
from rfid import selectors


@driver_required
def account(request: HttpRequest) -> HttpResponse:
    return render(
        request, "rfid/account.html", {"id_tokens": selectors.id_token_list_for_user(user=request.user)}
    )
