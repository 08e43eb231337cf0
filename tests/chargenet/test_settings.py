"""Configuration mistakes stop start-up with one clear line."""

import subprocess

import pytest

from tests.support import manage_py

CLEAN = {"DATABASE_URL": "", "REDIS_URL": "", "DEBUG": "", "SECRET_KEY": "", "ALLOWED_HOSTS": "", "PORT": ""}


def run_check(**env: str) -> subprocess.CompletedProcess:
    process = manage_py(
        "check", env={**CLEAN, **env}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    stdout, stderr = process.communicate(timeout=60)
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"DATABASE_URL": "mysql://db/chargenet"}, "DATABASE_URL must be a URL starting with postgres://"),
        ({"DATABASE_URL": "not a url"}, "DATABASE_URL must be a URL"),
        ({"PORT": "eighty"}, "PORT must be an integer, got 'eighty'"),
        ({"PORT": "70000"}, "PORT must be at most 65535"),
        ({"DEBUG": "0", "ALLOWED_HOSTS": "example.com"}, "SECRET_KEY must be set when DEBUG is off"),
        ({"DEBUG": "0", "SECRET_KEY": "s3cret-" * 5}, "ALLOWED_HOSTS must be set when DEBUG is off"),
        ({"DEBUG": "maybe"}, "DEBUG must be a boolean"),
        (
            {
                "DATABASE_URL": "postgres://db/chargenet",
                "DEBUG": "1",
                "DATABASE_PREPARED_STATEMENTS": "often",
            },
            "DATABASE_PREPARED_STATEMENTS must be a boolean",
        ),
        ({"REDIS_URL": "http://cache:6379"}, "REDIS_URL must be a URL starting with redis://"),
        ({"LOG_FORMAT": "xml"}, "LOG_FORMAT must be plain or json"),
    ],
)
def test_a_bad_setting_stops_start_up_with_one_clear_line(env, message):
    result = run_check(**env)

    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("ChargeNet configuration error: ")
    assert message in lines[0]


def test_the_embedded_default_needs_no_variables():
    result = run_check()

    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout
