"""What every dashboard view shares: rendering a page or one of its live fragments."""

from django.core.paginator import Page, Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

PAGE_SIZE = 50


def is_htmx(request: HttpRequest) -> bool:
    return request.headers.get("HX-Request") == "true"


def render_page(
    request: HttpRequest, template: str, context: dict, *, fragments: dict[str, str] | None = None
) -> HttpResponse:
    """Render the page, or only the fragment named by `?fragment=` (a live region refreshing itself)."""
    name = request.GET.get("fragment")
    if name:
        if not fragments or name not in fragments:
            raise Http404("no such fragment")
        return render(request, fragments[name], context)
    return render(request, template, context)


def paginate(request: HttpRequest, items, *, per_page: int = PAGE_SIZE) -> Page:
    return Paginator(items, per_page).get_page(request.GET.get("page"))


def query_without(request: HttpRequest, *names: str) -> str:
    """The current query string minus `names` (to build page links that keep the filters)."""
    params = request.GET.copy()
    for name in names:
        params.pop(name, None)
    return params.urlencode()
