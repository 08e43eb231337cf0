from django.urls import path

from fleet import views

app_name = "fleet"

urlpatterns = [
    path("", views.fleet_home, name="home"),
    path("images/new/", views.image_create, name="image-create"),
    path("campaigns/new/", views.campaign_create, name="campaign-create"),
    path("campaigns/<int:pk>/", views.campaign_detail, name="campaign-detail"),
    path("campaigns/<int:pk>/<slug:action>/", views.campaign_action, name="campaign-action"),
    path("stations/<str:identity>/", views.station_fleet, name="station"),
    path("stations/<str:identity>/diagnostics/", views.diagnostics_collect, name="diagnostics-collect"),
    path("stations/<str:identity>/firmware/publish/", views.firmware_publish, name="firmware-publish"),
    path(
        "stations/<str:identity>/firmware/publications/<uuid:publication_uuid>/unpublish/",
        views.firmware_unpublish,
        name="firmware-unpublish",
    ),
    path("diagnostics/<uuid:request_uuid>/file/", views.diagnostics_download, name="diagnostics-download"),
    # What stations call: signed per-station download links, one-time upload locations.
    path("firmware/<str:token>/<str:name>", views.firmware_download, name="firmware-download"),
    path("uploads/<uuid:request_uuid>/<str:secret>/", views.diagnostics_upload, name="upload"),
    path(
        "uploads/<uuid:request_uuid>/<str:secret>/<str:name>", views.diagnostics_upload, name="upload-named"
    ),
]
