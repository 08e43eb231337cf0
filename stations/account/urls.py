"""URLs of the driver's charging pages (namespace `charging`)."""

from django.urls import path

from stations.account import views

app_name = "charging"

urlpatterns = [
    path("account/charging/", views.charging_overview, name="overview"),
    path("account/charging/start/", views.charging_start, name="start"),
    path("account/charging/history/", views.charging_history, name="history"),
    path("account/charging/sessions/<int:pk>/", views.session_detail, name="session-detail"),
    path("account/charging/sessions/<int:pk>/live/", views.session_live, name="session-live"),
    path("account/charging/sessions/<int:pk>/stop/", views.charging_stop, name="stop"),
    path("cards/<int:pk>/sessions/", views.card_sessions, name="card-sessions"),
]
