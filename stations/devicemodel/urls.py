from django.urls import path

from stations.devicemodel import views

urlpatterns = [
    path("stations/<str:identity>/device-model/", views.device_model_panel, name="station-device-model"),
    path(
        "stations/<str:identity>/device-model/set/", views.device_model_set, name="station-device-model-set"
    ),
    path(
        "stations/<str:identity>/device-model/report/",
        views.device_model_report,
        name="station-device-model-report",
    ),
    path(
        "stations/<str:identity>/device-model/monitoring/",
        views.device_model_monitoring,
        name="station-device-model-monitoring",
    ),
    path("customer-data/", views.customer_data_request_list, name="customer-data-request-list"),
    path(
        "customer-data/<int:pk>/",
        views.customer_data_request_detail,
        name="customer-data-request-detail",
    ),
]
