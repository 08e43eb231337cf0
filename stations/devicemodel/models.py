"""Models of the device model room: what a 2.0.1 station told the CSMS about itself.

- `DeviceVariable`: one attribute (Actual/Target/MinSet/MaxSet) of one variable of one component, with
  its characteristics, as NotifyReport, GetVariables, SetVariables and NotifyEvent left it.
- `DeviceMonitor`: a variable monitor the station reported (NotifyMonitoringReport).
- `DeviceEvent`: one event of NotifyEvent; a problem event stays an alert until it is cleared.
- `StationReport`: one multi-part report a station sent for a request (NotifyReport,
  NotifyMonitoringReport, NotifyCustomerInformation, NotifyDisplayMessages, ReportChargingProfiles).
- `DisplayMessage`: a message the station reported it shows (NotifyDisplayMessages).
- `ChargingNotice`: what a station said about charging limits and the EV's needs (K blocks), for the
  smart-charging room to act on.
- `CustomerDataRequest`: a driver's GDPR request sent to every 2.0.1 station at once (one durable
  CustomerInformation command per station and card).
"""

from django.conf import settings
from django.db import models

from stations.network.models import Station


class DeviceVariable(models.Model):
    """One attribute of a component's variable (2.0.1 Part 1 §4, Part 2 ReportDataType)."""

    station = models.ForeignKey(Station, on_delete=models.CASCADE, related_name="device_variables")
    # component|instance|evse|connector|variable|instance|attribute type: unique per station.
    key = models.CharField(max_length=400)
    component = models.CharField(max_length=50)
    component_instance = models.CharField(max_length=50, blank=True)
    evse_id = models.PositiveIntegerField(null=True, blank=True)
    connector_id = models.PositiveIntegerField(null=True, blank=True)
    variable = models.CharField(max_length=50)
    variable_instance = models.CharField(max_length=50, blank=True)
    attribute_type = models.CharField(max_length=8, default="Actual")
    value = models.TextField(blank=True)
    mutability = models.CharField(max_length=10, blank=True)  # ReadOnly, WriteOnly, ReadWrite
    persistent = models.BooleanField(default=False)
    constant = models.BooleanField(default=False)
    # unit, dataType, minLimit, maxLimit, valuesList, supportsMonitoring (VariableCharacteristicsType)
    characteristics = models.JSONField(default=dict, blank=True)
    # The station's answer to the last GetVariables/SetVariables for this attribute.
    last_status = models.CharField(max_length=30, blank=True)
    last_status_info = models.CharField(max_length=500, blank=True)
    last_status_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = [
            "component",
            "component_instance",
            "evse_id",
            "connector_id",
            "variable",
            "attribute_type",
        ]
        constraints = [models.UniqueConstraint("station", "key", name="device_variable_unique_per_station")]

    def __str__(self) -> str:
        return f"{self.component}.{self.variable}[{self.attribute_type}]"


class DeviceMonitor(models.Model):
    """A monitor set on a variable (NotifyMonitoringReport's VariableMonitoringType)."""

    station = models.ForeignKey(Station, on_delete=models.CASCADE, related_name="device_monitors")
    monitor_id = models.IntegerField()
    component = models.CharField(max_length=50)
    component_instance = models.CharField(max_length=50, blank=True)
    evse_id = models.PositiveIntegerField(null=True, blank=True)
    connector_id = models.PositiveIntegerField(null=True, blank=True)
    variable = models.CharField(max_length=50)
    variable_instance = models.CharField(max_length=50, blank=True)
    type = models.CharField(max_length=30)
    severity = models.PositiveSmallIntegerField(default=0)
    value = models.FloatField(default=0)
    transaction = models.BooleanField(default=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["monitor_id"]
        constraints = [
            models.UniqueConstraint("station", "monitor_id", name="device_monitor_unique_per_station")
        ]

    def __str__(self) -> str:
        return f"monitor {self.monitor_id} on {self.component}.{self.variable}"


class DeviceEvent(models.Model):
    """One EventDataType of a NotifyEvent. A problem event is an alert until the station clears it
    (an event with `cleared` for the same component and variable) (2.0.1 N07/N08)."""

    station = models.ForeignKey(Station, on_delete=models.CASCADE, related_name="device_events")
    event_id = models.IntegerField()
    timestamp = models.DateTimeField()
    trigger = models.CharField(max_length=20)  # Alerting, Delta, Periodic
    notification_type = models.CharField(max_length=30, blank=True)
    cause = models.IntegerField(null=True, blank=True)
    key = models.CharField(max_length=400)  # DeviceVariable.key of the Actual attribute
    component = models.CharField(max_length=50)
    variable = models.CharField(max_length=50)
    evse_id = models.PositiveIntegerField(null=True, blank=True)
    actual_value = models.TextField(blank=True)
    tech_code = models.CharField(max_length=50, blank=True)
    tech_info = models.TextField(blank=True)
    problem = models.BooleanField(default=False)
    cleared = models.BooleanField(default=False)
    cleared_at = models.DateTimeField(
        null=True, blank=True, help_text="When a later event cleared this problem"
    )
    transaction_id = models.CharField(max_length=36, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-timestamp", "-pk"]
        indexes = [models.Index(fields=["station", "key"]), models.Index(fields=["problem", "cleared_at"])]

    def __str__(self) -> str:
        return f"{self.component}.{self.variable} = {self.actual_value}"


class StationReport(models.Model):
    """One multi-part report a station sends for a CSMS request (tbc until its last part)."""

    class Kind(models.TextChoices):
        DEVICE_MODEL = "device_model", "Device model (NotifyReport)"
        MONITORING = "monitoring", "Monitoring (NotifyMonitoringReport)"
        CUSTOMER_INFORMATION = "customer_info", "Customer information (NotifyCustomerInformation)"
        DISPLAY_MESSAGES = "display_messages", "Display messages (NotifyDisplayMessages)"
        CHARGING_PROFILES = "charging_profiles", "Charging profiles (ReportChargingProfiles)"

    station = models.ForeignKey(Station, on_delete=models.CASCADE, related_name="station_reports")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    request_id = models.IntegerField()
    parts = models.PositiveIntegerField(default=0)
    complete = models.BooleanField(default=False)
    generated_at = models.DateTimeField(null=True, blank=True)
    # The text of a customer information report, its parts joined in seqNo order.
    data = models.TextField(blank=True)
    # seqNo → text of the parts received so far (customer information), or the parts' payloads.
    content = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint("station", "kind", "request_id", name="station_report_unique_per_request")
        ]

    def __str__(self) -> str:
        return f"{self.kind} report {self.request_id}"


class DisplayMessage(models.Model):
    """A message a station reported it shows (MessageInfoType of NotifyDisplayMessages)."""

    station = models.ForeignKey(Station, on_delete=models.CASCADE, related_name="display_messages")
    message_id = models.IntegerField()
    priority = models.CharField(max_length=20)
    state = models.CharField(max_length=20, blank=True)
    content = models.TextField()
    format = models.CharField(max_length=10, blank=True)
    language = models.CharField(max_length=8, blank=True)
    start_at = models.DateTimeField(null=True, blank=True)
    end_at = models.DateTimeField(null=True, blank=True)
    transaction_id = models.CharField(max_length=36, blank=True)
    request_id = models.IntegerField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["message_id"]
        constraints = [
            models.UniqueConstraint("station", "message_id", name="display_message_unique_per_station")
        ]

    def __str__(self) -> str:
        return f"message {self.message_id}"


class ChargingNotice(models.Model):
    """What a station said about charging: an external limit, the EV's needs or schedule, its profiles."""

    class Kind(models.TextChoices):
        CHARGING_LIMIT = "charging_limit", "Charging limit (NotifyChargingLimit)"
        LIMIT_CLEARED = "limit_cleared", "Charging limit cleared (ClearedChargingLimit)"
        EV_NEEDS = "ev_needs", "EV charging needs (NotifyEVChargingNeeds)"
        EV_SCHEDULE = "ev_schedule", "EV charging schedule (NotifyEVChargingSchedule)"
        PROFILES = "profiles", "Charging profiles (ReportChargingProfiles)"

    station = models.ForeignKey(Station, on_delete=models.CASCADE, related_name="charging_notices")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    evse_id = models.PositiveIntegerField(null=True, blank=True)
    source = models.CharField(max_length=20, blank=True)  # chargingLimitSource
    request_id = models.IntegerField(null=True, blank=True)
    data = models.JSONField(default=dict, help_text="The message's payload as the station sent it")
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-received_at", "-pk"]
        indexes = [models.Index(fields=["station", "kind"])]

    def __str__(self) -> str:
        return f"{self.kind} of station {self.station_id}"


class CustomerDataRequest(models.Model):
    """A GDPR request about a driver's cards sent to every 2.0.1 station of the network: report what
    the stations hold and/or clear it (N09/N10), one CustomerInformation command per station and card."""

    driver = models.ForeignKey(
        "rfid.Driver", null=True, blank=True, on_delete=models.SET_NULL, related_name="customer_data_requests"
    )
    id_tokens = models.JSONField(default=list, help_text="The card uids the request is about")
    report = models.BooleanField(default=False)
    clear = models.BooleanField(default=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    commands = models.ManyToManyField("stations.Command", related_name="+", blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"customer data request {self.pk} ({', '.join(self.id_tokens)})"
