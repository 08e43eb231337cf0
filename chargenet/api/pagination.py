"""Pagination: cursors for the large, growing tables; limit/offset for the small ones."""

from rest_framework.pagination import CursorPagination, LimitOffsetPagination


class ApiCursorPagination(CursorPagination):
    """Stable pages over tables that grow while a client reads them (sessions, messages …)."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500
    ordering: str | tuple[str, ...] = "-id"


class ApiLimitOffsetPagination(LimitOffsetPagination):
    default_limit = 50
    max_limit = 500
