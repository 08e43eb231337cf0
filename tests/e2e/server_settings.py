"""Settings for the processes the end-to-end scenarios start (daphne, the Celery worker, management
commands): the normal settings on the pytest-django test database, with e-mail written to files the
tests read (a driver's verification link)."""

import os

from tests.stations.connection.server_settings import *  # noqa: F403

EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
EMAIL_FILE_PATH = os.environ["CHARGENET_TEST_MAIL_DIR"]

# The roaming partners and webhook receivers of these scenarios listen on 127.0.0.1; outside DEBUG
# (CI runs on PostgreSQL, so not embedded) the SSRF guard would refuse them.
OCPI_ALLOW_PRIVATE_HOSTS = True
WEBHOOK_ALLOW_PRIVATE_HOSTS = True
