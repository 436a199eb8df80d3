"""No loops, no SSRF (issue 11, item 1): an event never comes back to the
tickets service as a write, subscriptions are capped, an unsubscribe ends
every delivery queued for it at once, and calls through the registry go
only where the allow-list says.

The attack this reproduces: two anonymous requests subscribe the tickets
service's own addComment (1.0.0 and 1.0.1), a third adds one reply; each
event carries ticketId, user and message, which addComment accepted as a
new reply, whose event made two more, without end."""

import concurrent.futures
import json
import socket
import time
import urllib.parse

import pytest

from conftest import (BASE, assert_json_error, get_tickets, request,
                      wait_until)

TICKET = "5f1d7a9e2c3b4a5d6e7f8a06"
SUBSCRIBE = "/tickets/v1.0.0/tickets/subscribeToComments"
UNSUBSCRIBE = "/tickets/v1.0.0/tickets/unsubscribeToComments"
HOST = urllib.parse.urlsplit(BASE).netloc
PORT = urllib.parse.urlsplit(BASE).port


@pytest.fixture(autouse=True, scope="module")
def database_answers():
    """Every tickets worker reaches the database: a test before may have
    restarted it, and GET /tickets answers from a cache meanwhile."""
    def all_ok():
        return all(request("GET", "/tickets/v%s/tickets/subscriptions"
                           % v)[0] == 200
                   for v in ("1.0.0", "1.0.1") for _ in range(6))
    wait_until(all_ok, 60, interval=0.5, what="the database, from every worker")


def replies_of(ticket_id):
    ticket = next(t for t in get_tickets() if t["_id"] == ticket_id)
    return len(ticket.get("replies") or [])


def comment(post, message, version="1.0.0", headers=None):
    return post("/tickets/v%s/tickets/addComment" % version,
                {"ticketId": TICKET, "user": "e2e", "message": message},
                headers)


# Every way of writing a URL that reaches the tickets service's own paths
# through nginx. The test allow-list (tests/run) allows any port and path of
# 127.0.0.1, so only the rule that no list can override stands between them
# and a loop.
OWN_PATHS = [
    BASE + "/tickets/v1.0.0/tickets/addComment",
    BASE + "/tickets/v1.0.1/tickets/addComment",
    BASE + "/api/tickets/tickets/addComment",
    BASE + "/tickets/v1.0.0/tickets/subscribeToComments",
    BASE + "/replyfeed/../tickets/v1.0.0/tickets/addComment",
    BASE + "/replyfeed/%2e%2e/tickets/v1.0.0/tickets/addComment",
    BASE + "/replyfeed/%2E%2E/tickets/v1.0.1/tickets/addComment",
    BASE + "/replyfeed%2f..%2ftickets/v1.0.0/tickets/addComment",
    BASE + "//tickets/v1.0.0/tickets/addComment",
    BASE + "/%74ickets/v1.0.0/tickets/addComment",
    "http://localhost:%d/tickets/v1.0.0/tickets/addComment" % PORT,
    "http://LOCALHOST:%d/tickets/v1.0.0/tickets/addComment" % PORT,
    "http://2130706433:%d/tickets/v1.0.0/tickets/addComment" % PORT,
    "http://[::1]:%d/tickets/v1.0.0/tickets/addComment" % PORT,
    "http://user:pw@%s/tickets/v1.0.0/tickets/addComment" % HOST,
]


@pytest.mark.parametrize("url", OWN_PATHS)
def test_the_tickets_services_own_paths_cannot_be_subscribed(post, get, url):
    status, headers, body = post(SUBSCRIBE, {"url": url})
    try:
        assert_json_error(status, headers, body, 400)
        assert body["error"] == "invalid url"
        status, _, subs = get("/tickets/v1.0.0/tickets/subscriptions")
        assert status == 200
        assert url not in [s["url"] for s in subs]
    finally:
        if status == 200:
            post(UNSUBSCRIBE, {"url": url})


def test_two_anonymous_requests_no_longer_start_a_reply_flood(post, unique):
    urls = [BASE + "/tickets/v1.0.0/tickets/addComment",
            BASE + "/tickets/v1.0.1/tickets/addComment"]
    before = replies_of(TICKET)
    try:
        answers = [post(SUBSCRIBE, {"url": url}) for url in urls]
        status, _, body = comment(post, unique("flood seed"))
        assert status == 200, body
        # Before the fix, the ticket gained hundreds of replies a second.
        time.sleep(5)
        assert replies_of(TICKET) == before + 1
        assert [a[0] for a in answers] == [400, 400], answers
    finally:
        for url in urls:
            post(UNSUBSCRIBE, {"url": url})


WEBHOOK_HEADERS = [
    {"webhook-id": "evt_6b0806222f2ceefe59094557"},
    {"webhook-timestamp": str(int(time.time()))},
    {"webhook-signature": "v1,AAAA"},
]


@pytest.mark.parametrize("extra", WEBHOOK_HEADERS,
                         ids=["id", "timestamp", "signature"])
def test_a_write_carrying_webhook_headers_is_refused(post, unchanged, unique,
                                                      extra):
    with unchanged():
        status, headers, body = comment(post, unique("as an event"), "1.0.1",
                                        extra)
        assert_json_error(status, headers, body, 403)
        assert body["error"] == "event not accepted"
        status, headers, body = post(SUBSCRIBE, {"url": BASE + "/replyfeed/x"},
                                     extra)
        assert_json_error(status, headers, body, 403)
        status, headers, body = post(UNSUBSCRIBE, {"url": "http://x/"}, extra)
        assert_json_error(status, headers, body, 403)


def test_a_signed_event_posted_to_add_comment_is_not_a_reply(
        post, unchanged, event_headers, unique):
    # What the outbox sends: the event body, with its signed headers.
    body = json.dumps({"id": "evt_6b0806222f2ceefe59094558",
                       "type": "reply.created", "ticketId": TICKET,
                       "title": "t", "user": "e2e",
                       "message": unique("event as reply")}).encode()
    with unchanged():
        for version in ("1.0.0", "1.0.1"):
            status, headers, answer = post(
                "/tickets/v%s/tickets/addComment" % version, body,
                event_headers(body))
            assert_json_error(status, headers, answer, 403)


def test_subscriptions_are_capped(post, get):
    status, _, subs = get("/tickets/v1.0.0/tickets/subscriptions")
    assert status == 200
    made = []
    # Nothing listens there: a subscription costs nothing until an event.
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    listener.close()
    try:
        for i in range(100 - len(subs)):
            url = "http://127.0.0.1:%d/cap/%d" % (port, i)
            status, _, body = post(SUBSCRIBE, {"url": url})
            assert status == 200, body
            made.append(url)
        extra = "http://127.0.0.1:%d/cap/over" % port
        status, headers, body = post(SUBSCRIBE, {"url": extra})
        assert_json_error(status, headers, body, 409)
        assert body["error"] == "too many subscriptions"
        assert "EVENTS_MAX_SUBSCRIPTIONS" in body["detail"]
        status, _, subs = get("/tickets/v1.0.0/tickets/subscriptions")
        assert len(subs) == 100 and extra not in [s["url"] for s in subs]
        # A renewal of one that is there still goes through...
        if made:
            status, _, body = post(SUBSCRIBE, {"url": made[0]})
            assert status == 200 and body["created"] is False, body
            # ...and one unsubscribed makes room.
            status, _, body = post(UNSUBSCRIBE, {"url": made.pop()})
            assert status == 200, body
            status, _, body = post(SUBSCRIBE, {"url": extra})
            assert status == 200 and body["created"] is True, body
            made.append(extra)
    finally:
        for url in made + ["http://127.0.0.1:%d/cap/over" % port]:
            post(UNSUBSCRIBE, {"url": url})


def queue_then_unsubscribe(post, subscriber, n, label, writers=1):
    """Subscribes subscriber, adds n replies (through both versions, from
    WRITERS threads), waits for 16 POSTs to reach it, unsubscribes it;
    returns when that was answered (time.monotonic())."""
    status, _, body = post(SUBSCRIBE, {"url": subscriber.url})
    assert status == 200, body

    def add(i):
        return comment(post, "%s %d" % (label, i), ("1.0.0", "1.0.1")[i % 2])
    with concurrent.futures.ThreadPoolExecutor(writers) as pool:
        for status, _, body in pool.map(add, range(n)):
            assert status == 200, body
    wait_until(lambda: len(subscriber.received()) >= 16, 20,
               what="deliveries to come")
    status, _, body = post(UNSUBSCRIBE, {"url": subscriber.url})
    assert status == 200 and body["removed"] is True, body
    return time.monotonic()


def test_a_subscriber_down_gets_nothing_after_its_unsubscribe(
        post, subscriber, unique):
    """A subscriber that is down with deliveries queued for it; an operator
    unsubscribes it; it comes back: it gets nothing more, although a
    subscriber that answers again gets everything it missed at once."""
    subscriber.respond(503)
    # Failing: every event tried at least once, a few retried.
    ended = queue_then_unsubscribe(post, subscriber, 12, unique("queued"))
    subscriber.respond(200)
    time.sleep(6)
    late = [d for d in subscriber.received() if d["at"] > ended + 0.5]
    assert late == [], "%d deliveries after the unsubscribe: %r" % (
        len(late), [(round(d["at"] - ended, 2), d["status"]) for d in late])


def test_an_unsubscribe_ends_a_delivery_storm_at_once(post, subscriber,
                                                       unique):
    """Deliveries pour into a slow subscriber, eight at a time from every
    tickets process, with many more queued; its unsubscribe stops them
    within a moment: what is queued is dropped, what is in flight is
    canceled. Before the fix each process went on starting new POSTs until
    it next read the subscriptions (every 2 s), and finished those under
    way, however long they took.

    Each delivery is held 1 s, so that POSTs keep starting while the
    unsubscribe comes, and 32 run at once (8 from each of 4 processes):
    about 32 more arrive each second until then. 160 replies added from
    8 threads keep the backlog far from drained on a slow machine (48
    added one by one were all delivered before the unsubscribe on one)."""
    subscriber.respond(200, delay=1.0)
    ended = queue_then_unsubscribe(post, subscriber, 160, unique("storm"),
                                   writers=8)
    time.sleep(3)
    received = subscriber.received()
    late = [d for d in received if d["at"] > ended + 0.7]
    assert late == [], "%d of %d deliveries came after the unsubscribe: " \
        "%r" % (len(late), len(received),
                sorted(round(d["at"] - ended, 2) for d in late))
    assert len(received) < 160, "the storm was over before the unsubscribe"


def test_registry_urls_off_the_allow_list_are_never_called(dispatch,
                                                            subscriber):
    name = "E2E Allow %d" % int(time.time() * 1000)
    res = dispatch("register", "--post", subscriber.url, name, "1.0.0")
    assert res.returncode == 0, res.stderr
    try:
        # Only the stack's own address: the entry is not called.
        res = dispatch("--allowed-urls", BASE, "call", name, "1.0.0", "{}")
        assert res.returncode == 2, (res.stdout, res.stderr)
        assert "URL not allowed" in res.stderr, res.stderr
        assert "not calling %s 1.0.0" % name in res.stderr, res.stderr
        assert subscriber.received() == []
        # A path prefix that is not the entry's: refused as well.
        res = dispatch("--allowed-urls",
                       subscriber.url.rsplit("/", 1)[0] + "/other/", "call",
                       name, "1.0.0", "{}")
        assert res.returncode == 2 and subscriber.received() == [], res.stderr
        # On the list (its exact path prefix): called.
        res = dispatch("--allowed-urls", subscriber.url, "call", name,
                       "1.0.0", "{}")
        assert res.returncode == 0, res.stderr
        assert len(subscriber.received()) == 1
        # A bad list is a usage error.
        res = dispatch("--allowed-urls", "ftp://x/", "call", name, "1.0.0")
        assert res.returncode == 64, res.stderr
    finally:
        dispatch("unregister", name, "1.0.0")


def test_by_default_calls_stay_on_this_machine(dispatch):
    # 192.0.2.1 is TEST-NET-1 (RFC 5737): never reached either way.
    name = "E2E Offsite %d" % int(time.time() * 1000)
    res = dispatch("register", "--get", "http://192.0.2.1:9/x", name, "1.0.0")
    assert res.returncode == 0, res.stderr
    try:
        started = time.monotonic()
        res = dispatch("call", "--connect-timeout", "5000", name, "1.0.0")
        assert res.returncode == 2, res.stderr
        assert "URL not allowed" in res.stderr, res.stderr
        # Refused before any connection attempt, not timed out.
        assert time.monotonic() - started < 4, res.stderr
    finally:
        dispatch("unregister", name, "1.0.0")
