"""URLs of the certificates part of the station page (no namespace, like the dashboard's)."""

from django.urls import path

from stations.certificates import views

urlpatterns = [
    path(
        "stations/<str:identity>/certificates/",
        views.station_certificate_command,
        name="station-certificate-command",
    ),
    path("pki/crl", views.certificate_revocation_list, name="certificate-revocation-list"),
]
