from django.urls import path

from stations.dashboard import views

urlpatterns = [
    path("dashboard/", views.dashboard, name="dashboard"),
    path("stations/", views.station_list, name="station-list"),
    path("stations/new/", views.station_create, name="station-create"),
    path("stations/tags/", views.station_list_tags, name="station-list-tags"),
    path("stations/<str:identity>/", views.station_detail, name="station-detail"),
    path("stations/<str:identity>/commands/", views.station_command, name="station-command"),
    path("stations/<str:identity>/tags/", views.station_tags, name="station-tags"),
    path("sessions/", views.session_list, name="session-list"),
    path("sessions/<int:pk>/", views.session_detail, name="session-detail"),
    path("locations/", views.location_list, name="location-list"),
    path("locations/new/", views.location_create, name="location-create"),
    path("locations/<int:pk>/edit/", views.location_edit, name="location-edit"),
    path("users/", views.user_list, name="user-list"),
    path("users/invite/", views.user_invite_view, name="user-invite"),
    path("users/<int:pk>/", views.user_update, name="user-update"),
]
