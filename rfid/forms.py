"""Forms of the rfid pages: they parse and check types; the services decide."""

from django import forms
from django.contrib.auth.password_validation import password_validators_help_text_html

from rfid.models import IdToken


class IdTokenForm(forms.Form):
    """An operator's card form (the uid only when the card is created)."""

    uid = forms.CharField(
        max_length=36, label="UID", help_text="As the reader sends it; case does not matter"
    )
    printed_number = forms.CharField(max_length=64, required=False, label="Printed number")
    type = forms.ChoiceField(choices=IdToken.Type.choices, initial=IdToken.Type.ISO14443)
    status = forms.ChoiceField(choices=IdToken.Status.choices, initial=IdToken.Status.ACCEPTED)
    expires_at = forms.DateTimeField(
        required=False,
        label="Expires at (UTC)",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )
    parent_id_tag = forms.CharField(max_length=36, required=False, label="Group (parent id tag)")
    driver_email = forms.EmailField(required=False, label="Owner (driver's e-mail)")
    label = forms.CharField(max_length=100, required=False)
    source = forms.ChoiceField(choices=IdToken.Source.choices, initial=IdToken.Source.LOCAL)

    def __init__(self, *args, editing: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        if editing:
            del self.fields["uid"]


class ImportForm(forms.Form):
    """A CSV file of cards."""

    file = forms.FileField(label="CSV file", help_text="UTF-8, first line = column names")


class SignupForm(forms.Form):
    """A driver's sign-up."""

    name = forms.CharField(max_length=200, required=False)
    email = forms.EmailField(label="E-mail")
    password = forms.CharField(
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=password_validators_help_text_html(),
    )


class CardClaimForm(forms.Form):
    """A driver adds a card by the number printed on it."""

    printed_number = forms.CharField(max_length=64, label="Card number (printed on the card)")
    label = forms.CharField(max_length=100, required=False, help_text="e.g. “Car keys”")


class CardLabelForm(forms.Form):
    label = forms.CharField(max_length=100, required=False)


class DriverDetailsForm(forms.Form):
    """A driver's own details; the billing ones go on their invoices."""

    name = forms.CharField(max_length=200, required=False)
    phone = forms.CharField(max_length=40, required=False)
    billing_name = forms.CharField(max_length=200, required=False, label="Name on invoices")
    billing_address = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4}), required=False, max_length=1000
    )
    vat_number = forms.CharField(max_length=40, required=False, label="VAT number (businesses)")
