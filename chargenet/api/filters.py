"""Filter helpers shared by the API's filter sets."""

from datetime import UTC

from django_filters import rest_framework as filters
from rest_framework.exceptions import ValidationError

MAX_ID = 2**63 - 1


def IdFilter(**kwargs) -> filters.NumberFilter:  # noqa: N802 (used like a filter class)
    """A filter on a database id: a whole number in the range every database can store."""
    return filters.NumberFilter(min_value=1, max_value=MAX_ID, decimal_places=0, **kwargs)


class IsoDateTimeFilter(filters.IsoDateTimeFilter):
    """An ISO 8601 date and time, compared in UTC.

    Any offset parses, but PostgreSQL refuses offsets beyond ±15:59 ("time zone displacement out of
    range"); the instant is the same in UTC, so that is what reaches the database. One that leaves the
    calendar in UTC is a 400.
    """

    def filter(self, qs, value):
        if value is not None and value.tzinfo is not None:
            try:
                value = value.astimezone(UTC)
            except OverflowError:  # e.g. 9999-12-31T23:59-01:00 is past the calendar's end in UTC
                raise ValidationError({self.field_name: ["date and time out of range"]}) from None
        return super().filter(qs, value)
