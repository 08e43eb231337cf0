from django.urls import path

from billing.guest import views

app_name = "guest"

# The connector route comes first: a station identity never shadows it (the QR codes printed on
# chargers must stay valid).
urlpatterns = [
    path("<str:identity>/<int:evse_id>/", views.guest_connector, name="connector"),
    path("<str:identity>/<int:evse_id>/qr.svg", views.guest_connector_qr, name="connector-qr"),
    path("s/<str:token>/", views.guest_charge, name="charge"),
    path("s/<str:token>/status/", views.guest_charge_status, name="charge-status"),
    path("s/<str:token>/stop/", views.guest_charge_stop, name="charge-stop"),
    path("print/<str:identity>/", views.guest_station_qr, name="station-qr"),
]
