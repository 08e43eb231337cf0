from django.contrib.auth import views as auth_views
from django.urls import include, path

from rfid import views

# Cards and the driver's card actions: namespaced `rfid:`.
card_patterns = [
    path("cards/", views.card_list, name="card-list"),
    path("cards/new/", views.card_create, name="card-create"),
    path("cards/import/", views.card_import, name="card-import"),
    path("cards/authorizations/", views.authorization_list, name="authorization-list"),
    path("cards/<int:pk>/", views.card_detail, name="card-detail"),
    path("cards/<int:pk>/edit/", views.card_edit, name="card-edit"),
    path("cards/<int:pk>/block/", views.card_block, name="card-block"),
    path("cards/<int:pk>/unblock/", views.card_unblock, name="card-unblock"),
    path("account/cards/add/", views.my_card_add, name="my-card-add"),
    path("account/cards/<int:pk>/", views.my_card_edit, name="my-card-edit"),
    path("account/cards/<int:pk>/block/", views.my_card_block, name="my-card-block"),
    path("account/cards/<int:pk>/unblock/", views.my_card_unblock, name="my-card-unblock"),
    path("account/details/", views.my_details, name="my-details"),
    path("account/delete/", views.my_account_delete, name="my-account-delete"),
]

urlpatterns = [
    path("account/", views.account, name="account"),
    path("signup/", views.signup, name="signup"),
    path("signup/verify/<str:uidb64>/<str:token>/", views.signup_verify, name="signup-verify"),
    # Django's password reset under the names its views expect.
    path("password-reset/", auth_views.PasswordResetView.as_view(), name="password_reset"),
    path("password-reset/sent/", auth_views.PasswordResetDoneView.as_view(), name="password_reset_done"),
    path(
        "password-reset/<uidb64>/<token>/",
        auth_views.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path(
        "password-reset/done/", auth_views.PasswordResetCompleteView.as_view(), name="password_reset_complete"
    ),
    path("", include((card_patterns, "rfid"))),
]
