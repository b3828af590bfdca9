"""INSERT … SELECT over a queryset: the one statement the ORM cannot state.

The set-based data fixes write one history entry per booking they re-stamp without
loading the bookings; Django has no `INSERT INTO … SELECT`, so this writes it from the
queryset's own compiled SELECT (the query's public `get_compiler().as_sql()`), with the
target's columns named from the model. Nothing else writes SQL by hand.
"""

from collections.abc import Sequence

from django.db import connections, models


def insert_select(
    model: type[models.Model], field_names: Sequence[str], rows: models.QuerySet
) -> int:
    """One row of `model` per row of `rows`, a `values_list()` whose columns are the
    values of `field_names` in order, by one statement. Fields left out take their
    database default. Returns how many rows were written."""
    connection = connections[rows.db]
    quote = connection.ops.quote_name
    columns = ", ".join(quote(model._meta.get_field(name).column) for name in field_names)
    select_sql, params = rows.query.get_compiler(rows.db).as_sql()
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {quote(model._meta.db_table)} ({columns}) {select_sql}", params
        )
        return cursor.rowcount
