"""Fixed statements for the few the busiest API requests run every time.

The ORM builds a statement anew on each call: on the benchmark machine that is
0.15–0.3 ms of CPU per statement, several times what PostgreSQL spends running
it, for SQL that never changes shape. So the token lookup, the booking read and
lock, change_status's update and history insert run fixed statements (see
docs/benchmarks.md); so does the status list (`Status.objects.active_list_of`).

Reads are querysets compiled once (`CompiledQuery`): the ORM writes their SQL
from the same queryset methods every other caller uses, so a rule such as a
tenant scope is stated once. The writes are derived from the models, so they
cannot drift from them: column lists come from `_meta`, values are prepared by
each field (`get_db_prep_save`), and rows are turned into instances exactly as
the ORM does it, through the backend's and the fields' converters and
`Model.from_db`. Everything else uses the ORM. The tests compare each statement
with its ORM equivalent on SQLite and PostgreSQL.

Every statement runs through Django's cursor (`connection.cursor()`), so query
logging, query-counting tests and `execute_wrapper` hooks see it.
"""

import functools
import inspect
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from django.db import connections, models
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models.fields import NOT_PROVIDED


def run(sql: str, params: Sequence[Any], using: str, *, rows: bool = True) -> Any:
    """Execute one statement through Django's cursor, so that query logging, tests that
    count queries and `execute_wrapper` hooks (APM) see it like any other; return its
    rows (all of them), or with `rows=False` the number of rows it wrote."""
    with connections[using].cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall() if rows else cursor.rowcount


def quote(name: str) -> str:
    # SQLite and PostgreSQL, the two databases this project supports, quote alike.
    return f'"{name}"'


class ModelRows:
    """One model's columns in a fixed order, and the way back from rows to instances."""

    def __init__(self, model: type[models.Model], field_names: Sequence[str] | None = None):
        opts = model._meta
        self.model = model
        self.fields = (
            tuple(opts.get_field(name) for name in field_names)
            if field_names
            else tuple(opts.concrete_fields)
        )
        self.attnames = tuple(field.attname for field in self.fields)
        self.table = quote(opts.db_table)
        self._converters: dict[str, list] = {}

    def columns(self, table_alias: str | None = None) -> str:
        """The select list: every field's column, qualified by the table (or its alias)."""
        prefix = quote(table_alias) if table_alias else self.table
        return ", ".join(f"{prefix}.{quote(field.column)}" for field in self.fields)

    def column(self, field_name: str) -> str:
        return quote(self.model._meta.get_field(field_name).column)

    def copy_values(self, source: models.Model, target: models.Model) -> None:
        """Give `target` the values of these fields that `source` holds: how a locked
        re-read refreshes the instance a caller passed in."""
        for attname in self.attnames:
            setattr(target, attname, getattr(source, attname))

    def select(self, sql: str, params: Sequence[Any], using: str) -> list[models.Model]:
        """Run `sql`, whose select list is `columns()`, and return its rows as instances."""
        return self.instances(run(sql, params, using), using)

    def instances(self, rows: Iterable[Sequence[Any]], using: str) -> list[models.Model]:
        """Instances of the model from rows of `columns()`, as the ORM would build them."""
        converters = self._converters.get(using)
        if converters is None:
            converters = self._converters[using] = self._converters_of(connections[using])
        from_db, attnames = self.model.from_db, self.attnames
        if not converters:
            return [from_db(using, attnames, row) for row in rows]
        connection = connections[using]
        loaded = []
        for row in rows:
            values = list(row)
            for index, expression, functions in converters:
                for convert in functions:
                    values[index] = convert(values[index], expression, connection)
            loaded.append(from_db(using, attnames, values))
        return loaded

    def _converters_of(self, connection: BaseDatabaseWrapper) -> list:
        # What SQLCompiler.get_converters finds for the same columns: e.g. on SQLite
        # datetimes come back naive and booleans as integers; JSON is decoded.
        converters = []
        for index, field in enumerate(self.fields):
            expression = field.get_col(self.model._meta.db_table)
            functions = connection.ops.get_db_converters(expression) + expression.get_db_converters(
                connection
            )
            if functions:
                converters.append((index, expression, functions))
        return converters


class CompiledQuery:
    """A queryset whose SQL the ORM writes once per database and which then runs
    with new values: for the few reads every request makes, where building the
    statement is most of their cost.

    `build` takes the values by name and returns the queryset, e.g.
    `lambda business_id, pk: Booking.objects.for_business(business_id).filter(pk=pk)`.
    It is called once, with a stand-in for each value, and the stand-ins are found
    among the compiled statement's parameters; `rows(**values)` then runs that
    statement with the real values. Values must already be valid for their fields
    (the ORM's lookups would check, e.g., an id's range): callers check them first.
    A `select_for_update()` query is compiled, and must run, inside a transaction.
    """

    def __init__(self, build: Callable[..., models.QuerySet]):
        self.build = build
        self.names = tuple(inspect.signature(build).parameters)
        self._compiled: dict[str, tuple] = {}

    def rows(self, using: str = "default", **values: Any) -> list[models.Model]:
        """The queryset's rows for these values, as the instances the ORM would build."""
        compiled = self._compiled.get(using)
        if compiled is None:
            compiled = self._compiled[using] = self._compile(using)
        model, sql, slots, attnames, converters = compiled
        params = [param if name is None else values[name] for name, param in slots]
        rows = run(sql, params, using)
        if converters:
            connection = connections[using]
            rows = [list(row) for row in rows]
            for row in rows:
                for index, (functions, expression) in converters:
                    for convert in functions:
                        row[index] = convert(row[index], expression, connection)
        return [model.from_db(using, attnames, row) for row in rows]

    def _compile(self, using: str) -> tuple:
        # Stand-ins that each field's lookup turns into a parameter recognisable as text
        # (an integer field keeps the number, a text field makes it a string); small
        # enough for any integer column, as the lookups check.
        stand_ins = {name: 1_073_741_001 + index for index, name in enumerate(self.names)}
        queryset = self.build(**stand_ins).order_by()
        compiler = queryset.query.get_compiler(using)
        sql, params = compiler.as_sql()
        by_text = {str(value): name for name, value in stand_ins.items()}
        # Each parameter is a value's slot, or a constant of the queryset itself.
        slots = tuple((by_text.get(str(param)), param) for param in params)
        if sorted(name for name, _param in slots if name) != sorted(self.names):
            raise ValueError(f"Each of {self.names} must appear once in the query: {sql}")
        selected = [column for column, _sql, _alias in compiler.select]
        attnames = tuple(column.target.attname for column in selected)
        # What the ORM applies to each column read (e.g. SQLite's naive datetimes made
        # aware); the backend's converters depend on its settings, not the connection.
        converters = tuple(compiler.get_converters(selected).items())
        return queryset.model, sql, slots, attnames, converters


def insert_fields(model: type[models.Model]) -> tuple[str, ...]:
    """What a row of `model` is inserted with: every field but the generated key,
    generated columns and those whose default the database fills in (`db_default`),
    as the ORM leaves them out."""
    return tuple(
        field.name
        for field in model._meta.concrete_fields
        if not field.primary_key and not field.generated and field.db_default is NOT_PROVIDED
    )


def prepared_values(
    instance: models.Model, fields: Iterable[models.Field], connection: BaseDatabaseWrapper
) -> list[Any]:
    """The instance's values of `fields`, as the ORM sends them on a save."""
    return [
        field.get_db_prep_save(getattr(instance, field.attname), connection) for field in fields
    ]


def insert(instance: models.Model, field_names: Sequence[str], *, using: str = "default") -> None:
    """INSERT the instance's `field_names` and set its primary key from the database
    (RETURNING: PostgreSQL, and SQLite since 3.35). No signals are sent."""
    fields, sql = _insert_statement(type(instance), tuple(field_names))
    connection = connections[using]
    [(instance.pk,)] = run(sql, prepared_values(instance, fields, connection), using)
    instance._state.adding = False
    instance._state.db = using


def update(instance: models.Model, field_names: Sequence[str], *, using: str = "default") -> int:
    """UPDATE the instance's row with its values of `field_names`; the rows updated (0
    or 1). Like `save(update_fields=...)` without its signals and `auto_now` stamping:
    the caller sets every value, including any modification time."""
    fields, sql = _update_statement(type(instance), tuple(field_names))
    connection = connections[using]
    params = [*prepared_values(instance, fields, connection), instance.pk]
    return run(sql, params, using, rows=False)


def insert_select(
    model: type[models.Model], field_names: Sequence[str], rows: models.QuerySet
) -> int:
    """INSERT ... SELECT: one row of `model` per row of `rows`, a `values_list()` whose
    columns are the values of `field_names` in order, written by one statement without
    loading anything (the data fixes' history entries and events). Fields left out take
    their database default. Returns how many rows were written."""
    opts = model._meta
    columns = ", ".join(quote(opts.get_field(name).column) for name in field_names)
    select_sql, params = rows.query.get_compiler(rows.db).as_sql()
    return run(
        f"INSERT INTO {quote(opts.db_table)} ({columns}) {select_sql}", params, rows.db, rows=False
    )


# Each model's statement for a field list is built once (the callers use a few lists).


@functools.lru_cache(maxsize=512)
def _insert_statement(model: type[models.Model], field_names: tuple[str, ...]) -> tuple:
    opts = model._meta
    fields = tuple(opts.get_field(name) for name in field_names)
    sql = (
        f"INSERT INTO {quote(opts.db_table)} ({', '.join(quote(f.column) for f in fields)}) "
        f"VALUES ({', '.join(['%s'] * len(fields))}) RETURNING {quote(opts.pk.column)}"
    )
    return fields, sql


@functools.lru_cache(maxsize=512)
def _update_statement(model: type[models.Model], field_names: tuple[str, ...]) -> tuple:
    opts = model._meta
    fields = tuple(opts.get_field(name) for name in field_names)
    assignments = ", ".join(f"{quote(field.column)} = %s" for field in fields)
    sql = f"UPDATE {quote(opts.db_table)} SET {assignments} WHERE {quote(opts.pk.column)} = %s"
    return fields, sql
