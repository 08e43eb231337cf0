"""The test double of an ISO 15118 certificate provider (contract-certificate pool and OCSP
responder), named by OCPP_CERTIFICATE_PROVIDER in the certificate tests' server."""

from typing import Any

from stations.certificates.services import CertificateProvider

# What the fake pool answers: the EXI request echoed back, so a test sees its request went through.
EXI_PREFIX = "exi-response-for:"


class FakeProvider(CertificateProvider):
    def ev_certificate(self, *, station: Any, schema_version: str, action: str, exi_request: str) -> dict:
        if exi_request == "broken":
            raise RuntimeError("pool unreachable")
        return {"status": "Accepted", "exiResponse": f"{EXI_PREFIX}{action}:{exi_request}"}

    def certificate_status(self, *, station: Any, ocsp_request: dict) -> dict:
        if ocsp_request.get("serialNumber") == "revoked":
            return {"status": "Accepted", "ocspResult": "revoked-ocsp-response"}
        return {"status": "Accepted", "ocspResult": f"good:{ocsp_request['serialNumber']}"}
