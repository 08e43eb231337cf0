"""Text too long for its column, found before the database does.

SQLite stores any length in a VARCHAR; PostgreSQL refuses it with an error that surfaces as a 500.
Services check what they are about to store with this, so forms, the API and commands all get the
same clear error (raised as the calling app's own domain error).
"""

from typing import Any

from django.core.exceptions import FieldDoesNotExist
from django.db import models


def text_too_long(model: type[models.Model], values: dict[str, Any]) -> str | None:
    """A sentence naming the first value longer than its field's max_length, or None."""
    for name, value in values.items():
        try:
            field = model._meta.get_field(name)
        except FieldDoesNotExist:
            continue
        limit = getattr(field, "max_length", None)
        if limit and isinstance(value, str) and len(value) > limit:
            label = str(getattr(field, "verbose_name", name) or name)
            return f"{label} must be at most {limit} characters (it has {len(value)})"
    return None
