"""REST API of certificates (under /api/v1/stations/<identity>/certificates/): the inventory, and
InstallCertificate / GetInstalledCertificateIds / DeleteCertificate as typed commands for both OCPP
versions (1.6 security extension names; docs/api.md)."""

from django.conf import settings
from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from chargenet.api.base import ApiView
from chargenet.api.permissions import IsStaffReadOperateWrite
from stations.api.serializers import CommandSerializer
from stations.api.views import _command_created, _station
from stations.certificates import selectors, services
from stations.certificates.models import IssuedCertificate


class _WaitMixin(serializers.Serializer):
    wait = serializers.FloatField(
        required=False, min_value=0, max_value=60, help_text="As for commands: seconds to wait for the answer"
    )

    def validate_wait(self, value: float) -> float:
        return min(value, settings.API_COMMAND_MAX_WAIT)


class CertificateInstallSerializer(_WaitMixin):
    certificate_type = serializers.CharField(
        max_length=40,
        help_text="1.6: CentralSystemRootCertificate or ManufacturerRootCertificate; 2.0.1: CSMSRootCertificate, "
        "ManufacturerRootCertificate, V2GRootCertificate or MORootCertificate (either CSMS root spelling works)",
    )
    certificate = serializers.CharField(max_length=5500, help_text="The PEM-encoded X.509 certificate")


class CertificateQuerySerializer(_WaitMixin):
    certificate_types = serializers.ListField(
        child=serializers.CharField(max_length=40),
        required=False,
        default=list,
        help_text="Types to list (1.6: exactly one; 2.0.1: any, none = all)",
    )


class CertificateHashDataSerializer(serializers.Serializer):
    hashAlgorithm = serializers.CharField(max_length=6)  # noqa: N815 - OCPP's own field names
    issuerNameHash = serializers.CharField(max_length=128)  # noqa: N815
    issuerKeyHash = serializers.CharField(max_length=128)  # noqa: N815
    serialNumber = serializers.CharField(max_length=40)  # noqa: N815


class CertificateDeleteSerializer(_WaitMixin):
    certificate_hash_data = CertificateHashDataSerializer(
        help_text="The certificate as GetInstalledCertificateIds reported it"
    )


class IssuedCertificateSerializer(serializers.ModelSerializer):
    class Meta:
        model = IssuedCertificate
        fields = [
            "certificate_type",
            "serial_number",
            "subject",
            "not_before",
            "not_after",
            "station_answer",
            "revoked_at",
            "revocation_reason",
            "created_at",
        ]
        read_only_fields = fields


class CertificateInventorySerializer(serializers.Serializer):
    issued = IssuedCertificateSerializer(many=True, help_text="Signed by ChargeNet's CA, newest first")
    installed = serializers.ListField(
        child=serializers.DictField(),
        help_text="certificateHashData (with certificateType) the station reported",
    )
    expiring = serializers.ListField(
        child=serializers.CharField(),
        help_text="Serial numbers of current certificates expired or expiring soon",
    )


@extend_schema(tags=["certificates"])
class StationCertificateListApi(ApiView):
    permission_classes = [IsStaffReadOperateWrite]

    @extend_schema(summary="A station's certificate inventory", responses=CertificateInventorySerializer)
    def get(self, request, identity: str):
        inventory = selectors.station_certificate_inventory(station=_station(request, identity))
        data = {
            "issued": [row.certificate for row in inventory.issued],
            "installed": inventory.installed,
            "expiring": [row.certificate.serial_number for row in inventory.warnings],
        }
        return Response(CertificateInventorySerializer(data).data)


@extend_schema(tags=["certificates"])
class StationCertificateInstallApi(ApiView):
    permission_classes = [IsStaffReadOperateWrite]
    audit_object_type = "station"
    audit_lookup = "identity"

    @extend_schema(
        summary="Install a root certificate on a station (InstallCertificate)",
        request=CertificateInstallSerializer,
        responses={201: CommandSerializer},
    )
    def post(self, request, identity: str):
        serializer = CertificateInstallSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        command = services.certificate_install(
            station=_station(request, identity),
            certificate_type=data["certificate_type"],
            certificate=data["certificate"],
            requested_by=request.user,
        )
        return _command_created(command, data.get("wait"))


@extend_schema(tags=["certificates"])
class StationCertificateQueryApi(ApiView):
    permission_classes = [IsStaffReadOperateWrite]
    audit_object_type = "station"
    audit_lookup = "identity"

    @extend_schema(
        summary="Ask a station which certificates it holds (GetInstalledCertificateIds)",
        request=CertificateQuerySerializer,
        responses={201: CommandSerializer},
        description="The answer replaces the inventory's installed certificates of those types.",
    )
    def post(self, request, identity: str):
        serializer = CertificateQuerySerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        command = services.certificate_ids_get(
            station=_station(request, identity),
            certificate_types=data["certificate_types"],
            requested_by=request.user,
        )
        return _command_created(command, data.get("wait"))


@extend_schema(tags=["certificates"])
class StationCertificateDeleteApi(ApiView):
    permission_classes = [IsStaffReadOperateWrite]
    audit_object_type = "station"
    audit_lookup = "identity"

    @extend_schema(
        summary="Delete a certificate from a station (DeleteCertificate)",
        request=CertificateDeleteSerializer,
        responses={201: CommandSerializer},
    )
    def post(self, request, identity: str):
        serializer = CertificateDeleteSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        command = services.certificate_delete(
            station=_station(request, identity),
            hash_data=dict(data["certificate_hash_data"]),
            requested_by=request.user,
        )
        return _command_created(command, data.get("wait"))


class CertificateRevokeSerializer(serializers.Serializer):
    reason = serializers.ChoiceField(
        choices=sorted(services.REVOCATION_REASONS), default="unspecified", help_text="The CRL reason"
    )


@extend_schema(tags=["certificates"])
class StationCertificateRevokeApi(ApiView):
    permission_classes = [IsStaffReadOperateWrite]
    audit_object_type = "station"
    audit_lookup = "identity"

    @extend_schema(
        summary="Revoke a certificate ChargeNet's CA issued to the station",
        request=CertificateRevokeSerializer,
        responses={200: IssuedCertificateSerializer},
        description="From then on the CA's CRL (GET /pki/crl) lists it and GetCertificateStatus answers "
        "it revoked. Revoking again keeps the first time and reason.",
    )
    def post(self, request, identity: str, serial: str):
        serializer = CertificateRevokeSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        station = _station(request, identity)
        issued = IssuedCertificate.objects.filter(station=station, serial_number=serial.lower()).first()
        if issued is None:
            raise Http404("no certificate with that serial number was issued to the station")
        issued = services.certificate_revoke(certificate=issued, reason=serializer.validated_data["reason"])
        return Response(IssuedCertificateSerializer(issued).data)
