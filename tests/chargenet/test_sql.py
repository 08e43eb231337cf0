"""chargenet/sql.py: the rows Insert.values writes and Select.many reads are the ORM's."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from chargenet import sql
from chargenet.models import Event
from stations.models import MeterSample, OcppMessage
from stations.services import station_create


@pytest.mark.django_db
def test_values_stores_what_the_orm_stores_defaults_and_time_of_writing_included():
    station, _ = station_create(identity="CP-1")
    before = timezone.now()

    sql.Insert(OcppMessage).values(
        [
            {"station_id": station.pk, "identity": "CP-1", "direction": "in", "payload": "[2]"},
            # a number where text belongs is stored as the ORM stores it: as text
            {"station_id": None, "identity": 7, "direction": "out", "message_type": 3, "payload": "[3]"},
        ]
    )

    first, second = OcppMessage.objects.order_by("pk")
    assert (first.station_id, first.identity, first.direction, first.message_type, first.action) == (
        station.pk,
        "CP-1",
        "in",
        None,
        "",
    )
    assert (second.station_id, second.identity, second.message_type) == (None, "7", 3)
    assert before <= first.created_at == second.created_at <= timezone.now()


@pytest.mark.django_db
def test_values_returns_the_new_keys_in_order_and_keeps_a_given_time():
    given = datetime(2026, 1, 2, 3, 4, 5, 600000, tzinfo=UTC)
    insert = sql.Insert(Event, returning_pks=True)

    pks = insert.values(
        [
            {"type": "a.one", "data": {"n": 1, "price": Decimal("0.30")}},
            {"type": "a.two", "data": {"n": 2}, "created_at": given},
        ]
    )

    one, two = (Event.objects.get(pk=pk) for pk in pks)
    assert (one.type, one.data, two.type, two.data) == ("a.one", {"n": 1, "price": "0.30"}, "a.two", {"n": 2})
    assert (one.done, one.attempts, one.last_error, one.dispatched_at) == ([], 0, "", None)
    assert one.uuid != two.uuid
    assert one.created_at == one.next_attempt_at == two.next_attempt_at
    assert two.created_at == given


@pytest.mark.django_db
def test_values_ignores_a_conflicting_row_when_asked():
    station, _ = station_create(identity="CP-1")
    at = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    insert = sql.Insert(MeterSample, ignore_conflicts=True)
    row = {"station_id": station.pk, "timestamp": at, "value": Decimal("1234.5"), "unit": "Wh"}

    insert.values([row])
    insert.values([row, {**row, "value": 99.25, "measurand": "Power.Active.Import", "unit": "W"}])

    samples = list(MeterSample.objects.order_by("pk").values_list("measurand", "value", "unit", "timestamp"))
    assert samples == [
        ("Energy.Active.Import.Register", Decimal("1234.5"), "Wh", at),
        ("Power.Active.Import", Decimal("99.25"), "W", at),
    ]


@pytest.mark.django_db
def test_values_refuses_a_row_that_names_no_column_and_stores_nothing():
    station, _ = station_create(identity="CP-1")

    with pytest.raises(TypeError, match="station"):
        sql.Insert(OcppMessage).values([{"station": station, "identity": "CP-1", "payload": "[2]"}])

    assert not OcppMessage.objects.exists()


@pytest.mark.django_db
def test_many_reads_what_the_orm_reads_in_key_order_and_an_empty_list_names_nothing():
    pks = sql.Insert(Event, returning_pks=True).values(
        [{"type": f"t.{n}", "data": {"n": n}} for n in range(5)]
    )
    Event.objects.filter(pk=pks[1]).update(dispatched_at=timezone.now())
    claim = sql.Select(Event, where=["id__in", "dispatched_at__isnull"], lock=True)

    claimed = claim.many([pks[4], pks[1], pks[0], pks[3]])

    expected = Event.objects.filter(pk__in=[pks[0], pks[3], pks[4]]).order_by("pk")
    assert [e.pk for e in claimed] == [e.pk for e in expected] == [pks[0], pks[3], pks[4]]
    for got, orm in zip(claimed, expected, strict=True):
        assert (got.uuid, got.type, got.data, got.done, got.next_attempt_at, got.dispatched_at) == (
            orm.uuid, orm.type, orm.data, orm.done, orm.next_attempt_at, None
        )  # fmt: skip
    assert claim.many([]) == []
    with pytest.raises(TypeError):
        claim.many([pks[0]], None)
    # A bound and a limit: the first pending ones up to an id, as the dispatcher claims them.
    Event.objects.filter(pk=pks[2]).update(next_attempt_at=timezone.now() + timedelta(hours=1))
    due = sql.Select(Event, where=["dispatched_at__isnull", "id__lte", "next_attempt_at__lte"], lock=True)
    assert [e.pk for e in due.many(pks[3], timezone.now())] == [pks[0], pks[3]]
    assert [e.pk for e in due.many(pks[4], timezone.now(), limit=2)] == [pks[0], pks[3]]


@pytest.mark.django_db
def test_objects_stores_the_objects_as_made_and_makes_them_saved_ones():
    station, _ = station_create(identity="CP-1")
    before = timezone.now()
    made = [
        OcppMessage(station=station, identity="CP-1", direction="in", payload="[2]"),
        OcppMessage(station=None, identity="CP-2", direction="out", payload="[3]"),
    ]
    insert = sql.Insert(OcppMessage, returning_pks=True)

    insert.objects(made)

    stored = list(OcppMessage.objects.order_by("pk"))
    assert [m.pk for m in made] == [m.pk for m in stored]
    for obj, row in zip(made, stored, strict=True):
        # the time of writing (auto_now_add) is the object's too
        assert (obj.station_id, obj.identity, obj.payload, obj.created_at) == (
            row.station_id, row.identity, row.payload, row.created_at
        )  # fmt: skip
        assert before <= obj.created_at <= timezone.now()
    made[0].payload = "[2,1]"
    made[0].save(update_fields=["payload"])  # an UPDATE of the stored row, not a second row
    assert OcppMessage.objects.count() == 2 and OcppMessage.objects.get(pk=made[0].pk).payload == "[2,1]"


@pytest.mark.django_db
def test_raw_with_columns_gives_the_orms_values():
    station, _ = station_create(identity="CP-1")
    at = datetime(2026, 1, 2, 3, 4, 5, 600000, tzinfo=UTC)
    sql.Insert(MeterSample).values([{"station_id": station.pk, "timestamp": at, "value": Decimal("1234.5")}])
    write = lambda qn: f"SELECT {qn('timestamp')}, {qn('value')} FROM {qn(MeterSample._meta.db_table)}"  # noqa: E731

    converted = sql.Raw(MeterSample, write, columns=("timestamp", "value"))()

    assert (
        converted == list(MeterSample.objects.values_list("timestamp", "value")) == [(at, Decimal("1234.5"))]
    )
    assert isinstance(converted[0][1], Decimal)


@pytest.mark.django_db
def test_update_all_sets_the_same_values_on_the_rows_named_and_no_other():
    pks = sql.Insert(Event, returning_pks=True).values([{"type": f"t.{n}", "data": {}} for n in range(4)])
    at = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)

    changed = sql.Update(Event, ["done", "dispatched_at"]).all([pks[0], pks[2], pks[3]], ["a.b"], at)

    assert changed == 3
    rows = dict(Event.objects.values_list("pk", "dispatched_at"))
    assert rows == {pks[0]: at, pks[1]: None, pks[2]: at, pks[3]: at}
    assert Event.objects.get(pk=pks[2]).done == ["a.b"] and Event.objects.get(pk=pks[1]).done == []


@pytest.mark.django_db
def test_select_only_reads_the_fields_named_and_the_rest_when_asked():
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from stations.models import Evse, Station

    station, _ = station_create(identity="CP-ONLY")
    Station.objects.filter(pk=station.pk).update(vendor="Acme")
    evse = Evse.objects.get(station=station, evse_id=1)
    select = sql.Select(
        Evse, where=["station_id", "evse_id"], related=["station"], only={"station": ["identity"]}
    )

    with CaptureQueriesContext(connection) as read:
        found = select(station.pk, 1)
        assert (found.pk, found.evse_id, found.station.pk, found.station.identity) == (
            evse.pk,
            1,
            station.pk,
            "CP-ONLY",
        )
    assert len(read) == 1  # the row with its station, nothing more
    assert '"vendor"' not in read[0]["sql"]

    # a field not read is read when used, as the ORM's only() does
    with CaptureQueriesContext(connection) as later:
        assert found.station.vendor == "Acme"
    assert len(later) == 1

    with pytest.raises(ValueError, match="vendr"):
        sql.Select(Evse, where=["evse_id"], related=["station"], only={"station": ["vendr"]})(station.pk)
    with pytest.raises(ValueError, match="location"):
        sql.Select(Evse, where=["evse_id"], related=["station"], only={"location": ["name"]})
