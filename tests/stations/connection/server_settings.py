"""Settings for the daphne process the OCPP end-to-end tests start: the normal settings, pointed at
the pytest-django test database (SQLite file or PostgreSQL test database)."""

import os

from chargenet.settings import *  # noqa: F403
from chargenet.settings import DATABASES

DATABASES["default"]["NAME"] = os.environ["CHARGENET_TEST_DB_NAME"]
