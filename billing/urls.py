from django.urls import path

from billing import views
from billing.cards import views as card_views

app_name = "billing"

urlpatterns = [
    path("sessions/<int:session_id>/cost/", views.session_cost, name="session-cost"),
    path("cdrs/", views.cdr_list, name="cdr-list"),
    path("cdrs/export.csv", views.cdr_export, name="cdr-export"),
    path("invoices/", views.invoice_list, name="invoice-list"),
    path("invoices/run/", views.invoice_run, name="invoice-run"),
    path("my-data/", views.my_data, name="my-data"),
    path("invoices/<int:invoice_id>/", views.invoice_detail, name="invoice-detail"),
    path("invoices/<int:invoice_id>/pdf/", views.invoice_pdf, name="invoice-pdf"),
    path("invoices/<int:invoice_id>/pay/", views.invoice_pay, name="invoice-pay"),
    path("invoices/<int:invoice_id>/payments/", views.payment_record, name="payment-record"),
    path("invoices/<int:invoice_id>/refunds/", views.refund_create, name="refund-create"),
    path("credit-notes/<int:refund_id>/pdf/", views.credit_note_pdf, name="credit-note-pdf"),
    path("tariffs/", views.tariff_list, name="tariff-list"),
    path("tariffs/new/", views.tariff_edit, name="tariff-create"),
    path("tariffs/<int:tariff_id>/", views.tariff_edit, name="tariff-edit"),
    path("tariffs/preview/", views.tariff_preview, name="tariff-preview"),
    path("assignments/", views.tariff_assignment_list, name="assignment-list"),
    path("assignments/<int:assignment_id>/delete/", views.tariff_assignment_delete, name="assignment-delete"),
    path("plans/", views.subscription_plan_list, name="plan-list"),
    path("plans/<int:plan_id>/", views.subscription_plan_edit, name="plan-edit"),
    path("subscriptions/", views.subscription_list, name="subscription-list"),
    path("subscriptions/<int:subscription_id>/end/", views.subscription_end, name="subscription-end"),
    path("plan/", views.my_plan, name="my-plan"),
    path("reports/revenue/", views.revenue_report, name="revenue-report"),
    path("partials/revenue/", views.revenue_tiles, name="revenue-tiles"),
    path("webhooks/stripe/", views.stripe_webhook, name="stripe-webhook"),
    path("reports/reconciliation/", views.reconciliation_report, name="reconciliation-report"),
    path("cards/", card_views.card_list, name="card-list"),
    path("cards/added/", card_views.card_added, name="card-added"),
    path("cards/remove/", card_views.card_remove, name="card-remove"),
    path("cards/default/", card_views.card_default, name="card-default"),
]
