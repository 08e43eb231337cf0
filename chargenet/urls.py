from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.templatetags.static import static
from django.urls import include, path
from django.views.generic import RedirectView

from chargenet import views
from chargenet.forms import LoginForm

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("metrics", views.metrics, name="metrics"),
    path("favicon.ico", RedirectView.as_view(url=static("favicon.svg"), permanent=True)),
    path(
        "login/",
        auth_views.LoginView.as_view(template_name="registration/login.html", authentication_form=LoginForm),
        name="login",
    ),
    path("preferences/", views.preferences, name="preferences"),
    # The language switcher: Django's set_language, and a logged-in user's choice is stored.
    path("i18n/setlang/", views.language_set, name="set_language"),
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
    path("smart/", include("smartcharging.urls")),
    path("pay/", include("billing.guest.urls")),
    path("", include("stations.devicemodel.urls")),
    path("", include("stations.certificates.urls")),
    path("fleet/", include("fleet.urls")),
]
