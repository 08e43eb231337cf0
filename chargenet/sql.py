"""Statements compiled once: the OCPP writer's hottest SQL without Django building it for every message.

The ORM builds and compiles a query's SQL anew on every call (`QuerySet.first()` → `as_sql`,
`get_select`, `get_order_by`, the `select_related` columns …). On the writer thread, which commits
every station message, that compiling cost more CPU than the database's own work. The few statements
that each MeterValues and StatusNotification runs are therefore written here, once per database
connection, from the models' `_meta` (table and column names quoted by the backend, so they follow
the models), and run with a plain cursor:

- values go through each field's `get_db_prep_save` / `get_db_prep_value` (and `pre_save`, so
  `auto_now_add` is kept), as in the ORM, except where `Insert.values` knows the field would return
  them unchanged (a `str` for a text column, an `int` for an integer one);
- rows come back through the backend's and the fields' converters, as in the ORM, and become model
  instances as `Model.from_db` makes them, their values set straight into the instance (joined
  models cached on the instance, as `select_related` does);
- a locking read locks only the main table, on the backends that can (`FOR UPDATE OF`, PostgreSQL);
  SQLite locks the whole database for the writer anyway;
- an insert that ignores conflicts uses the backend's own form (`INSERT OR IGNORE` on SQLite,
  `ON CONFLICT DO NOTHING` on PostgreSQL), as `bulk_create(ignore_conflicts=True)` does.

No signals are sent (none are connected to these models). Only for the statements the profile named;
every other query stays in the ORM.

Inside `writes_grouped()` (the OCPP group commit), `Insert.later` and `Update.later` wait for
`writes_group_store()` at the end of the transaction: the rows of every message of the group in one
statement each, instead of a statement (on PostgreSQL, a round trip) per message.
"""

import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from django.db import connections, router, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import DateTimeField, Field, Model
from django.db.models.base import ModelState
from django.db.models.constants import OnConflict
from django.utils import timezone

M = TypeVar("M", bound=Model)


def _field(model: type[Model], name: str) -> Any:
    """The concrete field `name` of `model` (a foreign key's too), typed loosely: the stubs type
    get_field() as a union with reverse relations, which these statements never name."""
    field = model._meta.get_field(name)
    assert isinstance(field, Field) and field.concrete, f"{model.__name__}.{name} is not a column"
    return field


def _converters(field: Field, alias: str, connection: BaseDatabaseWrapper) -> list[Any]:
    """The converters the ORM's compiler applies to `field`'s column (SQLCompiler.get_converters)."""
    column = field.get_col(alias)
    return [*connection.ops.get_db_converters(column), *column.get_db_converters(connection)]


@dataclass
class _Table:
    model: type[Model]
    alias: str
    parent: int | None  # index of the table it is joined to
    field: Any  # the foreign key on the parent that leads here
    start: int  # its first column in the row
    pk: int  # its primary key's column in the row
    converters: list[tuple[int, list[Any], Any]]  # (column, converters, expression)
    attnames: list[str]  # of its columns, in order


def _instance(model: type[M], db: str, attnames: list[str], values: list[Any]) -> M:
    """`model.from_db(db, attnames, values)` for a row of every concrete field, without Model.__init__
    (a setattr per field, init signals): the values go straight to the instance's __dict__, where
    the fields' descriptors read them. Models with their own __init__ take from_db."""
    if model.__init__ is not Model.__init__:
        return model.from_db(db, attnames, values)
    instance = model.__new__(model)
    instance._state = ModelState()
    instance._state.adding, instance._state.db = False, db
    instance.__dict__.update(zip(attnames, values, strict=True))
    return instance


class Select(Generic[M]):
    """`model.objects.select_related(*related).filter(**{lookup: value …}).first()` for a filter that
    names at most one row (a unique constraint), so with no ORDER BY; `lock` adds FOR UPDATE OF the
    main table where the backend has it. Lookups are equalities on "field" or "relation__field" of
    a joined relation; "…__iexact" compares `LOWER(column) = LOWER(value)`, which an index on the
    lowered column serves (the ORM's iexact is `LIKE` on SQLite and `UPPER(…)` on PostgreSQL, which
    no such index serves); "…__isnull" is `IS NULL` and takes no value. `many(…)` returns every row
    the filter names (the first `limit` of them), in primary-key order, takes a sequence for an
    "…__in" lookup and a bound for an "…__lte" one, and with `lock` skips the rows another
    transaction holds (SKIP LOCKED) where the backend can. `only` maps a table ("" for the main one,
    else its `related` path) to the fields read of it, as the ORM's `only()`: the others are deferred
    (read by a query of their own if ever used), so a row's wide relation costs no conversion of
    columns nobody reads."""

    def __init__(
        self,
        model: type[M],
        *,
        where: Sequence[str],
        related: Sequence[str] = (),
        lock: bool = False,
        only: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        self.model, self.where, self.related, self.lock = model, tuple(where), tuple(related), lock
        self.only = {path: set(names) for path, names in (only or {}).items()}
        if unknown := set(self.only) - {"", *self.related}:
            raise ValueError(f"only names tables the statement does not read: {sorted(unknown)}")
        self._compiled: dict[str, tuple[str, list[str], list[_Table], list[Field | None]]] = {}
        self._one: dict[str, tuple[str, list[Field]]] = {}  # __call__'s statement and valued fields

    def _compile(
        self, connection: BaseDatabaseWrapper
    ) -> tuple[str, list[str], list[_Table], list[Field | None]]:
        """The SELECT … FROM … JOIN head, the conditions (an "…__in" one ends in " IN ", its
        placeholders added per call), the tables, and each condition's field (None: no value)."""
        qn = connection.ops.quote_name
        tables = [_Table(self.model, "t0", None, None, 0, 0, [], [])]
        by_path: dict[str, int] = {"": 0}
        joins, nullable = [], {0: False}
        for path in self.related:
            parent_path, _, name = path.rpartition("__")
            parent = by_path[parent_path]
            field = _field(tables[parent].model, name)
            index = len(tables)
            tables.append(_Table(field.related_model, f"t{index}", parent, field, 0, 0, [], []))
            by_path[path] = index
            nullable[index] = nullable[parent] or field.null
            kind = "LEFT OUTER JOIN" if nullable[index] else "INNER JOIN"
            target = field.target_field.column
            joins.append(
                f"{kind} {qn(field.related_model._meta.db_table)} {qn(f't{index}')} "
                f"ON ({qn(f't{index}')}.{qn(target)} = {qn(tables[parent].alias)}.{qn(field.column)})"
            )
        columns: list[str] = []
        paths = {index: path for path, index in by_path.items()}
        for index, table in enumerate(tables):
            names = self.only.get(paths[index])
            known = {n for f in table.model._meta.concrete_fields for n in (f.name, f.attname)}
            if names is not None and names - known:
                raise ValueError(f"{table.model.__name__} has no field {sorted(names - known)}")
            read = [
                f
                for f in table.model._meta.concrete_fields
                if names is None or f.primary_key or f.name in names or f.attname in names
            ]
            table.attnames = [f.attname for f in read]
            table.start = len(columns)
            table.pk = table.start + read.index(table.model._meta.pk)
            for offset, field in enumerate(read):
                columns.append(f"{qn(table.alias)}.{qn(field.column)}")
                converters = _converters(field, table.alias, connection)
                if converters:
                    table.converters.append((table.start + offset, converters, field.get_col(table.alias)))
        conditions: list[str] = []
        fields: list[Field | None] = []
        for lookup in self.where:
            kind = lookup.rpartition("__")[2]
            if kind in ("iexact", "in", "isnull", "lte"):
                lookup = lookup.removesuffix(f"__{kind}")
            else:
                kind = ""
            path, _, name = lookup.rpartition("__")
            table = tables[by_path[path]]
            field = _field(table.model, name)
            column = f"{qn(table.alias)}.{qn(field.column)}"
            if kind == "isnull":
                conditions.append(f"{column} IS NULL")
                fields.append(None)
                continue
            conditions.append(
                {
                    "iexact": f"LOWER({column}) = LOWER(%s)",
                    "in": f"{column} IN ",
                    "lte": f"{column} <= %s",
                }.get(kind, f"{column} = %s")
            )
            fields.append(field)
        head = (
            f"SELECT {', '.join(columns)} FROM {qn(self.model._meta.db_table)} {qn('t0')} {' '.join(joins)}"
        )
        return head, conditions, tables, fields

    def _prepared(
        self,
    ) -> tuple[str, BaseDatabaseWrapper, tuple[str, list[str], list[_Table], list[Field | None]]]:
        db = router.db_for_write(self.model) if self.lock else router.db_for_read(self.model)
        connection = connections[db]
        compiled = self._compiled.get(db)
        if compiled is None:
            compiled = self._compiled[db] = self._compile(connection)
        return db, connection, compiled

    def _lock_sql(self, connection: BaseDatabaseWrapper, *, skip_locked: bool) -> str:
        if not (self.lock and connection.features.has_select_for_update):
            return ""
        qn = connection.ops.quote_name
        of = (qn("t0"),) if connection.features.has_select_for_update_of else ()
        skip_locked = skip_locked and connection.features.has_select_for_update_skip_locked
        return " " + connection.ops.for_update_sql(of=of, skip_locked=skip_locked)

    def __call__(self, *values: Any) -> M | None:
        db, connection, (head, conditions, tables, fields) = self._prepared()
        one = self._one.get(db)
        if one is None:
            assert not any(c.endswith(" IN ") for c in conditions), "an IN lookup names many rows: many()"
            one = self._one[db] = (
                f"{head} WHERE {' AND '.join(conditions)} {connection.ops.limit_offset_sql(0, 1)}"
                + self._lock_sql(connection, skip_locked=False),
                [field for field in fields if field is not None],
            )
        sql, valued = one
        params = [
            field.get_db_prep_value(value, connection) for field, value in zip(valued, values, strict=True)
        ]
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            row = cursor.fetchone()
        return None if row is None else _instances(row, tables, db, connection)

    def many(self, *values: Any, limit: int | None = None) -> list[M]:
        db, connection, (head, conditions, tables, fields) = self._prepared()
        if len(values) != sum(field is not None for field in fields):
            raise TypeError(f"{len(values)} values for the lookups {self.where}")
        where: list[str] = []
        params: list[Any] = []
        given = iter(values)
        for condition, field in zip(conditions, fields, strict=True):
            if field is None:
                where.append(condition)
                continue
            value = next(given)
            if condition.endswith(" IN "):
                if not value:
                    return []
                where.append(f"{condition}({', '.join(['%s'] * len(value))})")
                params.extend(field.get_db_prep_value(v, connection) for v in value)
            else:
                where.append(condition)
                params.append(field.get_db_prep_value(value, connection))
        qn = connection.ops.quote_name
        sql = (
            f"{head} WHERE {' AND '.join(where)} ORDER BY {qn('t0')}.{qn(self.model._meta.pk.column)}"
            + ("" if limit is None else f" {connection.ops.limit_offset_sql(0, limit)}")
            + self._lock_sql(connection, skip_locked=True)
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            rows = cursor.fetchall()
        return [_instances(row, tables, db, connection) for row in rows]


def _instances(row: Sequence[Any], tables: list[_Table], db: str, connection: BaseDatabaseWrapper) -> Any:
    """The main table's instance of a Select's `row`, with the joined ones cached on it."""
    row = list(row)
    instances: list[Model | None] = []
    for table in tables:
        for column, converters, expression in table.converters:
            value = row[column]
            for converter in converters:
                value = converter(value, expression, connection)
            row[column] = value
        values_of = row[table.start : table.start + len(table.attnames)]
        if row[table.pk] is None:
            instance = None  # a nullable relation that is empty (LEFT OUTER JOIN)
        else:
            instance = _instance(table.model, db, table.attnames, values_of)
        instances.append(instance)
        if table.parent is not None and instances[table.parent] is not None:
            table.field.set_cached_value(instances[table.parent], instance)
    return instances[0]


class Update:
    """`model.objects.filter(pk=pk).update(**dict(zip(fields, values)))`; returns the rows changed.
    `unless_blank` names fields whose blank value leaves the row alone (`.exclude(field="")`). A
    value of a plain type that its column stores as it is skips the field's preparation, as in
    `Insert.values`."""

    def __init__(
        self, model: type[Model], fields: Sequence[str], *, unless_blank: Sequence[str] = ()
    ) -> None:
        self.model = model
        self.fields = [_field(model, name) for name in fields]
        self._plain = [_plain_types(field) for field in self.fields]
        self.unless_blank = [_field(model, name) for name in unless_blank]
        self._sql: dict[str, str] = {}

    def _statement(self, connection: BaseDatabaseWrapper, keys: int = 0) -> str:
        """The UPDATE for one row (`pk = %s`), or for `keys` rows (`pk IN (%s, …)`)."""
        qn = connection.ops.quote_name
        assignments = ", ".join(f"{qn(field.column)} = %s" for field in self.fields)
        pk = qn(self.model._meta.pk.column)
        conditions = [f"{pk} IN ({', '.join(['%s'] * keys)})" if keys else f"{pk} = %s"]
        conditions += [f"{qn(field.column)} <> ''" for field in self.unless_blank]
        return f"UPDATE {qn(self.model._meta.db_table)} SET {assignments} WHERE {' AND '.join(conditions)}"

    def _prepared(self) -> tuple[BaseDatabaseWrapper, str]:
        connection = connections[router.db_for_write(self.model)]
        sql = self._sql.get(connection.alias)
        if sql is None:
            sql = self._sql[connection.alias] = self._statement(connection)
        return connection, sql

    def _params(self, connection: BaseDatabaseWrapper, pk: Any, values: Sequence[Any]) -> list[Any]:
        prepared = [
            v if v is None or type(v) in plain else field.get_db_prep_save(v, connection)
            for field, plain, v in zip(self.fields, self._plain, values, strict=True)
        ]
        return [*prepared, pk]

    def __call__(self, pk: Any, *values: Any) -> int:
        connection, sql = self._prepared()
        with connection.cursor() as cursor:
            cursor.execute(sql, self._params(connection, pk, values))
            return cursor.rowcount

    def many(self, rows: Sequence[tuple[Any, ...]]) -> None:
        """The same statement executed once for every (pk, *values) row."""
        connection, sql = self._prepared()
        with connection.cursor() as cursor:
            cursor.executemany(sql, [self._params(connection, pk, values) for pk, *values in rows])

    def all(self, pks: Sequence[Any], *values: Any) -> int:
        """The same `values` for every row of `pks`, in one statement (`WHERE pk IN (…)`, a few
        hundred keys at a time); returns the rows changed."""
        connection = connections[router.db_for_write(self.model)]
        prepared = self._params(connection, None, values)[:-1]
        changed = 0
        with connection.cursor() as cursor:
            for start in range(0, len(pks), 500):
                part = pks[start : start + 500]
                cursor.execute(self._statement(connection, len(part)), [*prepared, *part])
                changed += cursor.rowcount
        return changed

    def later(self, pk: Any, *values: Any) -> None:
        """`self(pk, *values)`, or, inside `writes_grouped()`, with the group's other rows of this
        statement (`many`) at `writes_group_store()`. For a write nothing reads back before the
        commit (the rows changed are not counted)."""
        if not _later(self, (pk, *values)):
            self(pk, *values)

    def _store(self, rows: list[Any]) -> None:
        self.many(rows)


class Insert:
    """`model.objects.bulk_create(objs, ignore_conflicts=…)` for new rows, given as dicts (`values`).
    Rows go in the batches the backend allows, one multi-row INSERT each. With `returning_pks` their
    primary keys come back, as from `bulk_create` (INSERT … RETURNING, in row order; a backend
    without it takes the ORM's way)."""

    def __init__(
        self, model: type[Model], *, ignore_conflicts: bool = False, returning_pks: bool = False
    ) -> None:
        assert not (ignore_conflicts and returning_pks), "an ignored row returns no primary key"
        self.model = model
        self.on_conflict = OnConflict.IGNORE if ignore_conflicts else None
        self.returning_pks = returning_pks
        self.fields = [f for f in model._meta.concrete_fields if f is not model._meta.pk and not f.generated]
        self._plans: list[tuple[str, Field, tuple[type, ...], Any]] = []  # made on first use
        self._attnames = frozenset(f.attname for f in self.fields)

    def values(self, rows: Sequence[dict[str, Any]], *, now: datetime | None = None) -> list[Any]:
        """`bulk_create` of the objects `self.model(**row)`, without making them: a row names its
        columns by attname (a foreign key as "station_id"; any other key is a TypeError, as for the
        model); a column it leaves out gets the field's default, and `auto_now`/`auto_now_add`
        columns get the time of the call, as `pre_save` does; so do the columns whose default is
        `timezone.now` (as if the rows were made at once). A value of a plain type that its column
        stores as it is (a str for text, an int for an integer or an integer foreign key, a bool for
        a boolean, None) skips the field's `get_db_prep_save`, which would return it unchanged; every
        other value goes through it. Returns the new primary keys with `returning_pks` (in row
        order), else an empty list. `now`, when given, is the time of the call.

        For the writer's busiest inserts (the message log, meter samples, events): making a model
        instance and preparing every field through the ORM cost more than the INSERT itself."""
        if not rows:
            return []
        connection = connections[router.db_for_write(self.model)]
        if self.returning_pks and not connection.features.can_return_rows_from_bulk_insert:
            objs = self.model._default_manager.using(connection.alias).bulk_create(
                [self.model(**row) for row in rows]
            )
            return [obj.pk for obj in objs]
        plans = self._plans = self._plans or self._plan()
        now = now or timezone.now()
        now_db = None  # `now` as the database takes it, prepared once
        known = self._attnames
        objs_params: list[list[Any]] = []
        for row in rows:
            if not known.issuperset(row):
                raise TypeError(f"{self.model.__name__} has no column {sorted(set(row) - known)}")
            params = []
            for attname, field, plain, default in plans:
                if default is _NOW or (default is _NOW_UNLESS_GIVEN and attname not in row):
                    if now_db is None:
                        now_db = field.get_db_prep_save(now, connection)
                    params.append(now_db)
                    continue
                if attname in row:
                    value = row[attname]
                else:
                    value = field.get_default() if default is _DEFAULT else default
                if value is not None and type(value) not in plain:
                    value = field.get_db_prep_save(value, connection)
                params.append(value)
            objs_params.append(params)
        return self._execute(connection, objs_params)

    def objects(self, objs: Sequence[Model]) -> None:
        """`bulk_create(objs)` for objects made by the model's constructor (their defaults and the
        related objects they were given kept as usual), without the ORM building the INSERT: their
        `auto_now`/`auto_now_add` columns get the time of the call, on the objects too, and with
        `returning_pks` their primary keys; they are then saved objects of that database."""
        if not objs:
            return
        now = timezone.now()
        self._plans = self._plans or self._plan()
        for attname, _, _, default in self._plans:
            if default is _NOW:
                for obj in objs:
                    setattr(obj, attname, now)
        pks = self.values([{name: getattr(obj, name) for name in self._attnames} for obj in objs], now=now)
        db = router.db_for_write(self.model)
        for index, obj in enumerate(objs):
            if pks:
                obj.pk = pks[index]
            obj._state.adding, obj._state.db = False, db

    def later(self, rows: Sequence[dict[str, Any]]) -> None:
        """`self.values(rows)`, or, inside `writes_grouped()`, in the group's one INSERT of this
        statement at `writes_group_store()` (its `auto_now` columns then get that time, a few
        milliseconds later). For rows nothing reads back before the commit; no primary keys."""
        assert not self.returning_pks, "a deferred row returns no primary key"
        if not all(_later(self, row) for row in rows):
            self.values(rows)

    def _store(self, rows: list[Any]) -> None:
        self.values(rows)

    def _plan(self) -> list[tuple[str, Field, tuple[type, ...], Any]]:
        """For each column: its attname, field, the types it stores unchanged, and its default."""
        plans = []
        for field in self.fields:
            plain = _plain_types(field)
            if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
                assert isinstance(field, DateTimeField), f"{field} is set to now but is not a DateTimeField"
                default: Any = _NOW
            elif isinstance(field, DateTimeField) and field.default is timezone.now:
                default = _NOW_UNLESS_GIVEN
            elif field.has_default() and callable(field.default):
                default = _DEFAULT
            else:
                default = field.get_default()
            plans.append((field.attname, field, plain, default))
        return plans

    def _execute(self, connection: BaseDatabaseWrapper, rows: list[list[Any]]) -> list[Any]:
        ops, qn, fields = connection.ops, connection.ops.quote_name, self.fields
        returning = ""
        if self.returning_pks:
            returning, _ = ops.return_insert_columns([self.model._meta.pk])
        pk = _field(self.model, self.model._meta.pk.name) if returning else None
        pk_converters = _converters(pk, self.model._meta.db_table, connection) if pk is not None else []
        head = (
            f"{ops.insert_statement(on_conflict=self.on_conflict)} {qn(self.model._meta.db_table)} "
            f"({', '.join(qn(f.column) for f in fields)}) VALUES "
        )
        tail = f"{ops.on_conflict_suffix_sql(fields, self.on_conflict, None, None)} {returning}"
        placeholder = f"({', '.join(['%s'] * len(fields))})"
        size = max(ops.bulk_batch_size(fields, rows), 1)
        pks: list[Any] = []
        with connection.cursor() as cursor:
            for start in range(0, len(rows), size):
                batch = rows[start : start + size]
                params = [value for row in batch for value in row]
                cursor.execute(f"{head}{', '.join([placeholder] * len(batch))} {tail}", params)
                if returning:
                    for (value,) in cursor.fetchall():
                        for converter in pk_converters:
                            value = converter(value, pk, connection)
                        pks.append(value)
        return pks


def _plain_types(field: Field) -> tuple[type, ...]:
    """The Python types that `field`'s column stores unchanged (its get_db_prep_save(v) is v)."""
    internal = field.get_internal_type()
    if field.is_relation:
        internal = field.target_field.get_internal_type()  # type: ignore[attr-defined]
    return _PLAIN.get(internal, ())


# The Python types each kind of column stores unchanged.
_TEXT = (str,)
_INTEGER = (int,)
_PLAIN: dict[str, tuple[type, ...]] = {
    "CharField": _TEXT,
    "TextField": _TEXT,
    "SlugField": _TEXT,
    "EmailField": _TEXT,
    "URLField": _TEXT,
    "AutoField": _INTEGER,
    "BigAutoField": _INTEGER,
    "SmallAutoField": _INTEGER,
    "IntegerField": _INTEGER,
    "BigIntegerField": _INTEGER,
    "SmallIntegerField": _INTEGER,
    "PositiveIntegerField": _INTEGER,
    "PositiveBigIntegerField": _INTEGER,
    "PositiveSmallIntegerField": _INTEGER,
    "BooleanField": (bool,),
}
# Insert.values: the column is set to the time of the call (auto_now, auto_now_add) …
_NOW = object()
# … or is, unless the row gives it (default=timezone.now: one time for the rows of a call, as if
# they were made at once).
_NOW_UNLESS_GIVEN = object()
_DEFAULT = object()  # Insert.values: the column's default is called for each row


class Raw:
    """A statement that Select cannot say (many rows, an OR across a subquery), written once per
    database by `write(quote_name)`; called with its parameters, returns its rows as tuples. With
    `columns` (the model's field names, one per column selected), each value comes back as the ORM
    gives that field's (a datetime, a Decimal on SQLite too), through the same converters."""

    def __init__(
        self,
        model: type[Model],
        write: Callable[[Callable[[str], str]], str],
        columns: Sequence[str] = (),
    ) -> None:
        self.model = model
        self.write = write
        self.columns = tuple(columns)
        self._sql: dict[str, tuple[str, list[tuple[int, list[Any], Any]]]] = {}

    def __call__(self, *params: Any) -> list[tuple[Any, ...]]:
        connection = connections[router.db_for_read(self.model)]
        compiled = self._sql.get(connection.alias)
        if compiled is None:
            table = self.model._meta.db_table
            converters = []
            for index, name in enumerate(self.columns):
                field = _field(self.model, name)
                if found := _converters(field, table, connection):
                    converters.append((index, found, field.get_col(table)))
            compiled = self._sql[connection.alias] = (self.write(connection.ops.quote_name), converters)
        sql, converters = compiled
        with connection.cursor() as cursor:
            cursor.execute(sql, list(params))
            rows = cursor.fetchall()
        if not converters:
            return list(rows)
        converted = []
        for row in rows:
            values = list(row)
            for index, functions, expression in converters:
                for function in functions:
                    values[index] = function(values[index], expression, connection)
            converted.append(tuple(values))
        return converted


# --- writes deferred to the end of a group's transaction ---------------------------------------------

_group = threading.local()


@contextmanager
def writes_grouped() -> Iterator[None]:
    """Within it, on this thread and inside a transaction, `Insert.later` and `Update.later` defer
    their rows; the caller calls `writes_group_store()` before the transaction commits."""
    _group.active = True
    try:
        yield
        if any(isinstance(func, _Later) for _, func, _ in transaction.get_connection().run_on_commit):
            raise RuntimeError("rows deferred by Insert.later/Update.later were never stored")
    finally:
        _group.active = False


class _Later:
    """A deferred row, carried as an on-commit action (which does nothing) so that a savepoint that
    rolls back drops it with the rest of its work, as Django drops that savepoint's actions."""

    __slots__ = ("statement", "row")

    def __init__(self, statement: "Insert | Update", row: Any) -> None:
        self.statement, self.row = statement, row

    def __call__(self) -> None:
        pass


def _later(statement: "Insert | Update", row: Any) -> bool:
    """Defer `row` of `statement` to the group's end; False outside a group (the caller runs it)."""
    if not getattr(_group, "active", False) or not transaction.get_connection().in_atomic_block:
        return False
    transaction.on_commit(_Later(statement, row))
    return True


def writes_group_store() -> int:
    """Run the rows deferred in this transaction that survived their savepoints, one statement
    (`Insert`) or one `executemany` (`Update`) per deferring statement, in the order each statement
    was first used and each one's rows in the order they were deferred; returns how many rows."""
    connection = transaction.get_connection()
    later = [func for _, func, _ in connection.run_on_commit if isinstance(func, _Later)]
    if not later:
        return 0
    connection.run_on_commit = [
        entry for entry in connection.run_on_commit if not isinstance(entry[1], _Later)
    ]
    rows: dict[Insert | Update, list[Any]] = {}
    for item in later:
        rows.setdefault(item.statement, []).append(item.row)
    for statement, group in rows.items():
        statement._store(group)
    return len(later)
