from stations.network.passwords import password_check, password_generate, password_hash


def test_a_station_password_matches_only_itself():
    password = password_generate()
    stored = password_hash(password)

    assert 16 <= len(password) <= 40
    assert password_check(password, stored)
    assert not password_check(password + "x", stored)
    assert not password_check(password, "")


def test_the_same_password_hashes_differently_each_time():
    assert password_hash("same-password-123") != password_hash("same-password-123")
