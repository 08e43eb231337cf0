"""URLs of the REST API (public contracts, docs/api.md): /api/v1/…, the schema at /api/schema/, docs at /api/docs/."""

from django.urls import include, path, re_path, register_converter
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerSplitView

from billing import api as billing_api
from chargenet.api import api as key_api
from chargenet.api import views
from chargenet.webhooks import api as webhook_api
from fleet import api as fleet_api
from ocpi import api as ocpi_api
from rfid import api as rfid_api
from smartcharging import api as smart_api
from stations.api import views as stations_api
from stations.certificates import api as certificates_api
from stations.devicemodel import api as devicemodel_api

app_name = "api"


class IdConverter:
    """A database id: digits that fit a 64-bit integer (larger numbers are a 404, not an overflow)."""

    regex = "[0-9]{1,18}"

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value: int) -> str:
        return str(value)


register_converter(IdConverter, "id")

v1 = [
    path("locations/", stations_api.LocationListApi.as_view(), name="location-list"),
    path("locations/<id:pk>/", stations_api.LocationDetailApi.as_view(), name="location-detail"),
    path("stations/", stations_api.StationListApi.as_view(), name="station-list"),
    path("stations/<str:identity>/", stations_api.StationDetailApi.as_view(), name="station-detail"),
    path(
        "stations/<str:identity>/password/",
        stations_api.StationPasswordSetApi.as_view(),
        name="station-password",
    ),
    path(
        "stations/<str:identity>/commands/",
        stations_api.StationCommandListApi.as_view(),
        name="station-command-list",
    ),
    path(
        "stations/<str:identity>/network-profile/",
        stations_api.StationNetworkProfileApi.as_view(),
        name="station-network-profile",
    ),
    path(
        "stations/<str:identity>/commands/<uuid:command_id>/",
        stations_api.StationCommandDetailApi.as_view(),
        name="station-command-detail",
    ),
    path(
        "stations/<str:identity>/remote-start/",
        stations_api.StationRemoteStartApi.as_view(),
        name="station-remote-start",
    ),
    path(
        "stations/<str:identity>/messages/",
        stations_api.StationMessageListApi.as_view(),
        name="station-message-list",
    ),
    path("commands/", stations_api.CommandListApi.as_view(), name="command-list"),
    path("faults/", stations_api.FaultListApi.as_view(), name="fault-list"),
    path("sessions/", stations_api.SessionListApi.as_view(), name="session-list"),
    path("sessions/<id:pk>/", stations_api.SessionDetailApi.as_view(), name="session-detail"),
    path(
        "sessions/<id:pk>/meter-values/",
        stations_api.SessionMeterValueListApi.as_view(),
        name="session-meter-values",
    ),
    path(
        "sessions/<id:pk>/remote-stop/",
        stations_api.SessionRemoteStopApi.as_view(),
        name="session-remote-stop",
    ),
    path("id-tokens/", rfid_api.IdTokenListApi.as_view(), name="id-token-list"),
    path("id-tokens/<id:pk>/", rfid_api.IdTokenDetailApi.as_view(), name="id-token-detail"),
    path("drivers/", rfid_api.DriverListApi.as_view(), name="driver-list"),
    path("drivers/<id:pk>/", rfid_api.DriverDetailApi.as_view(), name="driver-detail"),
    path("sessions/<id:pk>/cost/", billing_api.SessionCostApi.as_view(), name="session-cost"),
    path("tariffs/", billing_api.TariffListApi.as_view(), name="tariff-list"),
    path("tariffs/preview/", billing_api.TariffPreviewApi.as_view(), name="tariff-preview"),
    path("tariffs/<id:pk>/", billing_api.TariffDetailApi.as_view(), name="tariff-detail"),
    path(
        "tariff-assignments/",
        billing_api.TariffAssignmentListApi.as_view(),
        name="tariff-assignment-list",
    ),
    path(
        "tariff-assignments/<id:pk>/",
        billing_api.TariffAssignmentDetailApi.as_view(),
        name="tariff-assignment-detail",
    ),
    path(
        "subscription-plans/",
        billing_api.SubscriptionPlanListApi.as_view(),
        name="subscription-plan-list",
    ),
    path(
        "subscription-plans/<id:pk>/",
        billing_api.SubscriptionPlanDetailApi.as_view(),
        name="subscription-plan-detail",
    ),
    path("subscriptions/", billing_api.SubscriptionListApi.as_view(), name="subscription-list"),
    path("subscriptions/<id:pk>/", billing_api.SubscriptionDetailApi.as_view(), name="subscription-detail"),
    path("subscriptions/<id:pk>/end/", billing_api.SubscriptionEndApi.as_view(), name="subscription-end"),
    path("cdrs/", billing_api.CdrListApi.as_view(), name="cdr-list"),
    path("cdrs/<id:pk>/", billing_api.CdrDetailApi.as_view(), name="cdr-detail"),
    path("invoices/", billing_api.InvoiceListApi.as_view(), name="invoice-list"),
    path("invoices/run/", billing_api.InvoiceRunApi.as_view(), name="invoice-run"),
    path("invoices/<id:pk>/", billing_api.InvoiceDetailApi.as_view(), name="invoice-detail"),
    path("invoices/<id:pk>/pdf/", billing_api.InvoicePdfApi.as_view(), name="invoice-pdf"),
    path("credit-notes/<id:pk>/pdf/", billing_api.CreditNotePdfApi.as_view(), name="credit-note-pdf"),
    path(
        "invoices/<id:pk>/payments/",
        billing_api.InvoicePaymentListApi.as_view(),
        name="invoice-payment-list",
    ),
    path(
        "invoices/<id:pk>/refunds/",
        billing_api.InvoiceRefundListApi.as_view(),
        name="invoice-refund-list",
    ),
    path("ocpi/partners/", ocpi_api.PartnerListApi.as_view(), name="ocpi-partner-list"),
    path("ocpi/partners/<id:pk>/", ocpi_api.PartnerDetailApi.as_view(), name="ocpi-partner-detail"),
    path(
        "ocpi/partners/<id:pk>/register/", ocpi_api.PartnerRegisterApi.as_view(), name="ocpi-partner-register"
    ),
    path(
        "ocpi/partners/<id:pk>/sessions/",
        ocpi_api.PartnerSessionListApi.as_view(),
        name="ocpi-partner-sessions",
    ),
    path("webhooks/", webhook_api.WebhookSubscriptionListApi.as_view(), name="webhook-list"),
    path("webhooks/<id:pk>/", webhook_api.WebhookSubscriptionDetailApi.as_view(), name="webhook-detail"),
    path(
        "webhooks/<id:pk>/deliveries/",
        webhook_api.WebhookDeliveryListApi.as_view(),
        name="webhook-delivery-list",
    ),
    path(
        "webhook-deliveries/<uuid:delivery_id>/",
        webhook_api.WebhookDeliveryDetailApi.as_view(),
        name="webhook-delivery-detail",
    ),
    path(
        "webhook-deliveries/<uuid:delivery_id>/replay/",
        webhook_api.WebhookDeliveryReplayApi.as_view(),
        name="webhook-delivery-replay",
    ),
    path("api-keys/", key_api.ApiKeyListApi.as_view(), name="api-key-list"),
    path("api-keys/<id:pk>/", key_api.ApiKeyDetailApi.as_view(), name="api-key-detail"),
    path(
        "stations/<str:identity>/charging-profiles/",
        smart_api.ChargingProfileListApi.as_view(),
        name="charging-profile-list",
    ),
    path(
        "stations/<str:identity>/charging-profiles/<int:profile_id>/",
        smart_api.ChargingProfileDetailApi.as_view(),
        name="charging-profile-detail",
    ),
    path(
        "stations/<str:identity>/composite-schedule/",
        smart_api.CompositeScheduleApi.as_view(),
        name="composite-schedule",
    ),
    path("locations/<id:pk>/site-capacity/", smart_api.SiteCapacityApi.as_view(), name="site-capacity"),
    path("locations/<id:pk>/allocations/", smart_api.AllocationListApi.as_view(), name="allocation-list"),
    path("locations/<id:pk>/circuits/", smart_api.CircuitListApi.as_view(), name="circuit-list"),
    path(
        "locations/<id:pk>/circuits/<id:circuit_id>/",
        smart_api.CircuitDetailApi.as_view(),
        name="circuit-detail",
    ),
    path("schedule-rules/", smart_api.ScheduleRuleListApi.as_view(), name="schedule-rule-list"),
    path("schedule-rules/<id:pk>/", smart_api.ScheduleRuleDetailApi.as_view(), name="schedule-rule-detail"),
    # The device model of 2.0.1 stations (stations/devicemodel/api.py).
    path(
        "stations/<str:identity>/device-model/",
        devicemodel_api.DeviceModelApi.as_view(),
        name="station-device-model",
    ),
    path(
        "stations/<str:identity>/variables/get/",
        devicemodel_api.VariablesGetApi.as_view(),
        name="station-variables-get",
    ),
    path(
        "stations/<str:identity>/variables/set/",
        devicemodel_api.VariablesSetApi.as_view(),
        name="station-variables-set",
    ),
    path(
        "stations/<str:identity>/base-report/",
        devicemodel_api.BaseReportApi.as_view(),
        name="station-base-report",
    ),
    path(
        "stations/<str:identity>/custom-report/",
        devicemodel_api.CustomReportApi.as_view(),
        name="station-custom-report",
    ),
    path(
        "stations/<str:identity>/display-messages/",
        devicemodel_api.DisplayMessageListApi.as_view(),
        name="station-display-messages",
    ),
    path(
        "stations/<str:identity>/display-messages/request/",
        devicemodel_api.DisplayMessagesRequestApi.as_view(),
        name="station-display-messages-request",
    ),
    path(
        "stations/<str:identity>/display-messages/<int:message_id>/clear/",
        devicemodel_api.DisplayMessageClearApi.as_view(),
        name="station-display-message-clear",
    ),
    path(
        "stations/<str:identity>/monitors/", devicemodel_api.MonitorListApi.as_view(), name="station-monitors"
    ),
    path(
        "stations/<str:identity>/monitors/clear/",
        devicemodel_api.MonitorsClearApi.as_view(),
        name="station-monitors-clear",
    ),
    path(
        "stations/<str:identity>/monitors/report/",
        devicemodel_api.MonitoringReportApi.as_view(),
        name="station-monitoring-report",
    ),
    path(
        "stations/<str:identity>/monitoring-base/",
        devicemodel_api.MonitoringBaseApi.as_view(),
        name="station-monitoring-base",
    ),
    path(
        "stations/<str:identity>/monitoring-level/",
        devicemodel_api.MonitoringLevelApi.as_view(),
        name="station-monitoring-level",
    ),
    path(
        "stations/<str:identity>/customer-information/",
        devicemodel_api.CustomerInformationApi.as_view(),
        name="station-customer-information",
    ),
    # A driver's GDPR request to every 2.0.1 station at once (stations/devicemodel/api.py).
    path(
        "customer-data-requests/",
        devicemodel_api.CustomerDataRequestListApi.as_view(),
        name="customer-data-request-list",
    ),
    path(
        "customer-data-requests/<int:pk>/",
        devicemodel_api.CustomerDataRequestDetailApi.as_view(),
        name="customer-data-request-detail",
    ),
    path(
        "stations/<str:identity>/certificates/",
        certificates_api.StationCertificateListApi.as_view(),
        name="station-certificates",
    ),
    path(
        "stations/<str:identity>/certificates/install/",
        certificates_api.StationCertificateInstallApi.as_view(),
        name="station-certificate-install",
    ),
    path(
        "stations/<str:identity>/certificates/installed-ids/",
        certificates_api.StationCertificateQueryApi.as_view(),
        name="station-certificate-query",
    ),
    path(
        "stations/<str:identity>/certificates/<str:serial>/revoke/",
        certificates_api.StationCertificateRevokeApi.as_view(),
        name="station-certificate-revoke",
    ),
    path(
        "stations/<str:identity>/certificates/delete/",
        certificates_api.StationCertificateDeleteApi.as_view(),
        name="station-certificate-delete",
    ),
    path("firmware-images/", fleet_api.FirmwareImageListApi.as_view(), name="firmware-image-list"),
    path(
        "firmware-images/<id:pk>/", fleet_api.FirmwareImageDetailApi.as_view(), name="firmware-image-detail"
    ),
    path("firmware-campaigns/", fleet_api.CampaignListApi.as_view(), name="firmware-campaign-list"),
    path(
        "firmware-campaigns/<id:pk>/", fleet_api.CampaignDetailApi.as_view(), name="firmware-campaign-detail"
    ),
    path(
        "diagnostics-campaigns/",
        fleet_api.DiagnosticsCampaignListApi.as_view(),
        name="diagnostics-campaign-list",
    ),
    path(
        "diagnostics-campaigns/<id:pk>/",
        fleet_api.DiagnosticsCampaignDetailApi.as_view(),
        name="diagnostics-campaign-detail",
    ),
    *[
        path(f"{kind}-campaigns/<id:pk>/{action}/", view.as_view(), name=f"{kind}-campaign-{action}")
        for kind, views in fleet_api.CAMPAIGN_ACTION_APIS.items()
        for action, view in views.items()
    ],
    path(
        "stations/<str:identity>/diagnostics/",
        fleet_api.StationDiagnosticsListApi.as_view(),
        name="station-diagnostics",
    ),
    path(
        "stations/<str:identity>/firmware-publications/",
        fleet_api.StationFirmwarePublicationListApi.as_view(),
        name="station-firmware-publications",
    ),
    path(
        "stations/<str:identity>/firmware-publications/<uuid:publication_uuid>/unpublish/",
        fleet_api.FirmwarePublicationUnpublishApi.as_view(),
        name="station-firmware-publication-unpublish",
    ),
    path(
        "diagnostics/<uuid:request_uuid>/",
        fleet_api.DiagnosticsDetailApi.as_view(),
        name="diagnostics-detail",
    ),
    path(
        "diagnostics/<uuid:request_uuid>/file/",
        fleet_api.DiagnosticsFileApi.as_view(),
        name="diagnostics-file",
    ),
]

urlpatterns = [
    path("api/v1/", include(v1)),
    path("api/schema/", SpectacularAPIView.as_view(urlconf="chargenet.api.urls"), name="schema"),
    # The split view serves its initialiser as a script file: no inline script (Content-Security-Policy).
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api:schema"), name="docs"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="api:schema"), name="redoc"),
    # Anything else under /api/ is a 404 in the API's error format, not Django's HTML page.
    re_path(r"^api/", views.api_not_found),
    path("settings/api-keys/", views.api_key_list, name="api-key-page"),
    path("settings/api-keys/<id:pk>/revoke/", views.api_key_revoke_page, name="api-key-revoke"),
]
