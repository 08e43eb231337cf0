"""The API keys page under /settings/api-keys/: create a key (shown once), see and revoke yours."""

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from chargenet.api.models import ApiKey
from chargenet.api.services import ApiKeyError, api_key_create, api_key_revoke
from chargenet.permissions import UserRequest


class ApiKeyForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="Who or what will use the key")
    role = forms.ChoiceField(choices=ApiKey.Role.choices, initial=ApiKey.Role.READ)


@login_required
def api_key_list(request: UserRequest) -> HttpResponse:
    new_key = None
    form = ApiKeyForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            api_key, new_key = api_key_create(user=request.user, **form.cleaned_data)
        except ApiKeyError as exc:
            form.add_error(None, str(exc))
        else:
            form = ApiKeyForm()
    keys = ApiKey.objects.filter(user=request.user)
    return render(request, "chargenet/api_key_list.html", {"form": form, "keys": keys, "new_key": new_key})


@login_required
@require_POST
def api_key_revoke_page(request: HttpRequest, pk: int) -> HttpResponse:
    api_key = api_key_revoke(api_key=get_object_or_404(ApiKey, user=request.user, pk=pk))
    messages.success(request, gettext("The key %(name)s was revoked.") % {"name": repr(api_key.name)})
    return redirect("api:api-key-page")


@csrf_exempt
def api_not_found(request: HttpRequest, *args, **kwargs) -> JsonResponse:
    """A URL under /api/ that matches no endpoint (or a malformed id in one)."""
    return JsonResponse({"error": {"code": "not_found", "message": "Not found."}}, status=404)
