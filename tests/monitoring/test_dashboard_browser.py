"""The live dashboard in a real headless browser (Debian's chromium driven by Selenium through chromedriver):
refused without credentials, in after logging in with a token (HTTPS; the browser is told to accept the desk's
own CA's certificate), five healthy services on load, an order's fill shown within a second without reloading,
the alert when a feed is cut."""

from __future__ import annotations

import shutil
import ssl
import tempfile
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

from tests import access
from tests.desk_runner import RunningDesk, wait_for, write_desk
from tests.monitoring.orders import buy_filled
from tradingdesk.v1 import market_data_pb2, market_data_pb2_grpc, orders_pb2, orders_pb2_grpc

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]
CHROME_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1400,1400",
    "--ignore-certificate-errors",  # the dashboard's certificate is signed by the desk's own CA
)
OPS_TOKEN = "browser-ops-token-3e9d"


@pytest.fixture
def browser() -> Iterator[webdriver.Chrome]:
    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if not chromium or not driver:
        pytest.fail("chromium and chromedriver are not installed: run `make browser`")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in CHROME_FLAGS:
        options.add_argument(flag)
    profile = tempfile.mkdtemp(prefix="td-chromium-")
    options.add_argument(f"--user-data-dir={profile}")
    chrome = webdriver.Chrome(service=Service(driver), options=options)
    try:
        yield chrome
    finally:
        chrome.quit()
        shutil.rmtree(profile, ignore_errors=True)


def rows(chrome: webdriver.Chrome, table: str, attribute: str) -> list[str]:
    """``data-<attribute>`` of each row of a dashboard table, as the page shows it now."""
    script = f"return [...document.querySelectorAll('#{table} tbody tr')].map(r => r.dataset.{attribute} || '')"
    return chrome.execute_script(script)


async def test_dashboard_live_in_a_browser(tmp_path: Path, browser: webdriver.Chrome) -> None:
    (tmp_path / "ops.token").write_text(OPS_TOKEN)

    def ops_token(doc: dict) -> None:
        doc["spec"]["access"]["staticTokens"] = [{"identity": "ops", "file": str(tmp_path / "ops.token")}]

    desk = await RunningDesk(write_desk(tmp_path, ops_token)).start()
    try:
        url = f"https://127.0.0.1:{desk.desk.spec.monitoring.dashboard_port}/"
        context = access.https_context(desk.desk, "operations")
        await wait_for(lambda: answers(url, context), timeout=30)  # the page starts once the desk serves gRPC
        browser.get(url + "api/status")  # no credentials yet: refused, with the reason
        assert "no credentials" in browser.find_element("tag name", "body").text
        browser.get(f"{url}login?token={OPS_TOKEN}")  # sets the session cookie and redirects to the page
        assert browser.current_url == url
        assert browser.title == "tradingdesk"
        cookie = browser.get_cookie("td_session")
        assert cookie and cookie["httpOnly"] and cookie["secure"] and cookie["sameSite"] == "Strict"
        statuses = await wait_for(lambda: rows(browser, "services", "status") == ["SERVING"] * 5, timeout=20)
        assert statuses
        assert rows(browser, "services", "service") == ["feeds", "routing", "risk", "compliance", "monitoring"]
        assert browser.find_element("id", "desk-health").text == "healthy"
        assert browser.find_element("id", "connection").text == "live"
        version = browser.execute_script("return Number(document.body.dataset.version)")

        # An order that fills: its fill appears within a second of the desk reporting it, without a reload.
        cid, _ = await buy_filled(desk, account="ACC-EQ-1", strategy="manual", symbol="MSFT", quantity="10")
        await wait_for(lambda: cid in rows(browser, "fills", "clientOrderId"), timeout=1.0, interval=0.02)
        await wait_for(lambda: ("ACC-EQ-1", "MSFT") in positions(browser), timeout=5)
        assert browser.execute_script("return Number(document.body.dataset.version)") > version  # no reload

        # A feed cut: its lines show disabled and the desk's own check raises FeedDown.
        async with desk.channel("feeds") as ch:
            feeds = market_data_pb2_grpc.MarketDataServiceStub(ch)
            for line in ("A", "B"):
                request = market_data_pb2.SetLineEnabledRequest(feed="vendor-a", line=line, reason="browser test")
                await feeds.SetLineEnabled(request, timeout=5)
        await wait_for(lambda: "FeedDown" in rows(browser, "alerts", "alert"), timeout=10)
        lines = zip(rows(browser, "feeds", "feed"), rows(browser, "feeds", "line"), strict=True)
        states = dict(zip(lines, rows(browser, "feeds", "state"), strict=True))
        assert states[("vendor-a", "A")] == states[("vendor-a", "B")] == "disabled"
        assert states[("vendor-b", "A")] == "live"
        assert "critical" in browser.find_element("css selector", "#alerts tr[data-alert=FeedDown]").text

        # A venue away: its row says so, and the desk's own check raises VenueDisconnected naming it.
        assert rows(browser, "venues", "venue") == ["xnys", "xnas", "bats"]
        assert browser.find_element("id", "journal").text == "Order journal: writing"
        async with desk.channel("routing") as ch:
            away = orders_pb2.SetVenueFaultRequest(venue="bats", mode=orders_pb2.VENUE_FAULT_MODE_AWAY, reason="test")
            await orders_pb2_grpc.OrderServiceStub(ch).SetVenueFault(away, timeout=5)
        await wait_for(lambda: rows(browser, "venues", "connected") == ["true", "true", "false"], timeout=10)
        await wait_for(lambda: "VenueDisconnected" in rows(browser, "alerts", "alert"), timeout=10)
        assert "away" in browser.find_element("css selector", "#venues tr[data-venue=bats]").text
        browser.save_screenshot(str(tmp_path / "dashboard.png"))
    finally:
        await desk.stop()


def positions(chrome: webdriver.Chrome) -> set[tuple[str, str]]:
    return set(zip(rows(chrome, "positions", "account"), rows(chrome, "positions", "symbol"), strict=True))


def answers(url: str, context: ssl.SSLContext | None) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2, context=context) as response:
            return response.status == 200
    except OSError:
        return False
