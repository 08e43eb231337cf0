"""Admins add operators from the dashboard: an invitation e-mail to choose a password, a role."""

import re

import pytest
from django.core import mail

from chargenet.models import User


@pytest.mark.django_db(transaction=True)
def test_an_admin_invites_an_operator_who_sets_a_password_and_signs_in(client, admin_user):
    # given Ada, an admin, on the users page
    client.force_login(admin_user)

    # when she invites Otto as an operator
    response = client.post(
        "/users/invite/", {"username": "otto", "email": "otto@example.com", "role": "operator"}, follow=True
    )

    # then Otto exists, cannot sign in yet, and got an e-mail with a link to choose a password
    assert "Invited otto (Operator)" in response.text
    otto = User.objects.get(username="otto")
    assert otto.role == "operator" and not otto.has_usable_password()
    (invitation,) = mail.outbox
    assert invitation.to == ["otto@example.com"]
    link = re.search(r"https?://\S+", invitation.body).group(0)

    # and following it he chooses a password and can sign in
    client.logout()
    form = client.get(link.split("://", 1)[1].split("/", 1)[1].join(["/", ""]), follow=True)
    client.post(
        form.redirect_chain[-1][0],
        {"new_password1": "otto-charges-2026", "new_password2": "otto-charges-2026"},
    )
    assert client.login(username="otto", password="otto-charges-2026")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (
            {"username": "olivia", "email": "o@example.com", "role": "viewer"},
            "the user name &#x27;olivia&#x27; is taken",
        ),
        ({"username": "x", "email": "", "role": "viewer"}, "give the e-mail address"),
        ({"username": "x", "email": "x@example.com", "role": "driver"}, "choose admin, operator or viewer"),
    ],
    ids=["taken", "no e-mail", "driver role"],
)
def test_a_bad_invitation_is_refused_and_adds_no_one(client, admin_user, operator, fields, message):
    client.force_login(admin_user)
    before = User.objects.count()

    response = client.post("/users/invite/", fields, follow=True)

    assert message in response.text
    assert User.objects.count() == before and not mail.outbox


@pytest.mark.django_db
def test_only_admins_invite(client, operator):
    client.force_login(operator)

    response = client.post("/users/invite/", {"username": "x", "email": "x@example.com", "role": "admin"})

    assert response.status_code == 403
    assert not User.objects.filter(username="x").exists()
