"""The web server process's set-up that no single request shows: its cycle collector."""

import json
import os
import subprocess
import sys

from chargenet.web_server import GC_YOUNG_THRESHOLD
from tests.support import REPO

PROBE = (
    "import gc, json, chargenet.asgi; "
    "print(json.dumps({'frozen': gc.get_freeze_count(), 'threshold': gc.get_threshold()}))"
)


def test_a_web_process_keeps_what_it_loaded_out_of_the_collector_and_collects_young_objects_less_often():
    # given a fresh interpreter that loads the ASGI application, as each uvicorn process does
    result = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=REPO, env=os.environ, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    collector = json.loads(result.stdout.splitlines()[-1])

    # then Django, the URL conf, the models and the consumers are frozen: a full collection, which
    # stops the event loop, walks only what the connections and messages created since
    assert collector["frozen"] > 50_000
    # and the youngest generation waits for many new objects before it is collected, so the objects
    # of the messages in flight are not promoted into the old generations
    assert collector["threshold"][0] == GC_YOUNG_THRESHOLD > 700
