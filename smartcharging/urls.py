"""URLs of the smart-charging pages (namespace `smartcharging`, under /smart/)."""

from django.urls import path

from smartcharging import views

app_name = "smartcharging"

urlpatterns = [
    path("stations/<str:identity>/", views.station_smart, name="station"),
    path("stations/<str:identity>/profiles/", views.station_profile_send, name="profile-send"),
    path(
        "stations/<str:identity>/profiles/<int:profile_id>/clear/",
        views.station_profile_clear,
        name="profile-clear",
    ),
    path("stations/<str:identity>/composite/", views.station_composite_request, name="composite-request"),
    path("locations/<int:pk>/", views.location_smart, name="location"),
    path("locations/<int:pk>/capacity/", views.location_capacity_set, name="capacity-set"),
    path("locations/<int:pk>/rules/", views.location_rule_create, name="rule-create"),
    path("rules/<int:pk>/delete/", views.rule_delete, name="rule-delete"),
    path("sessions/<int:pk>/limit/", views.session_limit, name="session-limit"),
]
