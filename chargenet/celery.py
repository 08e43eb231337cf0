"""The Celery application: broker, result backend and beat schedule come from Django settings."""

import os

from celery import Celery
from celery.signals import worker_process_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chargenet.settings")

app = Celery("chargenet")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_process_init.connect
def _query_log_off(**_: object) -> None:
    # A worker serves no request, so nobody reads DEBUG's query log (on by default in the embedded
    # mode); keeping it cost every statement of the event dispatcher a formatted copy, a quarter of
    # the worker's CPU under a charging fleet's load.
    from django.db import connections

    for connection in connections.all():
        connection.make_debug_cursor = connection.make_cursor  # type: ignore[method-assign,assignment]
