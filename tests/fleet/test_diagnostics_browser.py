"""Diagnostics end to end: an operator presses "Collect diagnostics" on a station's page, the
simulated station uploads its file by HTTP (and, the second time, by FTP with one-time credentials),
the row turns Received without a reload, and the operator downloads the file."""

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import log_in

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def station_page(page, base: str, identity: str):
    """The operator's page of station `identity`, signed in, with its live feed connected."""
    log_in(page, base, "olivia", "pw-olivia-1")
    page.goto(f"{base}/stations/{identity}/")
    expect(page.locator("#live-status")).to_have_text("Live")
    return page


def collect(page, transport: str) -> None:
    page.locator("#diag-transport").select_option(transport)
    page.get_by_role("button", name="Collect diagnostics").click()


def test_an_operator_collects_diagnostics_by_http_and_by_ftp_and_downloads_them_from_the_station_page(
    live_system, stations, new_page, operator
):
    base = live_system.base_url
    # given an online 1.6 station
    sim = stations.connect("DIAG-1", evses=2)

    # when the operator asks for its diagnostics on its page (upload by HTTP)
    page = station_page(new_page(), base, "DIAG-1")
    collect(page, "http")

    # then the station gets GetDiagnostics with a one-time upload URL of this server
    request = stations.run(sim.wait_received("GetDiagnostics"))
    assert request.payload["location"].startswith(f"{base}/fleet/uploads/")
    # and the row turns Received live, with a link to the file
    rows = page.locator("#station-fleet tr[data-status='received']")
    expect(rows).to_have_count(1, timeout=20000)

    # when the operator downloads it
    with page.expect_download() as download_info:
        rows.first.get_by_role("link").click()
    content = open(download_info.value.path(), "rb").read().decode()

    # then it is the station's own diagnostics file
    assert "DIAG-1 ChargeNet Simulator firmware 1.0.0" in content
    assert "connector 2 Available" in content

    # and the upload URL was good for one upload only
    status = _put(request.payload["location"] + "again.log", b"replayed")
    assert status == 403

    # when the operator collects again, by FTP this time
    collect(page, "ftp")
    request = stations.run(sim.wait_received("GetDiagnostics", count=2))
    assert request.payload["location"].startswith("ftp://cn")
    assert f"@127.0.0.1:{live_system.ftp_port}/" in request.payload["location"]

    # then the second file arrives by FTP and can be downloaded too
    expect(rows).to_have_count(2, timeout=20000)
    ftp_row = page.locator("#station-fleet tr[data-status='received']").first
    expect(ftp_row).to_contain_text("FTP")
    with page.expect_download() as download_info:
        ftp_row.get_by_role("link").click()
    assert "DIAG-1" in open(download_info.value.path(), "rb").read().decode()

    # and the FTP credentials are used up: a second login is refused
    import ftplib
    from urllib.parse import urlsplit

    parts = urlsplit(request.payload["location"])
    with pytest.raises(ftplib.error_perm):
        with ftplib.FTP() as ftp:
            ftp.connect("127.0.0.1", live_system.ftp_port, timeout=10)
            ftp.login(parts.username, parts.password)


def _put(url: str, body: bytes) -> int:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=body, method="PUT"), timeout=10) as r:
            return r.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_an_operator_tags_stations_collects_their_diagnostics_by_ftp_in_a_campaign_and_downloads_a_file(
    live_system, stations, new_page, operator
):
    base = live_system.base_url
    # given three online stations, two of them at the garage
    sims = {identity: stations.connect(identity, evses=1) for identity in ("GC-1", "GC-2", "GC-3")}
    page = new_page()
    log_in(page, base, "olivia", "pw-olivia-1")
    for identity in ("GC-1", "GC-2"):
        # when the operator tags them on their pages
        page.goto(f"{base}/stations/{identity}/")
        page.get_by_text("Edit tags").click()
        page.locator("#station-tags").fill("garage")
        page.get_by_role("button", name="Save tags").click()
        expect(page.locator("[data-tags]")).to_contain_text("garage")

    # and starts a diagnostics campaign for the tag, uploads by FTP, all in one wave
    page.goto(f"{base}/fleet/campaigns/new/?kind=diagnostics")
    page.locator("#name").fill("garage diagnostics")
    page.locator("#tags").fill("garage")
    page.locator("#transport").select_option("ftp")
    page.locator("#waves").fill("rest")
    page.get_by_role("button", name="Start campaign").click()

    # then the campaign page shows both stations turn Succeeded without a reload, each with its file
    expect(page.locator("#live-status")).to_have_text("Live")
    done = page.locator("#campaign-body tr[data-status='succeeded']")
    expect(done).to_have_count(2, timeout=30000)
    expect(page.locator("[data-campaign-status]")).to_have_attribute(
        "data-campaign-status", "completed", timeout=20000
    )
    assert sorted(done.evaluate_all("rows => rows.map(r => r.dataset.station)")) == ["GC-1", "GC-2"]
    # and the untagged station was never asked
    assert not [c for c in sims["GC-3"].received if c.action == "GetDiagnostics"]

    # when the operator downloads GC-2's file
    with page.expect_download() as download_info:
        page.locator("#campaign-body tr[data-station='GC-2']").get_by_role(
            "link", name="diagnostics-GC-2"
        ).click()

    # then it is that station's file, uploaded by FTP
    assert "GC-2 ChargeNet Simulator" in open(download_info.value.path(), "rb").read().decode()
    assert sims["GC-2"].uploads[0][0].startswith(f"127.0.0.1:{live_system.ftp_port}")


def test_a_live_refresh_between_choosing_and_pressing_keeps_what_the_operator_chose(
    live_system, stations, new_page, operator
):
    base = live_system.base_url
    # given an online station's page, where the operator has chosen FTP and moved on
    sim = stations.connect("DIAG-2", evses=1)
    page = station_page(new_page(), base, "DIAG-2")
    page.locator("#diag-transport").select_option("ftp")
    page.locator("body").click(position={"x": 5, "y": 5})  # the select no longer holds the focus
    page.evaluate("document.getElementById('station-fleet').dataset.old = '1'")

    # when the station reboots, which refreshes the panel live before the button is pressed
    stations.run(sim.boot())
    expect(page.locator("#station-fleet:not([data-old])")).to_have_count(1, timeout=20000)

    # then the panel still shows FTP, and pressing the button asks the station for an FTP upload
    expect(page.locator("#diag-transport")).to_have_value("ftp")
    page.get_by_role("button", name="Collect diagnostics").click()
    request = stations.run(sim.wait_received("GetDiagnostics"))
    assert request.payload["location"].startswith("ftp://")
