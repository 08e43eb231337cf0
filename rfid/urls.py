from django.urls import path

from rfid import views

urlpatterns = [
    path("account/", views.account, name="account"),
]
