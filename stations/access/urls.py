"""URLs of the operators' access pages (namespace `access`)."""

from django.urls import path

from stations.access import views

app_name = "access"

urlpatterns = [
    path("cards/stations/", views.access_list, name="list"),
    path("cards/stations/<str:identity>/", views.access_edit, name="edit"),
    path("cards/stations/<str:identity>/sync/", views.access_sync, name="sync"),
]
