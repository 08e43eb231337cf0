"""The PostgreSQL backend (chargenet/postgresql): a statement's placeholders converted once, and every
execution of it still bound to its own values."""

import pytest
from django.db import ProgrammingError, connection

from chargenet.postgresql import base

pytestmark = [
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="the PostgreSQL backend: runs with DATABASE_URL=postgres://… (as .ci/run does)",
    ),
    pytest.mark.django_db,
]


def test_a_long_multi_row_insert_run_again_stores_the_new_rows_not_the_first_ones():
    # given a statement with more placeholders than psycopg remembers the conversion of (50)
    rows = 60
    statement = "INSERT INTO pg_backend_rows (n, label) VALUES " + ", ".join(["(%s, %s)"] * rows)
    with connection.cursor() as cursor:
        cursor.execute("CREATE TEMPORARY TABLE pg_backend_rows (n int, label text)")

        # when it runs twice with different values
        for run in ("first", "second"):
            cursor.execute(statement, [value for n in range(rows) for value in (n, f"{run}-{n}")])

        # then each run stored its own rows, and the statement was converted once
        cursor.execute("SELECT count(*), count(DISTINCT label) FROM pg_backend_rows")
        assert cursor.fetchone() == (2 * rows, 2 * rows)
        cursor.execute("SELECT label FROM pg_backend_rows WHERE n = 59 ORDER BY label")
        assert [label for (label,) in cursor.fetchall()] == ["first-59", "second-59"]
    assert (statement, "utf-8") in base._converted


def test_named_placeholders_and_literal_percent_signs_keep_their_meaning_when_remembered():
    with connection.cursor() as cursor:
        for a, b in ((21, "x"), (5, "y")):
            cursor.execute("SELECT %(a)s::int * 2, %(b)s::text || '%%', %(a)s::int", {"a": a, "b": b})
            assert cursor.fetchone() == (a * 2, f"{b}%", a)


def test_a_wrong_number_of_values_is_refused_as_before():
    with connection.cursor() as cursor, pytest.raises(ProgrammingError, match="placeholders"):
        cursor.execute("SELECT %s::int, %s::int", [1])


def test_what_is_remembered_stays_within_its_bound_and_statements_stay_right_past_it(monkeypatch):
    # given room for the conversions of 200 parameters
    monkeypatch.setattr(base, "CACHED_PARAMETERS", 200)
    monkeypatch.setattr(base, "_converted", {})
    monkeypatch.setattr(base, "_converted_parameters", 0)

    # when statements of 120, 100 and 300 parameters run
    with connection.cursor() as cursor:
        for count in (120, 100, 300):
            cursor.execute("SELECT " + ", ".join(["%s::int"] * count), list(range(count)))
            # then each answers its own values
            assert cursor.fetchone() == tuple(range(count))

    # and no more than 200 parameters' conversions are held: the first was forgotten when the
    # second came, the third is too large to keep
    assert base._converted_parameters <= 200
    assert [len(key[0].split("%s")) - 1 for key in base._converted] == [100]
