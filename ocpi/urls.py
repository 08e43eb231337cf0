"""OCPI routes (/ocpi/versions and the modules under it, docs/ocpi.md); each matches with and
without a trailing slash, so no client is ever redirected."""

from django.urls import path, re_path

from ocpi import dashboard, views

app_name = "ocpi"

V = r"^ocpi/2\.2\.1"
SEGMENT = r"(?P<{}>[^/]+)"

urlpatterns = [
    # The dashboard's Roaming section.
    path("roaming/", dashboard.partner_list, name="partner-list"),
    path("roaming/new/", dashboard.partner_create, name="partner-create"),
    path("roaming/<int:pk>/", dashboard.partner_detail, name="partner-detail"),
    path("roaming/<int:pk>/register/", dashboard.partner_register, name="partner-register"),
    # OCPI itself.
    re_path(r"^ocpi/versions/?$", views.version_list, name="versions"),
    re_path(rf"{V}/?$", views.version_details, name="version-details"),
    re_path(rf"{V}/credentials/?$", views.credentials, name="credentials"),
    re_path(rf"{V}/locations/?$", views.locations, name="locations"),
    re_path(rf"{V}/locations/{SEGMENT.format('location_id')}/?$", views.locations),
    re_path(
        rf"{V}/locations/{SEGMENT.format('location_id')}/{SEGMENT.format('evse_uid')}/?$", views.locations
    ),
    re_path(
        rf"{V}/locations/{SEGMENT.format('location_id')}/{SEGMENT.format('evse_uid')}/{SEGMENT.format('connector_id')}/?$",
        views.locations,
    ),
    re_path(rf"{V}/tariffs/?$", views.tariffs, name="tariffs"),
    re_path(rf"{V}/sessions/?$", views.sessions, name="sessions"),
    re_path(rf"{V}/cdrs/?$", views.cdrs, name="cdrs"),
    re_path(
        rf"{V}/tokens/{SEGMENT.format('country_code')}/{SEGMENT.format('party_id')}/{SEGMENT.format('uid')}/?$",
        views.tokens,
        name="tokens",
    ),
    re_path(rf"{V}/commands/(?P<command>[A-Za-z_]+)/?$", views.commands, name="commands"),
]
