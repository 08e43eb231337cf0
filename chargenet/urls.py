from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from chargenet import views
from chargenet.forms import LoginForm

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path(
        "login/",
        auth_views.LoginView.as_view(template_name="registration/login.html", authentication_form=LoginForm),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("", include("stations.dashboard.urls")),
    path("", include("stations.alerts.urls")),
    path("", include("rfid.urls")),
    path("billing/", include("billing.urls")),
    path("", include("stations.account.urls")),
    path("", include("stations.access.urls")),
    path("", include("chargenet.api.urls")),
    path("", include("ocpi.urls")),
]
