"""Every error of docs/design.md, through nginx: the status, a JSON body
{"error", "detail"}, and no change to the data."""

import json

import pytest

from conftest import assert_json_error, encode_body, request

TICKET = "5f1d7a9e2c3b4a5d6e7f8a02"
GOOD = {"ticketId": TICKET, "user": "e2e", "message": "must never be stored"}


def with_(**changes):
    body = dict(GOOD)
    for key, value in changes.items():
        if value is ...:
            del body[key]
        else:
            body[key] = value
    return body


# (id, body as bytes or JSON-able, expected status)
COMMENT_CASES = [
    ("bad-json", b'{"ticketId": "%s", "user": "e2e",' % TICKET.encode(), 400),
    ("not-json", b"ticketId=1&user=2", 400),
    ("empty-body", b"", 400),
    ("json-array", [GOOD], 400),
    ("json-string", "\"text\"", 400),
    ("json-null", b"null", 400),
    ("missing-ticketId", with_(ticketId=...), 400),
    ("missing-user", with_(user=...), 400),
    ("missing-message", with_(message=...), 400),
    ("ticketId-number", with_(ticketId=123), 400),
    ("ticketId-null", with_(ticketId=None), 400),
    ("user-number", with_(user=5), 400),
    ("user-object", with_(user={"name": "e2e"}), 400),
    ("message-list", with_(message=["x"]), 400),
    ("message-null", with_(message=None), 400),
    ("id-short", with_(ticketId=TICKET[:-1]), 400),
    ("id-long", with_(ticketId=TICKET + "0"), 400),
    ("id-not-hex", with_(ticketId="zzzzzzzzzzzzzzzzzzzzzzzz"), 400),
    ("id-words", with_(ticketId="not an id"), 400),
    ("id-operator", with_(ticketId={"$ne": None}), 400),
    ("dollar-key", with_(**{"$set": {"status": "closed"}}), 400),
    ("dollar-key-nested", with_(extra={"$where": "1"}), 400),
    ("unknown-ticket", with_(ticketId="0123456789abcdef01234567"), 404),
]


@pytest.mark.parametrize("version", ["1.0.0", "1.0.1"])
@pytest.mark.parametrize("body,expected", [c[1:] for c in COMMENT_CASES],
                         ids=[c[0] for c in COMMENT_CASES])
def test_add_comment_rejects_bad_input(post, unchanged, version, body, expected):
    with unchanged():
        status, headers, reply = post("/tickets/v%s/tickets/addComment" % version, body)
        assert_json_error(status, headers, reply, expected)


@pytest.mark.parametrize("version", ["1.0.0", "1.0.1"])
def test_add_comment_body_over_64k_is_413(post, unchanged, version):
    body = with_(message="x" * (70 * 1024))
    with unchanged():
        status, headers, reply = post("/tickets/v%s/tickets/addComment" % version, body)
        assert_json_error(status, headers, reply, 413)


@pytest.mark.parametrize("ctype", ["text/plain", "application/x-www-form-urlencoded",
                                   "application/xml"])
@pytest.mark.parametrize("version", ["1.0.0", "1.0.1"])
def test_add_comment_needs_json_content_type(post, unchanged, version, ctype):
    with unchanged():
        status, headers, reply = post("/tickets/v%s/tickets/addComment" % version,
                                      GOOD, {"Content-Type": ctype})
        assert_json_error(status, headers, reply, 415)


def test_add_comment_accepts_json_content_type_with_charset(post, unique):
    status, _, reply = post("/tickets/v1.0.0/tickets/addComment",
                            with_(message=unique("charset")),
                            {"Content-Type": "application/json; charset=utf-8"})
    assert status == 200, reply


@pytest.mark.parametrize("method,path", [
    ("GET", "/tickets/addComment"),
    ("PUT", "/tickets/addComment"),
    ("DELETE", "/tickets/addComment"),
    ("POST", "/tickets"),
    ("DELETE", "/tickets"),
    ("GET", "/tickets/subscribeToComments"),
    ("GET", "/tickets/unsubscribeToComments"),
])
@pytest.mark.parametrize("version", ["1.0.0", "1.0.1"])
def test_tickets_wrong_method_is_405(http, unchanged, version, method, path):
    body = GOOD if method in ("POST", "PUT") else None
    with unchanged():
        status, headers, reply = http(method, "/tickets/v%s%s" % (version, path), body)
        assert_json_error(status, headers, reply, 405)


SUBSCRIBE_CASES = [
    ("bad-json", b'{"url": ', 400),
    ("missing-url", {}, 400),
    ("url-number", {"url": 42}, 400),
    ("url-null", {"url": None}, 400),
    ("url-list", {"url": ["http://127.0.0.1:9/x"]}, 400),
    ("dollar-key", {"url": "http://127.0.0.1:9/x", "$set": {"url": "x"}}, 400),
    ("json-array", [{"url": "http://127.0.0.1:9/x"}], 400),
]


@pytest.mark.parametrize("endpoint", ["subscribeToComments", "unsubscribeToComments"])
@pytest.mark.parametrize("body,expected", [c[1:] for c in SUBSCRIBE_CASES],
                         ids=[c[0] for c in SUBSCRIBE_CASES])
def test_subscriptions_reject_bad_input(post, endpoint, body, expected):
    status, headers, reply = post("/tickets/v1.0.0/tickets/%s" % endpoint, body)
    assert_json_error(status, headers, reply, expected)


@pytest.mark.parametrize("endpoint", ["subscribeToComments", "unsubscribeToComments"])
def test_subscriptions_need_json_content_type(post, endpoint):
    status, headers, reply = post("/tickets/v1.0.1/tickets/%s" % endpoint,
                                  {"url": "http://127.0.0.1:9/x"},
                                  {"Content-Type": "text/plain"})
    assert_json_error(status, headers, reply, 415)


def latest_replies():
    status, _, body = request("GET", "/replyfeed/v1.0.0/latestReplies")
    assert status == 200, body
    return json.dumps(body, sort_keys=True)


EVENT = {"id": "e2e-bad-event", "type": "reply.created", "ticketId": TICKET,
         "title": "t", "user": "e2e", "message": "must never be shown",
         "createdAt": "2026-01-01T00:00:00Z"}

EVENT_CASES = [
    ("bad-json", b'{"id": "x", ', 400),
    ("json-array", [EVENT], 400),
    ("missing-message", {k: v for k, v in EVENT.items() if k != "message"}, 400),
    ("message-number", dict(EVENT, message=7), 400),
    ("dollar-key", dict(EVENT, **{"$inc": {"n": 1}}), 400),
]


@pytest.mark.parametrize("body,expected", [c[1:] for c in EVENT_CASES],
                         ids=[c[0] for c in EVENT_CASES])
def test_reply_event_rejects_bad_input(post, event_headers, body, expected):
    before = latest_replies()
    raw = encode_body(body)
    status, headers, reply = post("/replyfeed/v1.0.0/replyEvent", raw, event_headers(raw))
    assert_json_error(status, headers, reply, expected)
    assert latest_replies() == before


def test_reply_event_needs_json_content_type(post, event_headers):
    before = latest_replies()
    raw = encode_body(EVENT)
    headers = dict(event_headers(raw), **{"Content-Type": "text/plain"})
    status, headers, reply = post("/replyfeed/v1.0.0/replyEvent", raw, headers)
    assert_json_error(status, headers, reply, 415)
    assert latest_replies() == before


def test_reply_event_body_over_64k_is_413(post):
    before = latest_replies()
    status, headers, reply = post("/replyfeed/v1.0.0/replyEvent",
                                  dict(EVENT, message="y" * (70 * 1024)))
    assert_json_error(status, headers, reply, 413)
    assert latest_replies() == before


@pytest.mark.parametrize("method,path", [
    ("GET", "/replyEvent"),
    ("POST", "/latestReplies"),
    ("DELETE", "/latestReplies"),
])
def test_replyfeed_wrong_method_is_405(http, method, path):
    body = {} if method == "POST" else None
    status, headers, reply = http(method, "/replyfeed/v1.0.0" + path, body)
    assert_json_error(status, headers, reply, 405)


def test_bad_input_never_crashes_a_responder(post, stack):
    """The same workers are alive after a volley of bad requests."""
    def workers():
        res = stack("status")
        return sorted(line for line in res.stdout.splitlines()
                      if line.startswith(("tickets@", "replyfeed@")))
    before = workers()
    for version in ("1.0.0", "1.0.1"):
        for _, body, _ in COMMENT_CASES + SUBSCRIBE_CASES:
            post("/tickets/v%s/tickets/addComment" % version, body)
            post("/tickets/v%s/tickets/subscribeToComments" % version, body)
    for _, body, _ in EVENT_CASES:
        post("/replyfeed/v1.0.0/replyEvent", body)
    assert workers() == before
