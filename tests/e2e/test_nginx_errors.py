"""What nginx answers itself is JSON with Content-Type application/json,
whatever the path's extension (the stack's nginx has Debian's mime.types in
its http{} context, as a stock Debian nginx has); the access log is in a
format common tools read, and buffered."""

import json
import re
import socket

import pytest

from conftest import LISTEN, STATE, assert_json_error, request, wait_until

# nginx's "combined" format, then the request time and our fields.
COMBINED = re.compile(
    r'^(?P<addr>\S+) - (?P<user>\S+) \[(?P<time>\d{2}/\w{3}/\d{4}:\d{2}:\d{2}:'
    r'\d{2} [+-]\d{4})\] "(?P<request>[^"]*)" (?P<status>\d{3}) '
    r'(?P<bytes>\d+) "(?P<referer>[^"]*)" "(?P<agent>[^"]*)" '
    r'(?P<rtime>\d+\.\d{3}) upstream=.* rid=(?P<rid>\S+)$')


@pytest.mark.parametrize("path", [
    "/nothing.html", "/favicon.ico", "/robots.txt", "/x.css",
    "/tickets/v9.9.9/tickets.html", "/api/nothing/x.js",
])
def test_404_outside_known_paths_is_json(path):
    status, headers, body = request("GET", path)
    assert_json_error(status, headers, body, 404)


def test_413_is_json_whatever_the_extension():
    status, headers, body = request(
        "POST", "/tickets/v1.0.0/tickets/addComment.xml",
        body=b"x" * (70 * 1024),
        headers={"Content-Type": "application/json"})
    assert_json_error(status, headers, body, 413)


def test_405_of_the_static_latest_replies_is_json():
    status, headers, body = request("POST", "/replyfeed/v1.0.0/latestReplies",
                                    body={"x": 1})
    # nginx's static module refuses the POST (or the responder does,
    # while there is no file yet): JSON either way.
    assert_json_error(status, headers, body, 405)


def raw(data):
    """Send raw bytes to nginx; return (status, headers, body)."""
    host, port = LISTEN.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.sendall(data)
        reply = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            reply += chunk
    head, _, body = reply.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().title()] = value.strip()
    return status, headers, json.loads(body) if body.strip() else body


def test_400_of_a_broken_request_is_json():
    status, headers, body = raw(b"GET /x.html HTTP/1.1\r\nHost: a\r\n"
                                b"Host: b\r\nConnection: close\r\n\r\n")
    assert_json_error(status, headers, body, 400)


def test_headers_too_large_are_json():
    status, headers, body = raw(b"GET /x.html HTTP/1.1\r\nHost: a\r\n"
                                b"X-Big: " + b"a" * 20000 + b"\r\n"
                                b"Connection: close\r\n\r\n")
    # nginx's own code for it, 494, goes out as 400.
    assert_json_error(status, headers, body, 400)
    assert body["error"] == "request too large", body


def test_501_of_an_unknown_transfer_encoding_is_json():
    status, headers, body = raw(b"POST /x.html HTTP/1.1\r\nHost: a\r\n"
                                b"Transfer-Encoding: gzip\r\n"
                                b"Connection: close\r\n\r\n")
    assert_json_error(status, headers, body, 501)


def test_access_log_is_combined_with_the_request_time(access_log):
    rid = "e2e-combined-log-1"
    status, _, _ = request("GET", "/tickets/v1.0.0/health",
                           headers={"X-Request-Id": rid,
                                    "User-Agent": "e2e-agent/1.0",
                                    "Referer": "http://example.test/"})
    assert status == 200

    def line():
        for l in access_log(wait=0):
            if l.endswith("rid=" + rid):
                return l
        return None
    found = wait_until(line, 5, interval=0.2, what="the request's line")
    m = COMBINED.match(found)
    assert m, found
    assert m["request"] == "GET /tickets/v1.0.0/health HTTP/1.1", found
    assert m["status"] == "200" and m["agent"] == "e2e-agent/1.0", found
    assert m["referer"] == "http://example.test/", found


def test_access_log_is_buffered():
    conf = (STATE / "nginx" / "vdispatch.conf").read_text()
    m = re.search(r"^\s*access_log \S+ vdispatch (.*);$", conf, re.M)
    assert m and "buffer=64k" in m.group(1) and "flush=1s" in m.group(1), m
