"""URLs of the alerts page (no namespace: the dashboard's pages link to them as `alert-list` …)."""

from django.urls import path

from stations.alerts import views

urlpatterns = [
    path("alerts/", views.alert_list, name="alert-list"),
    path("alerts/acknowledge/", views.alert_acknowledge, name="alert-acknowledge"),
    path("alerts/mail/", views.alert_mail_update, name="alert-mail"),
]
