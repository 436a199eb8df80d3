"""The web page at /, in a real browser: Debian's headless Chromium driven
by Selenium (python3-selenium, chromium-driver), against the running stack.

A person loads the page, pages through the tickets, opens one with the
keyboard, adds a reply (a double click adds one), sees replies arrive in
the feed by themselves, sees a version fail over and the database go down
and come back, told in words. axe-core (vendored under vendor/, injected
here, never served) finds no serious or critical violation, on a desktop
and at a phone's width. The browser console has no error but the failed
responses the page is meant to survive (a version answering 500, 502 or
503, a reply refused with 400 or 413), each checked by its URL and status.
Screenshots of the main views go to STATE/screenshots (or
$VD_SCREENSHOTS_DIR); docs/screenshots/ holds a few of them.
"""

import base64
import json
import os
import pathlib
import re
import shutil
import time

import pytest

from conftest import (BASE, LISTEN, SERVICES_CONF, STATE, Subscriber, find_reply,
                      get_tickets, mint_token, request, unique, wait_until)

try:
    from selenium import webdriver
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import Select
except ImportError:  # said by the fixture, as a failure
    webdriver = None

AXE = pathlib.Path(__file__).resolve().parent / "vendor" / "axe-core" / "axe.min.js"
SHOTS = pathlib.Path(os.environ.get("VD_SCREENSHOTS_DIR") or STATE / "screenshots")
TICKET = "5f1d7a9e2c3b4a5d6e7f8a04"
DESKTOP = (1280, 1000)
PHONE = (390, 844)

# Responses the page is built to survive, which Chromium still logs as
# "Failed to load resource": version 1.0.1 fails half of its ticket queries
# on purpose (services.conf), with a 500.
EXPECTED_ALWAYS = [(r"/tickets/v1\.0\.1/tickets", 500)]


# --- the browser --------------------------------------------------------------

@pytest.fixture(scope="module")
def browser():
    if webdriver is None:
        pytest.fail("python3-selenium is not installed (spawn/stack setup installs "
                    "chromium, chromium-driver and python3-selenium)")
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if not chromium or not driver:
        pytest.fail("chromium or chromedriver is missing (spawn/stack setup installs them)")
    opts = webdriver.ChromeOptions()
    opts.binary_location = chromium
    # Headless, as root in a container, and nothing sent anywhere but the
    # stack: no updates, sync, metrics or other background traffic.
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                "--disable-gpu", "--lang=en-US", "--no-first-run",
                "--no-default-browser-check", "--disable-extensions",
                "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--disable-domain-reliability",
                "--disable-features=Translate,OptimizationHints,MediaRouter",
                "--window-size=%d,%d" % DESKTOP):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    d = webdriver.Chrome(service=Service(driver), options=opts)
    d.set_page_load_timeout(30)
    d.set_script_timeout(60)
    try:
        yield d
    finally:
        d.quit()


@pytest.fixture
def page(browser):
    """The browser at /, on a desktop's width, with the tickets shown; at
    the end, the console has no unexpected error."""
    browser.set_window_size(*DESKTOP)
    open_page(browser)
    # The access token a person would paste: kept for the tab, so the
    # reply form starts with it.
    browser.execute_script("sessionStorage.setItem('vd-token', arguments[0])",
                           WRITER_TOKEN)
    browser.vd_expected = list(EXPECTED_ALWAYS)  # a test adds its own
    yield browser
    assert_console_clean(browser, browser.vd_expected)


WRITER_TOKEN = mint_token("tickets.write")


def open_page(d, path="/"):
    d.get(BASE + path)
    wait_until(lambda: rows(d) or d.find_elements(By.CSS_SELECTOR, "#ticket-body h2"),
               20, what="the page to show tickets")
    console_errors(d, [(r".", 0)])  # start each test with an empty log


def rows(d):
    return d.find_elements(By.CSS_SELECTOR, "#view table.tickets tbody tr")


def text_of(d, selector):
    return " ".join(e.text for e in d.find_elements(By.CSS_SELECTOR, selector))


def shot(d, name, most=1400):
    """Save the page, from its top, down to MOST pixels (more than the
    window shows)."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    # The capture lays the page out without a scroll bar: the window's
    # whole width.
    width, height = d.execute_script(
        "return [window.innerWidth, document.documentElement.scrollHeight];")
    png = d.execute_cdp_cmd("Page.captureScreenshot", {
        "format": "png", "captureBeyondViewport": True,
        "clip": {"x": 0, "y": 0, "width": width, "height": min(height, most),
                 "scale": 1}})
    (SHOTS / (name + ".png")).write_bytes(base64.b64decode(png["data"]))


def console_errors(d, expected):
    """The console's errors since the last call, but for failed responses
    whose URL and status are EXPECTED ([(url regex, status)]; 0: any)."""
    bad = []
    for entry in d.get_log("browser"):
        if entry["level"] != "SEVERE":
            continue
        msg = entry["message"]
        m = re.search(r"^(\S+) - Failed to load resource: the server responded "
                      r"with a status of (\d+)", msg)
        if entry.get("source") == "network" and m and any(
                re.search(url, m.group(1)) and status in (0, int(m.group(2)))
                for url, status in expected):
            continue
        bad.append(msg)
    return bad


def assert_console_clean(d, expected):
    bad = console_errors(d, expected)
    assert bad == [], "errors in the browser console: %s" % bad


def axe_violations(d):
    """axe-core's violations of impact serious or critical on the page as
    it is, and the others (for the message)."""
    d.execute_script(AXE.read_text(encoding="utf-8"))
    found = d.execute_async_script("""
        var done = arguments[arguments.length - 1];
        axe.run(document, {resultTypes: ['violations']}).then(function (r) {
            done(r.violations.map(function (v) {
                return {id: v.id, impact: v.impact, help: v.help,
                        nodes: v.nodes.slice(0, 5).map(function (n) {
                            return n.target.join(' '); })};
            }));
        }).catch(function (e) { done([{id: 'axe-error', impact: 'critical',
                                       help: String(e), nodes: []}]); });
    """)
    serious = [v for v in found if v["impact"] in ("serious", "critical")]
    return serious, found


def services_versions():
    out = {}
    for line in SERVICES_CONF.read_text().splitlines():
        f = line.split("#", 1)[0].split()
        if len(f) >= 2:
            out.setdefault(f[0], []).append(f[1])
    return out


def health_of(d, service, version):
    cells = d.find_elements(
        By.CSS_SELECTOR, '#versions tr[data-service="%s"][data-version="%s"] td'
        % (service, version))
    return cells[-1].text if cells else ""


def version_row(d, service, version, host=BASE):
    """The versions panel's row of SERVICE VERSION at HOST, as
    {"class", "host", "health", "names"}; None when there is none."""
    for tr in d.find_elements(By.CSS_SELECTOR, '#versions tr[data-service="%s"][data-version="%s"]'
                              % (service, version)):
        if tr.get_attribute("data-host") == host:
            th = tr.find_element(By.CSS_SELECTOR, "th")
            return {"class": tr.get_attribute("class"),
                    "host": th.find_element(By.CSS_SELECTOR, ".host").text,
                    "health": tr.find_elements(By.CSS_SELECTOR, "td")[-1].text,
                    "names": th.get_attribute("title")}
    return None


# --- what nginx serves ----------------------------------------------------------

def test_root_is_the_page_and_json_is_kept():
    status, headers, body = request("GET", "/", headers={"Accept": "text/html"})
    assert status == 200
    assert headers["Content-Type"].startswith("text/html")
    assert '<script src="ui/app.js"' in body
    assert "default-src 'none'" in headers["Content-Security-Policy"]

    want = services_versions()
    for path, accept in (("/", "application/json"), ("/index.json", "*/*")):
        status, headers, body = request("GET", path, headers={"Accept": accept})
        assert status == 200, (path, body)
        assert headers["Content-Type"].startswith("application/json")
        assert "/tickets/vX.Y.Z/tickets" in body["paths"]
        assert "/tickets/vX.Y.Z/registry" in body["paths"]
        assert sorted(body["versions"]) == sorted(want)
        for name, versions in want.items():
            assert sorted(body["versions"][name]) == sorted(versions)
    assert body["versions"]["tickets"][0] == "1.0.1"  # newest first

    for path, ctype in (("/ui/app.js", "text/javascript"), ("/ui/style.css", "text/css"),
                        ("/ui/icon.svg", "image/svg+xml")):
        status, headers, _ = request("GET", path)
        assert status == 200, path
        assert headers["Content-Type"].startswith(ctype), headers["Content-Type"]
        assert headers.get("ETag")
    status, headers, body = request("GET", "/ui/missing.js")
    assert status == 404 and body["error"] == "not found"


# --- the versions, from the registry ---------------------------------------------------

def test_the_versions_panel_shows_the_registry(page, dispatch):
    """Each running version as registered, with its host, its heartbeat and
    its health; a version registered by hand appears with its host, and
    shows as skipped by calls once it has not been seen for 30 s."""
    d = page
    for service, versions in services_versions().items():
        for version in versions:
            row = wait_until(lambda: (version_row(d, service, version) or {}).get("health")
                             == "healthy" and version_row(d, service, version), 15,
                             what="%s %s healthy, at %s" % (service, version, BASE))
            assert row["class"] == "ok"
            assert re.fullmatch(re.escape(LISTEN) + r"\s+seen \d+ s ago", row["host"]), row
    assert "Ticket Query" in version_row(d, "tickets", "1.0.1")["names"]
    assert "Ticket Latest Replies" in version_row(d, "replyfeed", "1.0.0")["names"]
    assert "The versions in the registry" in text_of(d, "#versions-source")

    name = unique("Page Probe")
    res = dispatch("register", "--get", "http://127.0.0.1:9/probe", "--url", "/probe",
                   name, "7.8.9")
    assert res.returncode == 0, res.stderr
    try:
        row = wait_until(lambda: version_row(d, name, "7.8.9", "http://127.0.0.1:9"), 15,
                         what="the entry registered by hand")
        assert row["class"] == "ok" and "in the registry" in row["health"], row
        # Never refreshed: stale after 30 s, which calls skip.
        row = wait_until(lambda: (version_row(d, name, "7.8.9", "http://127.0.0.1:9") or {})
                         .get("class") == "down" and version_row(d, name, "7.8.9",
                                                                  "http://127.0.0.1:9"),
                         45, interval=1, what="the entry stale")
        assert "not seen in the registry for" in row["health"], row
        assert "calls skip it" in row["health"], row
        # This host's versions are still told apart and healthy.
        assert version_row(d, "tickets", "1.0.0")["health"] == "healthy"
    finally:
        res = dispatch("unregister", name, "7.8.9")
        assert res.returncode == 0, res.stderr
    wait_until(lambda: version_row(d, name, "7.8.9", "http://127.0.0.1:9") is None, 15,
               what="the entry gone")


# --- the tickets ----------------------------------------------------------------------

def get_page(size, after=""):
    """One page of the list from the API, as the page asks for it:
    (tickets, the after= of its Link rel="next" or None). Retried on a 5xx
    (1.0.1 fails on purpose)."""
    path = "/tickets/v1.0.0/tickets?limit=%d" % size + ("&after=" + after if after else "")

    def attempt():
        status, headers, body = request("GET", path)
        return (body, headers) if status == 200 else None
    body, headers = wait_until(attempt, 20, what="GET " + path)
    m = re.search(r'[?&]after=([0-9a-f]{24})>; rel="next"', headers.get("Link") or "")
    return body, m and m.group(1)


def shown_rows(d):
    """The rows of the list as [(id, title, status, assigned to, replies)]."""
    out = []
    for row in rows(d):
        cells = {c.get_attribute("data-label"): c.text
                 for c in row.find_elements(By.CSS_SELECTOR, "td")}
        out.append((row.get_attribute("data-id"),
                    row.find_element(By.CSS_SELECTOR, "th").text,
                    cells["Status"], cells["Assigned to"], int(cells["Replies"])))
    return out


def api_rows(tickets):
    return [(t["_id"], t["title"], t["status"], t["assignedTo"], t["replyCount"])
            for t in tickets]


def list_requests(d):
    """The URLs of the list the page asked for (the browser's resource
    timing): one page each, never the whole list."""
    return [u for u in d.execute_script(
        "return performance.getEntriesByType('resource').map(function (e) { return e.name; });")
        if re.search(r"/tickets/v1\.0\.[01]/tickets(\?|$)", u)]


def test_the_tickets_paged(page):
    """The list is read a page at a time: each page shows what the paged API
    answers for the same limit and after; Next walks every ticket, Previous
    walks back; the page never asks for the whole list."""
    d = page
    first, _ = get_page(10)
    wait_until(lambda: shown_rows(d) == api_rows(first), 10, what="the first page")

    size = 5
    Select(d.find_element(By.ID, "page-size")).select_by_value(str(size))
    wait_until(lambda: len(rows(d)) == size, 5, what="%d rows" % size)
    assert d.switch_to.active_element.get_attribute("id") == "page-size"
    assert d.find_element(By.ID, "page-prev").get_attribute("disabled") is not None
    shot(d, "tickets")

    pages, after, seen = [], "", []
    while True:
        want, nxt = get_page(size, after)
        n = len(seen)
        info = ("Tickets %d–%d" % (n + 1, n + len(want)) if want
                else "No tickets after number %d" % n)
        wait_until(lambda: d.find_element(By.ID, "page-info").text == info, 10,
                   what=info)
        assert shown_rows(d) == api_rows(want)
        assert (d.find_element(By.ID, "page-prev").get_attribute("disabled") is None) == bool(pages)
        next_button = d.find_element(By.ID, "page-next")
        assert (next_button.get_attribute("disabled") is None) == bool(nxt)
        pages.append((info, want))
        seen += [t["_id"] for t in want]
        if not nxt:
            break
        next_button.click()
        after = nxt
    assert len(pages) >= 3, pages
    assert seen == sorted(t["_id"] for t in get_tickets())
    assert d.switch_to.active_element.get_attribute("id") in ("page-next", "list-title")

    # Back to the first page with Previous, each page as it was.
    for info, want in reversed(pages[:-1]):
        d.find_element(By.ID, "page-prev").click()
        wait_until(lambda: d.find_element(By.ID, "page-info").text == info, 10, what=info)
        assert shown_rows(d) == api_rows(want)
    assert d.find_element(By.ID, "page-prev").get_attribute("disabled") is not None

    asked = list_requests(d)
    assert asked and all(re.search(r"\?limit=\d+(&after=[0-9a-f]{24})?$", u) for u in asked), asked
    assert any("limit=5&after=" in u for u in asked), asked


def test_open_a_ticket_with_the_keyboard_and_add_one_reply(page):
    d = page
    body = d.find_element(By.TAG_NAME, "body")
    body.click()
    # Tab from the top of the page to the first ticket's link, then Enter.
    link = None
    for _ in range(15):
        ActionChains(d).send_keys(Keys.TAB).perform()
        active = d.switch_to.active_element
        if (active.tag_name == "a"
                and "#/tickets/" in (active.get_attribute("href") or "")):
            link = active
            break
    assert link is not None, "no ticket link within 15 presses of Tab"
    title = link.text
    link.send_keys(Keys.ENTER)
    wait_until(lambda: d.find_elements(By.CSS_SELECTOR, "#ticket-body h2"), 10,
               what="the ticket")
    assert d.find_element(By.CSS_SELECTOR, "#ticket-body h2").text == title
    assert d.switch_to.active_element.tag_name == "h2"  # focus follows

    ticket_id = re.search(r"#/tickets/([0-9a-f]{24})$", d.current_url).group(1)
    before = [t for t in get_tickets() if t["_id"] == ticket_id][0]
    shown = d.find_elements(By.CSS_SELECTOR, "#ticket-body ol.replies li")
    assert len(shown) == len(before.get("replies") or [])

    message = unique("Restarted the client as you said; no drop for an hour so far.")
    d.find_element(By.ID, "reply-user").clear()
    d.find_element(By.ID, "reply-user").send_keys("Ana Silva")
    d.find_element(By.ID, "reply-message").send_keys(message)
    # Record the button's states while it sends: disabled, then enabled.
    d.execute_script("""
        var b = document.getElementById('reply-send');
        window.vdStates = [];
        new MutationObserver(function () { window.vdStates.push(b.disabled); })
            .observe(b, {attributes: true, attributeFilter: ['disabled']});
    """)
    ActionChains(d).double_click(d.find_element(By.ID, "reply-send")).perform()
    wait_until(lambda: "was added" in d.find_element(By.ID, "reply-result").text, 15,
               what="the reply added")
    # A click that comes after a quick answer (the end of a double click)
    # is no new submission, and leaves the outcome shown.
    d.find_element(By.ID, "reply-send").click()
    assert "was added" in d.find_element(By.ID, "reply-result").text
    # One reply for the double click (a second one would have landed by
    # now), shown in the ticket and in the feed.
    time.sleep(1)
    assert len(find_reply(get_tickets(), ticket_id, message)) == 1
    assert True in d.execute_script("return window.vdStates")
    assert d.find_element(By.ID, "reply-send").is_enabled()
    wait_until(lambda: message in text_of(d, "#ticket-body ol.replies"), 15,
               what="the reply in the ticket")
    wait_until(lambda: message in text_of(d, "#feed"), 5, what="the reply in the feed")
    shot(d, "ticket")

    # Back to the list with the link, by keyboard.
    d.find_element(By.CSS_SELECTOR, ".back a").send_keys(Keys.ENTER)
    wait_until(lambda: rows(d), 10, what="the list again")


def test_the_feed_updates_by_itself_within_two_seconds(access_log, page):
    d = page

    def api_count():
        return [t for t in get_page(100)[0] if t["_id"] == TICKET][0]["replyCount"]

    before = api_count()
    for i in range(2):
        message = unique("Checked it from the service desk (%d)." % i)
        status, _, body = request("POST", "/tickets/v1.0.0/tickets/addComment",
                                  {"ticketId": TICKET, "user": "Chen Wei",
                                   "message": message},
                                  {"Idempotency-Key": unique("key").replace(" ", "-")})
        assert status == 200, body
        added = time.monotonic()
        wait_until(lambda: message in text_of(d, "#feed"), 10, interval=0.05,
                   what="the reply in the feed")
        took = time.monotonic() - added
        assert took <= 2.0, "the feed showed the reply after %.2f s" % took
    # The list's count of replies follows (the page reads it again): the
    # paged list's replyCount, two more than before. (It counts the sequence
    # numbers the ticket drew: after a bench that deleted its own replies it
    # is higher than the replies left, so it is compared with itself.)
    def shown_is_new_count():
        now = api_count()
        return now >= before + 2 and \
            text_of(d, '#view tr[data-id="%s"] td.count' % TICKET) == str(now)
    wait_until(shown_is_new_count, 15, what="the new count of replies")
    # The page polls with If-None-Match: nginx answers 304 while nothing changed.
    def not_modified():
        return [l for l in access_log()
                if '"GET /replyfeed/v1.0.0/latestReplies HTTP/1.1" 304 ' in l]
    wait_until(not_modified, 5, what="a poll answered 304")


def test_a_reply_too_long_is_told_in_words(page):
    d = page
    d.vd_expected += [(r"/tickets/v1\.0\.[01]/tickets/addComment", 400),
                      (r"/tickets/v1\.0\.[01]/tickets/addComment", 413)]
    d.get(BASE + "/#/tickets/" + TICKET)
    wait_until(lambda: d.find_elements(By.ID, "reply-message"), 15, what="the form")
    d.find_element(By.ID, "reply-user").clear()
    d.find_element(By.ID, "reply-user").send_keys("Page Tester")
    before = get_tickets()

    for size, words in ((10001, "too long"), (70000, "too large")):
        d.execute_script("""
            var m = document.getElementById('reply-message');
            m.value = 'x'.repeat(arguments[0]);
            m.dispatchEvent(new Event('input'));
        """, size)
        if size == 10001:
            assert "too long" in d.find_element(By.ID, "reply-count").text
        d.find_element(By.ID, "reply-send").click()
        wait_until(lambda: words in text_of(d, "#alerts"), 15, what=words)
        alert = text_of(d, "#alerts")
        assert "Your reply" in alert and "Shorten it" in alert, alert
        assert "not added" in d.find_element(By.ID, "reply-result").text
        if size == 10001:
            shot(d, "reply-too-long")
    assert sorted(json.dumps(t, sort_keys=True) for t in get_tickets()) == \
        sorted(json.dumps(t, sort_keys=True) for t in before)


def test_a_reply_without_a_good_token_is_told_in_words(page):
    """No token: 401, told as a token needed; a token without the role
    tickets.write: 403, told as such; nothing added. With the token back
    in the field, the same reply goes through."""
    d = page
    d.vd_expected += [(r"/tickets/v1\.0\.[01]/tickets/addComment", 401),
                      (r"/tickets/v1\.0\.[01]/tickets/addComment", 403)]
    d.get(BASE + "/#/tickets/" + TICKET)
    wait_until(lambda: d.find_elements(By.ID, "reply-token"), 15, what="the form")
    token = d.find_element(By.ID, "reply-token")
    assert token.get_attribute("value") == WRITER_TOKEN   # kept for the tab
    label = d.find_element(By.CSS_SELECTOR, "label[for=reply-token]")
    assert label.text == "Access token"
    message = unique("token test")
    d.find_element(By.ID, "reply-user").clear()
    d.find_element(By.ID, "reply-user").send_keys("Page Tester")
    d.find_element(By.ID, "reply-message").send_keys(message)
    for value, words in (("", "needs an access token"),
                         (mint_token("operator"), "does not allow adding replies")):
        token.clear()
        if value:
            token.send_keys(value)
        d.find_element(By.ID, "reply-send").click()
        wait_until(lambda: words in text_of(d, "#alerts"), 15, what=words)
        assert "Access token" in text_of(d, "#alerts")
        assert "not added" in d.find_element(By.ID, "reply-result").text
    assert find_reply(get_tickets(), TICKET, message) == []
    token.clear()
    token.send_keys(WRITER_TOKEN)
    d.find_element(By.ID, "reply-send").click()
    wait_until(lambda: "was added" in d.find_element(By.ID, "reply-result").text, 15,
               what="the reply added")
    assert len(find_reply(get_tickets(), TICKET, message)) == 1


def test_an_unknown_ticket_is_told_in_words(page):
    d = page
    d.vd_expected += [(r"/tickets/v1\.0\.[01]/tickets/f{24}$", 404)]
    for ticket_id, words in (("f" * 24, "There is no ticket with this id."),
                             ("nope", "24 hexadecimal digits")):
        d.get(BASE + "/#/tickets/" + ticket_id)
        wait_until(lambda: words in text_of(d, "#view"), 15, what=words)
        assert d.find_element(By.CSS_SELECTOR, "#view h2").text == "Ticket not found"
        assert d.find_element(By.CSS_SELECTOR, ".back a").get_attribute("href").endswith("#/")


# --- failures, told in words ------------------------------------------------------------

def test_a_version_fails_over_and_the_page_says_so(page, stack):
    d = page
    d.vd_expected += [(r"/tickets/v1\.0\.1/", 502)]
    res = stack("stop", "tickets@1.0.1")
    assert res.returncode == 0, res.stderr
    try:
        d.get(BASE + "/")
        wait_until(lambda: rows(d), 20, what="the tickets from 1.0.0")
        notice = wait_until(lambda: text_of(d, "#notices"), 15, what="the fallback notice")
        assert "1.0.1" in notice and "failed" in notice and "HTTP 502" in notice, notice
        assert "version 1.0.0 answered" in notice, notice
        calls = text_of(d, "#calls")
        assert "1.0.1 failed (HTTP 502" in calls and "1.0.0 answered" in calls, calls
        # Still in the registry (its heartbeat stopped seconds ago), but
        # its responders are stopped: not healthy.
        row = wait_until(lambda: (version_row(d, "tickets", "1.0.1") or {}).get("health")
                         == "not running" and version_row(d, "tickets", "1.0.1"), 10,
                         what="1.0.1 not running")
        assert row["class"] == "down" and "seen" in row["host"], row
        assert version_row(d, "tickets", "1.0.0")["health"] == "healthy"
        shot(d, "failover")
    finally:
        res = stack("start", "tickets@1.0.1")
        assert res.returncode == 0, res.stderr
    wait_until(lambda: health_of(d, "tickets", "1.0.1") == "healthy", 20,
               what="1.0.1 healthy again")


def test_the_database_down_is_told_and_the_page_comes_back(page, stack):
    d = page
    if "external" in stack("status").stdout.split("\n", 1)[0]:
        pytest.skip("the database is external (MONGODB_URI)")
    d.vd_expected += [(r"/tickets/v1\.0\.[01]/", 503), (r"/tickets/v1\.0\.1/", 500),
                      (r"/health$", 503)]
    res = stack("stop", "db")
    assert res.returncode == 0, res.stderr
    try:
        alert = wait_until(lambda: "database is unavailable" in text_of(d, "#alerts")
                           and text_of(d, "#alerts"), 40, what="the database-down message")
        assert "tries again by itself" in alert, alert
        assert rows(d), "the tickets last read stay on the page"
        wait_until(lambda: health_of(d, "tickets", "1.0.0") == "running, database unavailable",
                   15, what="the health of 1.0.0")
        # The registry is in the database too: the versions nginx routes
        # to, said so.
        source = wait_until(lambda: "cannot be read" in text_of(d, "#versions-source")
                            and text_of(d, "#versions-source"), 15, what="the registry unread")
        assert "the registry database is unavailable" in source and "/index.json" in source, source
        shot(d, "database-down")
    finally:
        res = stack("start", "db")
        assert res.returncode == 0, res.stderr
    wait_until(lambda: not text_of(d, "#alerts"), 60, what="the message gone")
    wait_until(lambda: health_of(d, "tickets", "1.0.0") == "healthy", 30,
               what="1.0.0 healthy again")
    assert rows(d)


# --- operations: for the role operator --------------------------------------------------------

OPERATOR_TOKEN = mint_token("operator", "tickets.write")
T1 = "/tickets/v1.0.1/tickets"
# The operator endpoints refused to a token without the role, as the
# browser logs them.
OPS_REFUSED = [(r"/tickets/v1\.0\.[01]/tickets/(subscriptions|deadletters)$", 401),
               (r"/tickets/v1\.0\.[01]/tickets/(subscriptions|deadletters)$", 403)]


def use_token(d, token):
    """Paste TOKEN in "Access token" at the top of the page, with the
    keyboard, and keep it for the tab."""
    summary = d.find_element(By.CSS_SELECTOR, "#access summary")
    if d.find_element(By.ID, "access").get_attribute("open") is None:
        summary.send_keys(Keys.ENTER)
    d.execute_script("document.getElementById('access-result').textContent = '';")
    field = d.find_element(By.ID, "access-token")
    field.clear()
    if token:
        field.send_keys(token)
    field.send_keys(Keys.ENTER)
    wait_until(lambda: d.find_element(By.ID, "access-result").get_attribute("textContent"),
               5, what="the token kept")
    # The form folds away; the summary says what the token allows.
    assert d.find_element(By.ID, "access").get_attribute("open") is None
    assert d.switch_to.active_element == summary


def press(d, selector, *keys):
    """Send KEYS to the element SELECTOR finds now: the operations view
    draws itself again every few seconds, and an element found before may
    be gone."""
    return wait_until(lambda: d.find_element(By.CSS_SELECTOR, selector).send_keys(*keys)
                      or True, 5, interval=0.1, what="to press " + selector)


def operations_link(d):
    link = d.find_element(By.ID, "nav-operations")
    return link if link.is_displayed() else None


def sub_rows(d):
    """The subscriptions shown: {url: state as the service says it}."""
    return {r.find_element(By.CSS_SELECTOR, "th").text:
            r.find_element(By.CSS_SELECTOR, ".badge").text
            for r in d.find_elements(By.CSS_SELECTOR, "#ops-subs tbody tr")}


def dead_row(d, event, sub):
    """The row of the dead letter of EVENT for the subscription SUB."""
    found = d.find_elements(By.CSS_SELECTOR, '#ops-dead tr[data-event="%s"][data-subscription="%s"]'
                            % (event, sub))
    return found[0] if found else None


def api_subscription(url):
    status, _, subs = request("GET", "/tickets/v1.0.0/tickets/subscriptions")
    assert status == 200, subs
    return next((s for s in subs if s["url"] == url), None)


def subscribe_url(url):
    status, _, body = request("POST", "/tickets/v1.0.0/tickets/subscribeToComments",
                              {"url": url})
    assert status == 200, body


def test_an_operator_sees_the_subscriptions_and_replays_a_dead_letter(page, access_log):
    """With a token holding the role operator, the Operations link shows;
    the view lists every subscription with its state as the service
    reports it (active, failing, disabled) and the dead letters; a dead
    letter of a disabled subscription offers no replay (the service would
    queue it for nobody); once subscribed again, Replay asks for a
    confirmation, sends one request for a double click, says the outcome,
    and the letter, delivered, leaves the list."""
    d = page
    gone, failing = Subscriber(), Subscriber()
    try:
        gone.respond(410)
        failing.respond(500)
        subscribe_url(gone.url)
        subscribe_url(failing.url)
        message = unique("For the operators")
        status, _, reply = request("POST", T1 + "/addComment",
                                   {"ticketId": TICKET, "user": "Ops Tester",
                                    "message": message})
        assert status == 200, reply
        event = reply["eventId"]
        def states():
            now = (api_subscription(gone.url), api_subscription(failing.url))
            return (now[0]["state"], now[1]["state"]) == ("disabled", "failing") or now
        wait_until(lambda: states() is True, 20,
                   what="one subscription disabled (410), one failing (500): %r" % (states(),))
        gone_id = api_subscription(gone.url)["id"]

        # A writer's token: no Operations.
        d.get(BASE + "/")
        wait_until(lambda: rows(d), 20, what="the tickets")
        assert operations_link(d) is None
        use_token(d, OPERATOR_TOKEN)
        assert "operator" in d.find_element(By.ID, "access-state").text
        assert "operator" in d.find_element(By.ID, "access-result").get_attribute("textContent")
        link = wait_until(lambda: operations_link(d), 5, what="the Operations link")
        link.send_keys(Keys.ENTER)
        wait_until(lambda: sub_rows(d).get(gone.url) == "disabled"
                   and sub_rows(d).get(failing.url) == "failing", 15,
                   what="the subscriptions and their state")
        assert d.switch_to.active_element.get_attribute("id") == "ops-title"
        shown = sub_rows(d)
        assert shown[BASE + "/replyfeed/v1.0.0/replyEvent"] == "active", shown
        status, _, subs = request("GET", T1 + "/subscriptions")
        assert shown == {s["url"]: s["state"] for s in subs}
        state_words = text_of(d, "#ops-subs")
        assert "410 Gone" in state_words and "in a row" in state_words, state_words
        row = wait_until(lambda: dead_row(d, event, gone_id), 10, what="the dead letter")
        assert gone.url in row.text and "410" in row.text
        assert "subscribe its URL again" in row.text
        assert not row.find_elements(By.TAG_NAME, "button")
        shot(d, "operations")

        # Subscribed again (as its owner would): the letter can be replayed.
        gone.respond(200)
        subscribe_url(gone.url)
        button = wait_until(lambda: dead_row(d, event, gone_id).find_element(By.TAG_NAME, "button"),
                            15, what="the Replay button")
        assert button.text == "Replay" and event in button.get_attribute("aria-label")
        replay_id = button.get_attribute("id")
        yes_css = "#" + replay_id.replace("replay-", "replay-yes-", 1)
        # Escape takes the question back, and the focus with it.
        press(d, "#" + replay_id, Keys.ENTER)
        wait_until(lambda: d.switch_to.active_element.get_attribute("id") == yes_css[1:], 5,
                   what="the focus on the confirmation")
        assert gone.url in text_of(d, "#ops-dead .confirm")
        press(d, yes_css, Keys.ESCAPE)
        wait_until(lambda: d.switch_to.active_element.get_attribute("id") == replay_id, 5,
                   what="the focus back on Replay")
        assert not d.find_elements(By.CSS_SELECTOR, "#ops-dead .confirm")
        assert gone.events(message, accepted_only=True) == []

        press(d, "#" + replay_id, Keys.ENTER)
        wait_until(lambda: d.find_elements(By.CSS_SELECTOR, yes_css), 5, what="the confirmation")
        shot(d, "operations-replay")
        time.sleep(0.7)   # a click at once is the end of a double click, ignored
        ActionChains(d).double_click(d.find_element(By.CSS_SELECTOR, yes_css)).perform()
        result = wait_until(lambda: "queued again" in text_of(d, "#ops-result")
                            and text_of(d, "#ops-result"), 15, what="the outcome")
        assert event in result and gone.url in result, result
        wait_until(lambda: gone.events(message, accepted_only=True), 15,
                   what="the replayed event delivered")
        wait_until(lambda: dead_row(d, event, gone_id) is None, 15,
                   what="the dead letter gone from the list")
        replays = [l for l in access_log()
                   if re.search(r'"POST /tickets/v1\.0\.[01]/tickets/events/%s/replay ' % event, l)]
        assert len(replays) == 1, replays
        assert len(gone.events(message, accepted_only=True)) == 1
    finally:
        for s in (gone, failing):
            request("POST", "/tickets/v1.0.0/tickets/unsubscribeToComments", {"url": s.url})
            s.close()


def test_the_operations_are_for_operators_only(page):
    """A token without the role operator: no Operations link, and the view
    opened by its address shows nothing but the service's refusal (403),
    in words; no token: 401, in words; a token that claims the role but
    does not check out: the page offers the link (it cannot check a
    token), and the service's 401 is what it shows."""
    d = page
    d.vd_expected += OPS_REFUSED
    d.get(BASE + "/")
    wait_until(lambda: rows(d), 20, what="the tickets")
    use_token(d, WRITER_TOKEN)
    assert operations_link(d) is None
    assert "tickets.write" in d.find_element(By.ID, "access-state").text

    forged = OPERATOR_TOKEN.rsplit(".", 1)[0] + "." + "A" * 43
    for token, words, link in (
            (WRITER_TOKEN, "does not hold the role operator", False),
            ("", "needs an access token with the role operator", False),
            (forged, "did not accept the access token", True)):
        d.get(BASE + "/#/operations")
        wait_until(lambda: d.find_elements(By.ID, "ops-title"), 15, what="the view")
        use_token(d, token)
        alert = wait_until(lambda: words in text_of(d, "#alerts") and text_of(d, "#alerts"),
                           15, what=words)
        assert "operator" in alert, alert
        assert (operations_link(d) is not None) == link
        assert not d.find_elements(By.CSS_SELECTOR, "#ops-subs tr, #ops-dead tr")
        assert "not shown" in d.find_element(By.ID, "ops-refused").text
        # The service said it, not the page: the calls were made.
        assert "subscriptions" in text_of(d, "#calls")
    # Back to the list: the refusal goes with the view.
    d.find_element(By.ID, "nav-tickets").send_keys(Keys.ENTER)
    wait_until(lambda: rows(d), 15, what="the list again")
    assert "operator" not in text_of(d, "#alerts")


# --- accessible, and readable on a phone ----------------------------------------------------

@pytest.mark.parametrize("size", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_axe_finds_no_serious_violation(page, size):
    d = page
    d.set_window_size(*size)
    views = (("list", "/"), ("ticket", "/#/tickets/" + TICKET), ("operations", "/#/operations"))
    for name, path in views:
        if name == "operations":
            d.execute_script("sessionStorage.setItem('vd-token', arguments[0])", OPERATOR_TOKEN)
        d.get(BASE + path)
        wait_until(lambda: rows(d) or d.find_elements(By.ID, "reply-form")
                   or d.find_elements(By.CSS_SELECTOR, "#ops-subs table"), 20,
                   what="the %s view" % name)
        wait_until(lambda: d.find_elements(By.CSS_SELECTOR, "#feed li"), 10,
                   what="the feed")
        serious, found = axe_violations(d)
        print("axe, %s view at %dx%d: %s" % (name, size[0], size[1], found or "nothing"))
        assert serious == [], "axe on the %s view: %s (all: %s)" % (name, serious, found)
        # Nothing wider than the screen: no sideways scrolling.
        assert d.execute_script(
            "var e = document.documentElement; return e.scrollWidth <= e.clientWidth;")
        if size == PHONE:
            shot(d, "phone-" + name, most=1100)
