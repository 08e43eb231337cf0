import pytest

from rfid.models import IdToken
from rfid.services import IdTokenError, id_token_create, id_token_update


@pytest.mark.django_db
def test_a_uid_is_unique_whatever_its_case():
    id_token_create(uid="04A1B2C3")

    with pytest.raises(IdTokenError, match="already exists"):
        id_token_create(uid="04a1b2c3")
    assert IdToken.objects.count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize("uid", ["", "with space", "x" * 37, "tab\there"])
def test_it_refuses_a_malformed_uid(uid):
    with pytest.raises(IdTokenError):
        id_token_create(uid=uid)
    assert not IdToken.objects.exists()


@pytest.mark.django_db
def test_two_cards_cannot_share_a_printed_number():
    id_token_create(uid="A1", printed_number="NL-1")
    other = id_token_create(uid="A2")

    with pytest.raises(IdTokenError, match="NL-1"):
        id_token_update(id_token=other, printed_number="NL-1")
    other.refresh_from_db()
    assert other.printed_number == ""


@pytest.mark.django_db
def test_it_refuses_an_unknown_status():
    token = id_token_create(uid="A1")

    with pytest.raises(IdTokenError, match="status"):
        id_token_update(id_token=token, status="Lost")
