"""Model fields the apps share."""

import orjson
from django.db import models

from core.renderers import dumps


class OrderedJSONField(models.TextField):
    """A JSON document stored as the text the API wrote (core.renderers.dumps) and read
    back with its keys in that order.

    Django's JSONField is `jsonb` on PostgreSQL, which stores keys sorted by length and
    name: an event's booking would come back in another order than GET shows it, and an
    Idempotency-Key replay would not be the bytes of the first answer (SPEC §17). Nothing
    queries inside these documents, so text loses nothing. Dates and datetimes are
    written as the API writes them and come back as those strings."""

    description = "JSON, kept in its key order"

    def from_db_value(self, value, expression, connection):
        return None if value is None else orjson.loads(value)

    def to_python(self, value):
        if isinstance(value, str):
            return orjson.loads(value)
        return value

    def get_prep_value(self, value):
        return None if value is None else dumps(value).decode()

    def value_to_string(self, obj):
        return self.get_prep_value(self.value_from_object(obj))
