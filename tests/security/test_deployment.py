"""The documented production settings pass `manage.py check --deploy`, and every page carries HSTS
and a Content-Security-Policy that allows no inline script."""

import subprocess

import pytest
from django.test import Client

from tests.support import manage_py

# docs/deployment.md, section 1 (with a real-looking secret).
PRODUCTION = {
    "DATABASE_URL": "postgres://chargenet:secret@db.internal:5432/chargenet",
    "REDIS_URL": "redis://redis.internal:6379/0",
    "SECRET_KEY": "k7#Qm2$vXp9!zL4@nR8^wT1&yB6*cF3(hJ5)dG0_sA-eU+oI=Zx",
    "ALLOWED_HOSTS": "csms.example.com",
    "CSRF_TRUSTED_ORIGINS": "https://csms.example.com",
    "SITE_URL": "https://csms.example.com",
    "BEHIND_TLS_PROXY": "1",
    "DEMO": "0",
    "DEBUG": "",
}


def test_the_documented_production_settings_pass_check_deploy():
    process = manage_py(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        env=PRODUCTION,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 0, stderr
    assert "System check identified no issues" in stdout


@pytest.mark.django_db
def test_pages_carry_hsts_behind_the_tls_proxy_and_a_policy_without_inline_script(settings, operator):
    settings.SECURE_HSTS_SECONDS = 31536000
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    client = Client(HTTP_X_FORWARDED_PROTO="https")
    client.force_login(operator)
    response = client.get("/dashboard/")
    assert response.status_code == 200
    assert response["Strict-Transport-Security"].startswith("max-age=31536000")
    policy = response["Content-Security-Policy"]
    assert "script-src 'self';" in policy and "frame-ancestors 'none'" in policy
    assert "<script>" not in response.content.decode()
