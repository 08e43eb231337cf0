"""Forms of the rfid pages: they parse and check types; the services decide."""

from django import forms
from django.contrib.auth.password_validation import password_validators_help_text_html
from django.utils.functional import lazy
from django.utils.safestring import SafeString
from django.utils.translation import gettext_lazy as _

from rfid.models import IdToken


class IdTokenForm(forms.Form):
    """An operator's card form (the uid only when the card is created)."""

    uid = forms.CharField(
        max_length=36, label=_("UID"), help_text=_("As the reader sends it; case does not matter")
    )
    printed_number = forms.CharField(max_length=64, required=False, label=_("Printed number"))
    type = forms.ChoiceField(label=_("Type"), choices=IdToken.Type.choices, initial=IdToken.Type.ISO14443)
    status = forms.ChoiceField(
        label=_("Status"), choices=IdToken.Status.choices, initial=IdToken.Status.ACCEPTED
    )
    expires_at = forms.DateTimeField(
        required=False,
        label=_("Expires at (UTC)"),
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )
    parent_id_tag = forms.CharField(max_length=36, required=False, label=_("Group (parent id tag)"))
    driver_email = forms.EmailField(required=False, label=_("Owner (driver's e-mail)"))
    label = forms.CharField(max_length=100, required=False, label=_("Label"))
    source = forms.ChoiceField(
        label=_("Source"), choices=IdToken.Source.choices, initial=IdToken.Source.LOCAL
    )

    def __init__(self, *args, editing: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        if editing:
            del self.fields["uid"]


class ImportForm(forms.Form):
    """A CSV file of cards."""

    file = forms.FileField(label=_("CSV file"), help_text=_("UTF-8, first line = column names"))


class SignupForm(forms.Form):
    """A driver's sign-up."""

    name = forms.CharField(max_length=200, required=False, label=_("Name"))
    email = forms.EmailField(label=_("E-mail"))
    password = forms.CharField(
        label=_("Password"),
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        # Lazy: the validators' help (Django's own translations) in the language of the request.
        help_text=lazy(password_validators_help_text_html, SafeString)(),
    )


class CardClaimForm(forms.Form):
    """A driver adds a card by the number printed on it."""

    printed_number = forms.CharField(max_length=64, label=_("Card number (printed on the card)"))
    label = forms.CharField(max_length=100, required=False, help_text=_("e.g. “Car keys”"))


class CardLabelForm(forms.Form):
    label = forms.CharField(max_length=100, required=False, label=_("Label"))


class DriverDetailsForm(forms.Form):
    """A driver's own details; the billing ones go on their invoices."""

    name = forms.CharField(max_length=200, required=False, label=_("Name"))
    phone = forms.CharField(max_length=40, required=False, label=_("Phone"))
    billing_name = forms.CharField(max_length=200, required=False, label=_("Name on invoices"))
    billing_address = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4}), required=False, max_length=1000, label=_("Billing address")
    )
    vat_number = forms.CharField(max_length=40, required=False, label=_("VAT number (businesses)"))
