"""Smart charging's own rows: site capacities with their allocation decisions, and schedule rules
with the state they last applied to each station. Installed profiles are
`stations.models.ChargingProfile` (the station's side of the truth)."""

from django.db import models

from stations.models import Command, Location, Session, Station, Tag


class SiteCapacity(models.Model):
    """A location's grid connection (or one circuit of it): the most its sessions may draw together."""

    location = models.OneToOneField(Location, on_delete=models.CASCADE, related_name="site_capacity")
    capacity_a = models.DecimalField(
        max_digits=8, decimal_places=1, help_text="Amperes per phase the site's sessions may draw together"
    )
    min_current_a = models.DecimalField(
        max_digits=5,
        decimal_places=1,
        default=6,
        help_text="Below this an EV is paused instead (IEC 61851: 6 A)",
    )
    fallback_current_a = models.DecimalField(
        max_digits=5,
        decimal_places=1,
        default=6,
        help_text="TxDefault limit each connector gets, kept in reserve for it while idle and used "
        "when ChargeNet cannot reach the station",
    )
    priorities = models.JSONField(
        default=dict, blank=True, help_text="id token → priority (higher first); others have 0"
    )
    plan_priorities = models.JSONField(
        default=dict,
        blank=True,
        help_text="subscription plan name → priority of its members' sessions (higher first)",
    )
    capacity_windows = models.JSONField(
        default=list,
        blank=True,
        help_text='Times of day with another capacity, in the location\'s time zone: [{"weekdays": '
        '[0-6], "start": "HH:MM", "end": "HH:MM", "capacity_a": n}]; the lowest in force wins',
    )
    capacity_in_force_a = models.DecimalField(
        max_digits=8,
        decimal_places=1,
        null=True,
        blank=True,
        help_text="The capacity the schedule tick last put in force (a window's, or capacity_a)",
    )
    enabled = models.BooleanField(default=True)
    rebalance_requested_at = models.DateTimeField(null=True, blank=True)
    rebalanced_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.location} {self.capacity_a} A"

    @property
    def capacity_kw(self) -> float:
        return round(float(self.capacity_a) * 230 * 3 / 1000, 1)


class Circuit(models.Model):
    """A circuit within a site (a feeder, a distribution board): its own limit, nested under another
    circuit or directly under the site, and the stations it feeds."""

    site = models.ForeignKey(SiteCapacity, on_delete=models.CASCADE, related_name="circuits")
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.CASCADE, related_name="children"
    )
    name = models.CharField(max_length=100)
    capacity_a = models.DecimalField(max_digits=8, decimal_places=1, help_text="Amperes per phase")
    stations: "models.ManyToManyField[Station, CircuitStation]" = models.ManyToManyField(
        Station, through="CircuitStation", related_name="+", blank=True
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [models.UniqueConstraint("site", "name", name="circuit_name_unique_per_site")]

    def __str__(self) -> str:
        return f"{self.name} {self.capacity_a} A"


class CircuitStation(models.Model):
    """A station fed by a circuit; a station hangs from one circuit at the most."""

    circuit = models.ForeignKey(Circuit, on_delete=models.CASCADE, related_name="memberships")
    station = models.OneToOneField(Station, on_delete=models.CASCADE, related_name="circuit_membership")

    def __str__(self) -> str:
        return f"{self.station_id} on {self.circuit_id}"


class ChargingNeed(models.Model):
    """What an ISO 15118 EV said it needs (2.0.1 NotifyEVChargingNeeds) and ChargeNet's answer: an
    accepted need caps the session's share at the EV's maximum and at the rate that delivers its
    energy by its departure time."""

    class Status(models.TextChoices):
        ACCEPTED = "Accepted", "Accepted"
        REJECTED = "Rejected", "Rejected"

    station = models.ForeignKey(Station, on_delete=models.CASCADE, related_name="+")
    session = models.ForeignKey(
        Session, null=True, blank=True, on_delete=models.CASCADE, related_name="charging_needs"
    )
    evse_id = models.PositiveIntegerField(default=0)
    transfer = models.CharField(max_length=20, blank=True, help_text="requestedEnergyTransfer")
    phases = models.PositiveSmallIntegerField(default=3)
    energy_wh = models.PositiveIntegerField(null=True, blank=True, help_text="Energy the EV asks for")
    session_energy_wh = models.BigIntegerField(
        default=0, help_text="What the session had delivered when the needs came"
    )
    departure_at = models.DateTimeField(null=True, blank=True)
    max_current_a = models.DecimalField(max_digits=6, decimal_places=1, null=True, blank=True)
    max_schedule_tuples = models.PositiveIntegerField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices)
    reason = models.CharField(max_length=200, blank=True)
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-received_at", "-id"]

    def __str__(self) -> str:
        return f"{self.status} needs of session {self.session_id}"


class AllocationDecision(models.Model):
    """What one session was given in one rebalance of a site, and why."""

    site = models.ForeignKey(SiteCapacity, on_delete=models.CASCADE, related_name="decisions")
    session = models.ForeignKey(Session, on_delete=models.CASCADE, related_name="allocation_decisions")
    station = models.ForeignKey(Station, on_delete=models.CASCADE, related_name="allocation_decisions")
    current_a = models.DecimalField(max_digits=6, decimal_places=1)
    reason = models.CharField(max_length=300)
    trigger = models.CharField(max_length=60, blank=True, help_text="The event that caused the rebalance")
    command = models.ForeignKey(Command, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["session", "-created_at"])]

    def __str__(self) -> str:
        return f"session {self.session_id}: {self.current_a} A ({self.reason})"

    @property
    def power_kw(self) -> float:
        return round(float(self.current_a) * 230 * 3 / 1000, 1)


class ScheduleRule(models.Model):
    """A recurring or one-off rule for a station or every station of a location, in the location's
    time zone: a power limit, an availability window (Inoperative outside it), or maintenance."""

    class Kind(models.TextChoices):
        POWER_LIMIT = "power_limit", "Power limit"
        OPENING_HOURS = "opening_hours", "Opening hours (Inoperative outside)"
        MAINTENANCE = "maintenance", "Maintenance window (Inoperative during)"

    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    location = models.ForeignKey(
        Location, null=True, blank=True, on_delete=models.CASCADE, related_name="schedule_rules"
    )
    station = models.ForeignKey(
        Station, null=True, blank=True, on_delete=models.CASCADE, related_name="schedule_rules"
    )
    tag = models.ForeignKey(
        Tag, null=True, blank=True, on_delete=models.CASCADE, related_name="schedule_rules",
        help_text="Every station with this tag, wherever it is",
    )  # fmt: skip
    weekdays = models.JSONField(
        default=list, blank=True, help_text="0 = Monday … 6 = Sunday; empty = every day"
    )
    start_time = models.TimeField(null=True, blank=True, help_text="Local wall-clock time")
    end_time = models.TimeField(null=True, blank=True, help_text="Local; before start_time = past midnight")
    starts_at = models.DateTimeField(null=True, blank=True, help_text="One-off window start (maintenance)")
    ends_at = models.DateTimeField(null=True, blank=True, help_text="One-off window end (maintenance)")
    limit_w = models.PositiveIntegerField(null=True, blank=True, help_text="Power limit per station (W)")
    stop_sessions = models.BooleanField(
        default=False, help_text="Stop running sessions when the station must become Inoperative"
    )
    notice = models.CharField(max_length=200, blank=True, help_text="Shown to drivers (maintenance)")
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(location__isnull=False)
                | models.Q(station__isnull=False)
                | models.Q(tag__isnull=False),
                name="schedule_rule_has_a_target",
            )
        ]

    def __str__(self) -> str:
        return self.name


class StationScheduleState(models.Model):
    """What the schedules last applied to a station, so each tick sends only changes."""

    station = models.OneToOneField(Station, on_delete=models.CASCADE, related_name="schedule_state")
    limit_w = models.PositiveIntegerField(null=True, blank=True)
    inoperative = models.BooleanField(default=False)
    reason = models.CharField(max_length=200, blank=True)
    applied_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.station_id}: {self.limit_w} W, inoperative={self.inoperative}"
