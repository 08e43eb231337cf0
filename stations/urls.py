from django.urls import path

from stations import views

urlpatterns = [
    path("dashboard/", views.dashboard, name="dashboard"),
]
