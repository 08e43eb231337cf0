"""Filter helpers shared by the API's filter sets."""

from django_filters import rest_framework as filters

MAX_ID = 2**63 - 1


def IdFilter(**kwargs) -> filters.NumberFilter:  # noqa: N802 (used like a filter class)
    """A filter on a database id: a whole number in the range every database can store."""
    return filters.NumberFilter(min_value=1, max_value=MAX_ID, decimal_places=0, **kwargs)
