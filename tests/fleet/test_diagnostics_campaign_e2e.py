"""Bulk diagnostics over real sockets: stations tagged through the API, a diagnostics campaign for the
tag in three waves, a halt when a station keeps failing its upload, a fix, retry and resume, and every
tagged station's file downloadable, while untagged stations are never asked."""

import pytest

from tests.fleet.test_campaign_e2e import wait_for


def campaign_status(api, campaign_id: int, wanted: str):
    def check():
        status, body = api.get(f"/api/v1/diagnostics-campaigns/{campaign_id}/")
        assert status == 200, body
        check.last = body  # type: ignore[attr-defined]
        return body if body["status"] == wanted else None

    return check


@pytest.mark.slow
def test_a_diagnostics_campaign_for_a_tag_halts_on_failed_uploads_and_after_a_fix_collects_every_file(
    api, stations
):
    # given six stations tagged "north" through the API, and two others
    sims = {f"DC-{n}": stations.connect(f"DC-{n}", evses=1) for n in range(1, 9)}
    for identity in [f"DC-{n}" for n in range(1, 7)]:
        status, body = api.request("PATCH", f"/api/v1/stations/{identity}/", {"tags": ["North"]})
        assert status == 200 and body["tags"] == ["north"], body
    # and one station of the second wave whose uploads fail
    sims["DC-3"].upload_failure_rate = 1.0

    # when a diagnostics campaign collects from the tag: one, half, the rest; one retry; halt above 20 %
    status, campaign = api.post(
        "/api/v1/diagnostics-campaigns/",
        {
            "name": "north diagnostics",
            "tags": ["north"],
            "waves": ["1", "50%", "rest"],
            "max_failure_rate": 20,
            "max_retries": 1,
        },
    )
    assert status == 201, campaign
    waves = {row["identity"]: row["wave"] for row in campaign["stations"]}
    assert waves == {"DC-1": 1, "DC-2": 2, "DC-3": 2, "DC-4": 2, "DC-5": 3, "DC-6": 3}

    # then it halts in the second wave once DC-3 failed twice (its retry used a new upload location)
    halted = wait_for(campaign_status(api, campaign["id"], "halted"), "the campaign to halt")
    assert "wave 2: 1 of 3" in halted["halted_reason"]
    rows = {row["identity"]: row for row in halted["stations"]}
    assert rows["DC-3"]["status"] == "failed" and rows["DC-3"]["attempts"] == 2
    assert "UploadFailed" in rows["DC-3"]["failure_reason"]
    requests = [c for c in sims["DC-3"].received if c.action == "GetDiagnostics"]
    assert len(requests) == 2 and requests[0].payload["location"] != requests[1].payload["location"]
    # and the third wave was never asked
    for identity in ("DC-5", "DC-6"):
        assert not [c for c in sims[identity].received if c.action == "GetDiagnostics"], identity

    # when the operator fixes the station, retries the failed one and resumes
    sims["DC-3"].upload_failure_rate = 0.0
    status, body = api.post(f"/api/v1/diagnostics-campaigns/{campaign['id']}/retry-failed/")
    assert status == 200, body
    status, body = api.post(f"/api/v1/diagnostics-campaigns/{campaign['id']}/resume/")
    assert status == 200 and body["status"] == "running", body

    # then the campaign completes with a file from every tagged station, each downloadable
    done = wait_for(campaign_status(api, campaign["id"], "completed"), "the campaign to complete")
    assert done["counts"]["succeeded"] == 6 and done["counts"]["failed"] == 0
    for row in done["stations"]:
        diagnostics = row["diagnostics"]
        assert diagnostics["status"] == "received", row
        status, content = api.get(diagnostics["download_url"].removeprefix(api.base_url))
        assert status == 200 and row["identity"].encode() in content, row
    # and the untagged stations were never asked
    for identity in ("DC-7", "DC-8"):
        assert not [c for c in sims[identity].received if c.action == "GetDiagnostics"], identity
