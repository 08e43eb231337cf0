"""OCPI routes (/ocpi/versions and the modules under it, docs/ocpi.md); each matches with and
without a trailing slash, so no client is ever redirected."""

from django.urls import path, re_path

from ocpi import account, chargingprofiles, dashboard, views

app_name = "ocpi"

# Every module under both versions; the view sees the version in the URL (views.request_version).
V = r"^ocpi/(?P<version>2\.2\.1|2\.1\.1)"
SEGMENT = r"(?P<{}>[^/]+)"
PARTY = r"(?P<country_code>[^/]+)/(?P<party_id>[^/]+)"

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
    re_path(
        rf"{V}/chargingprofiles/{SEGMENT.format('session_id')}/?$",
        chargingprofiles.charging_profiles,
        name="chargingprofiles",
    ),
    re_path(rf"{V}/hubclientinfo/{PARTY}/?$", chargingprofiles.hub_client_info, name="hubclientinfo"),
    # The eMSP role (our drivers on partner networks).
    re_path(rf"{V}/emsp/tokens/?$", views.emsp_tokens, name="emsp-tokens"),
    re_path(rf"{V}/emsp/tokens/{SEGMENT.format('uid')}/authorize/?$", views.emsp_token_authorize),
    re_path(rf"{V}/emsp/locations/{PARTY}/{SEGMENT.format('location_id')}/?$", views.emsp_locations),
    re_path(
        rf"{V}/emsp/locations/{PARTY}/{SEGMENT.format('location_id')}/{SEGMENT.format('evse_uid')}/?$",
        views.emsp_locations,
    ),
    re_path(
        rf"{V}/emsp/locations/{PARTY}/{SEGMENT.format('location_id')}/{SEGMENT.format('evse_uid')}/{SEGMENT.format('connector_id')}/?$",
        views.emsp_locations,
    ),
    re_path(rf"{V}/emsp/tariffs/{PARTY}/{SEGMENT.format('tariff_id')}/?$", views.emsp_tariffs),
    re_path(rf"{V}/emsp/sessions/{PARTY}/{SEGMENT.format('session_id')}/?$", views.emsp_sessions),
    re_path(rf"{V}/emsp/cdrs/?$", views.emsp_cdrs, name="emsp-cdrs"),
    re_path(rf"{V}/emsp/cdrs/(?P<pk>[0-9]+)/?$", views.emsp_cdr),
    re_path(
        rf"{V}/emsp/commands/(?P<command>[A-Za-z_]+)/(?P<uuid>[0-9a-fA-F-]{{32,36}})/?$",
        views.emsp_command_result,
    ),
    # The driver's roaming page and the operator's partner networks.
    path("account/roaming/", account.roaming_overview, name="roaming-account"),
    path("account/roaming/live/", account.roaming_live, name="roaming-live"),
    path("account/roaming/start/", account.roaming_start, name="roaming-start"),
    path("account/roaming/sessions/<int:pk>/stop/", account.roaming_stop, name="roaming-stop"),
    path("roaming/network/", dashboard.partner_network, name="partner-network"),
    path("roaming/cards/", dashboard.roaming_cards, name="roaming-cards"),
]
