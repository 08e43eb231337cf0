"""Models of the OCPI interface: roaming partners, what they gave us, and every exchange with them.

The truth about locations, sessions, tariffs, CDRs and cards stays in the other apps; these rows only
hold what OCPI adds: who a partner is, its tokens and endpoints, which roaming card belongs to which
partner, the OCPI facts of a roaming session, pushes waiting for delivery and eMSP commands.
"""

import uuid

from django.db import models
from django.db.models.functions import Lower


class Partner(models.Model):
    """A roaming partner platform (eMSP, hub …) and the credentials exchanged with it.

    We keep only SHA-256 hashes of the tokens we issue (token A before registration, then the token
    the partner calls us with); the partner's own token, which we must send, is kept as given and
    never shown or logged.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting for the partner to register"
        REGISTERED = "registered", "Registered"
        UNREGISTERED = "unregistered", "Unregistered"

    name = models.CharField(max_length=200)
    country_code = models.CharField(max_length=2, help_text="ISO 3166-1 alpha-2")
    party_id = models.CharField(max_length=3)
    # CredentialsRole objects: [{"role", "country_code", "party_id", "business_details"}].
    roles = models.JSONField(default=list)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PENDING)
    token_a_hash = models.CharField(max_length=64, blank=True, db_index=True)
    token_c_hash = models.CharField(max_length=64, blank=True, db_index=True)
    token_b = models.CharField(max_length=64, blank=True, help_text="The partner's token for our calls")
    versions_url = models.URLField(max_length=500, blank=True)
    version = models.CharField(max_length=10, blank=True)
    # The partner's endpoints of the chosen version: [{"identifier", "role", "url"}].
    endpoints = models.JSONField(default=list, blank=True)
    send_base64 = models.BooleanField(
        default=True, help_text="Encode our token in base64 (OCPI 2.2.1); off for peers that want it raw"
    )
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint("country_code", "party_id", name="ocpi_partner_party_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.country_code}*{self.party_id})"

    def endpoint(self, identifier: str, role: str = "RECEIVER") -> str:
        """The partner's URL for a module in a role as it advertised it ('' when it has none)."""
        for item in self.endpoints:
            if item.get("identifier") == identifier and item.get("role", role) == role:
                return str(item.get("url", ""))
        return ""


class RequestLog(models.Model):
    """One OCPI request in or out, with its answer (the OCPI counterpart of the OCPP message log)."""

    class Direction(models.TextChoices):
        IN = "in", "Partner → ChargeNet"
        OUT = "out", "ChargeNet → partner"

    partner = models.ForeignKey(
        Partner, null=True, blank=True, on_delete=models.CASCADE, related_name="request_log"
    )
    direction = models.CharField(max_length=3, choices=Direction.choices)
    method = models.CharField(max_length=7)
    url = models.CharField(max_length=500)
    http_status = models.PositiveSmallIntegerField(null=True, blank=True)
    ocpi_status = models.PositiveSmallIntegerField(null=True, blank=True)
    request_id = models.CharField(max_length=64, blank=True)
    correlation_id = models.CharField(max_length=64, blank=True)
    request_body = models.TextField(blank=True)
    response_body = models.TextField(blank=True)
    error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["partner", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.direction} {self.method} {self.url} → {self.http_status}"


class RoamingToken(models.Model):
    """An eMSP's token as it pushed it; the card itself is an rfid IdToken of source roaming."""

    class Whitelist(models.TextChoices):
        ALWAYS = "ALWAYS"
        ALLOWED = "ALLOWED"
        ALLOWED_OFFLINE = "ALLOWED_OFFLINE"
        NEVER = "NEVER"

    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="tokens")
    id_token = models.ForeignKey("rfid.IdToken", on_delete=models.CASCADE, related_name="roaming_tokens")
    country_code = models.CharField(max_length=2)
    party_id = models.CharField(max_length=3)
    uid = models.CharField(max_length=36)
    type = models.CharField(max_length=12, default="RFID")
    contract_id = models.CharField(max_length=36)
    whitelist = models.CharField(max_length=16, choices=Whitelist.choices, default=Whitelist.ALLOWED)
    valid = models.BooleanField(default=True)
    # The Token object as last received (PUT, or PUT merged with PATCHes).
    data = models.JSONField(default=dict)
    last_updated = models.DateTimeField()
    # The eMSP's reference from its last real-time authorization or command (copied into sessions),
    # and when the eMSP last allowed the token in real time or sent a command with it: a session
    # that starts soon after is AUTH_REQUEST or COMMAND, otherwise WHITELIST.
    authorization_reference = models.CharField(max_length=36, blank=True)
    authorized_at = models.DateTimeField(null=True, blank=True)
    command_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint("partner", Lower("uid"), "type", name="ocpi_token_unique_per_partner"),
        ]

    def __str__(self) -> str:
        return f"{self.country_code}*{self.party_id} {self.uid} ({self.type})"

    def cdr_token(self) -> dict:
        return {
            "country_code": self.country_code,
            "party_id": self.party_id,
            "uid": self.uid,
            "type": self.type,
            "contract_id": self.contract_id,
        }


class RoamingSession(models.Model):
    """The OCPI facts of a session charged with a partner's token: whose, how authorized, reference."""

    class AuthMethod(models.TextChoices):
        AUTH_REQUEST = "AUTH_REQUEST"
        COMMAND = "COMMAND"
        WHITELIST = "WHITELIST"

    session = models.OneToOneField("stations.Session", on_delete=models.CASCADE, related_name="roaming")
    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="sessions")
    token = models.ForeignKey(
        RoamingToken, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    cdr_token = models.JSONField()
    auth_method = models.CharField(max_length=12, choices=AuthMethod.choices)
    authorization_reference = models.CharField(max_length=36, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"session {self.session_id} of {self.partner}"


class Push(models.Model):
    """One change to send to a partner (an outbox row): pending until the partner took it.

    Pushes of one object (`object_key`) go out in creation order; a failed one is retried with
    back-off and holds back the later ones, so the partner never sees an older state last.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SUCCEEDED = "succeeded", "Delivered"
        FAILED = "failed", "Given up"

    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="pushes")
    module = models.CharField(max_length=20)
    method = models.CharField(max_length=6)
    # The path below the partner's module endpoint, e.g. "/NL/CNT/12/34" ("" for a CDR POST).
    path = models.CharField(max_length=300, blank=True)
    body = models.JSONField(null=True, blank=True)
    object_key = models.CharField(
        max_length=80, help_text="e.g. evse:12 — pushes of one object stay in order"
    )
    # The domain event it came from, so a redelivered event creates no second push.
    event_key = models.CharField(max_length=80, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    locked_until = models.DateTimeField(null=True, blank=True)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    # The CDR's URL at the partner (its `Location` answer header).
    response_location = models.CharField(max_length=500, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["status", "partner", "object_key"])]
        constraints = [
            models.UniqueConstraint(
                "partner",
                "event_key",
                "object_key",
                condition=~models.Q(event_key=""),
                name="ocpi_push_once_per_event",
            )
        ]

    def __str__(self) -> str:
        return f"{self.method} {self.module}{self.path} → {self.partner_id} ({self.status})"


class RemoteCommand(models.Model):
    """A command an eMSP sent (START_SESSION …, or a ChargingProfiles request: SET_CHARGING_PROFILE,
    GET_CHARGING_PROFILE, CLEAR_PROFILE) and the station command that carries it out."""

    class Result(models.TextChoices):
        ACCEPTED = "ACCEPTED"
        CANCELED_RESERVATION = "CANCELED_RESERVATION"
        EVSE_OCCUPIED = "EVSE_OCCUPIED"
        EVSE_INOPERATIVE = "EVSE_INOPERATIVE"
        FAILED = "FAILED"
        NOT_SUPPORTED = "NOT_SUPPORTED"
        REJECTED = "REJECTED"
        TIMEOUT = "TIMEOUT"
        UNKNOWN = "UNKNOWN"  # ChargingProfiles: no profile matched (ClearProfileResult …)
        UNKNOWN_RESERVATION = "UNKNOWN_RESERVATION"

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="commands")
    command = models.CharField(max_length=20)
    response_url = models.URLField(max_length=500)
    body = models.JSONField()
    station_command = models.ForeignKey(
        "stations.Command", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The eMSP's token (uid) for START_SESSION/RESERVE_NOW, so the session gets auth_method COMMAND.
    token_uid = models.CharField(max_length=36, blank=True)
    result = models.CharField(max_length=20, choices=Result.choices, blank=True)
    result_sent_at = models.DateTimeField(null=True, blank=True)
    deadline = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.command} from {self.partner_id} ({self.result or 'waiting'})"


class ClientInfo(models.Model):
    """What a hub partner told us about one of the parties behind it (OCPI HubClientInfo): its role
    and whether it is connected to the hub."""

    class Status(models.TextChoices):
        CONNECTED = "CONNECTED"
        OFFLINE = "OFFLINE"
        PLANNED = "PLANNED"
        SUSPENDED = "SUSPENDED"

    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="client_infos")
    country_code = models.CharField(max_length=2)
    party_id = models.CharField(max_length=3)
    role = models.CharField(max_length=5)
    status = models.CharField(max_length=9, choices=Status.choices)
    last_updated = models.DateTimeField()
    received_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["country_code", "party_id"]
        constraints = [
            models.UniqueConstraint("partner", "country_code", "party_id", name="ocpi_client_info_unique")
        ]

    def __str__(self) -> str:
        return f"{self.country_code}*{self.party_id} {self.role} ({self.status})"


# --- the eMSP role: ChargeNet's drivers on partner networks (docs/ocpi.md, "eMSP role") ---------


class EmspToken(models.Model):
    """One of our drivers' cards that the operator offers to CPO partners (roaming-enabled), with the
    contract id it roams under and what was last pushed, so a change is pushed once."""

    id_token = models.OneToOneField("rfid.IdToken", on_delete=models.CASCADE, related_name="emsp_token")
    enabled = models.BooleanField(default=True)
    contract_id = models.CharField(max_length=36, unique=True)
    # The Token object (without last_updated) as partners last got it; a change pushes it again.
    pushed = models.JSONField(default=dict, blank=True)
    last_updated = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.contract_id} ({'roaming' if self.enabled else 'not roaming'})"


class PartnerObject(models.Model):
    """Common fields of what a CPO partner told us about its network (kept apart from our own)."""

    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="+")
    country_code = models.CharField(max_length=2)
    party_id = models.CharField(max_length=3)
    object_id = models.CharField(max_length=36)
    data = models.JSONField(default=dict)
    last_updated = models.DateTimeField()
    received_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True
        ordering = ["id"]


class PartnerLocation(PartnerObject):
    """A partner's location with its EVSEs and their live status (the OCPI Location object)."""

    name = models.CharField(max_length=255, blank=True)
    city = models.CharField(max_length=45, blank=True)
    latitude = models.DecimalField(max_digits=9, decimal_places=6, null=True, blank=True)
    longitude = models.DecimalField(max_digits=9, decimal_places=6, null=True, blank=True)
    publish = models.BooleanField(default=True)

    class Meta(PartnerObject.Meta):
        constraints = [
            models.UniqueConstraint(
                "partner", "country_code", "party_id", "object_id", name="ocpi_partner_location_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.country_code}*{self.party_id} {self.name or self.object_id}"


class PartnerTariff(PartnerObject):
    """A partner's tariff (the OCPI Tariff object) as it pushed or we pulled it."""

    currency = models.CharField(max_length=3, blank=True)

    class Meta(PartnerObject.Meta):
        constraints = [
            models.UniqueConstraint(
                "partner", "country_code", "party_id", "object_id", name="ocpi_partner_tariff_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.country_code}*{self.party_id} tariff {self.object_id}"


class PartnerSession(PartnerObject):
    """A session one of our drivers charges on a partner's network, as the CPO reports it."""

    id_token = models.ForeignKey("rfid.IdToken", null=True, on_delete=models.SET_NULL, related_name="+")
    driver = models.ForeignKey("rfid.Driver", null=True, on_delete=models.SET_NULL, related_name="+")
    status = models.CharField(max_length=12)
    location_id = models.CharField(max_length=36, blank=True)
    evse_uid = models.CharField(max_length=36, blank=True)
    kwh = models.DecimalField(max_digits=12, decimal_places=4, default=0)
    currency = models.CharField(max_length=3, blank=True)
    total_cost_excl_vat = models.DecimalField(max_digits=12, decimal_places=4, null=True, blank=True)
    authorization_reference = models.CharField(max_length=36, blank=True)
    start_date_time = models.DateTimeField()
    end_date_time = models.DateTimeField(null=True, blank=True)

    class Meta(PartnerObject.Meta):
        constraints = [
            models.UniqueConstraint(
                "partner", "country_code", "party_id", "object_id", name="ocpi_partner_session_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.country_code}*{self.party_id} session {self.object_id} ({self.status})"


class PartnerCdr(PartnerObject):
    """A CDR a CPO partner sent for one of our drivers, with the price we charge the driver for it
    (the partner's price plus our roaming markup and fee, with VAT), fixed when it arrived."""

    id_token = models.ForeignKey("rfid.IdToken", null=True, on_delete=models.SET_NULL, related_name="+")
    driver = models.ForeignKey("rfid.Driver", null=True, on_delete=models.SET_NULL, related_name="+")
    session_id = models.CharField(max_length=36, blank=True)
    location_name = models.CharField(max_length=255, blank=True)
    start_date_time = models.DateTimeField()
    end_date_time = models.DateTimeField(db_index=True)
    kwh = models.DecimalField(max_digits=12, decimal_places=4)
    currency = models.CharField(max_length=3)
    partner_excl_vat = models.DecimalField(max_digits=12, decimal_places=4)
    partner_incl_vat = models.DecimalField(max_digits=12, decimal_places=4, null=True, blank=True)
    # What the driver pays us, rounded once (billing.pricing.money_round).
    driver_excl_vat = models.DecimalField(max_digits=12, decimal_places=2)
    driver_vat_percent = models.DecimalField(max_digits=5, decimal_places=2)
    driver_vat = models.DecimalField(max_digits=12, decimal_places=2)
    driver_incl_vat = models.DecimalField(max_digits=12, decimal_places=2)
    # A second CDR for a session that already has one: kept for reconciliation, never invoiced.
    duplicate_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    invoice_line = models.OneToOneField(
        "billing.InvoiceLine", null=True, blank=True, on_delete=models.SET_NULL, related_name="partner_cdr"
    )

    class Meta(PartnerObject.Meta):
        constraints = [
            models.UniqueConstraint(
                "partner", "country_code", "party_id", "object_id", name="ocpi_partner_cdr_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.country_code}*{self.party_id} CDR {self.object_id}"


class PartnerPull(models.Model):
    """Where the periodic incremental pull of a partner's module stands (date_from of the next)."""

    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="+")
    module = models.CharField(max_length=20)
    pulled_until = models.DateTimeField(null=True, blank=True)
    last_run_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint("partner", "module", name="ocpi_partner_pull_unique")]

    def __str__(self) -> str:
        return f"pull {self.module} of {self.partner_id}"


class EmspCommand(models.Model):
    """A command we (as eMSP) send a CPO partner for a driver: START_SESSION or STOP_SESSION, its
    immediate answer and the result the CPO posts to our response_url."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Sending"
        SENT = "sent", "Waiting for the charger"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="emsp_commands")
    command = models.CharField(max_length=20)
    driver = models.ForeignKey("rfid.Driver", null=True, on_delete=models.SET_NULL, related_name="+")
    id_token = models.ForeignKey("rfid.IdToken", null=True, on_delete=models.SET_NULL, related_name="+")
    body = models.JSONField()
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.QUEUED)
    # The CPO's CommandResponse result, then its CommandResult (ACCEPTED, REJECTED, TIMEOUT …).
    response = models.CharField(max_length=30, blank=True)
    result = models.CharField(max_length=30, blank=True)
    message = models.CharField(max_length=300, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.command} to {self.partner_id} ({self.result or self.response or self.status})"
