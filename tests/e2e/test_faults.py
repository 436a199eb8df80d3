"""Parts taken down and brought back with spawn/stack stop|start, as an
operator would. Each test restores what it stopped, whatever happens."""

import json
import re

import pytest

from conftest import STATE, assert_json_error, find_reply, get_tickets, wait_until

TICKET = "5f1d7a9e2c3b4a5d6e7f8a07"


def must(res):
    assert res.returncode == 0, res.stdout + res.stderr
    return res


def answered_by_responder(get, path):
    """True once nginx reaches a responder there (anything but 502)."""
    return get(path)[0] != 502


def test_stopped_version_is_a_502_and_callers_fall_back(get, stack, dispatch):
    must(stack("stop", "tickets@1.0.1"))
    try:
        status, headers, body = get("/tickets/v1.0.1/tickets")
        assert_json_error(status, headers, body, 502)
        for _ in range(3):
            res = dispatch("call", "Ticket Query", "1.0.0")
            assert res.returncode == 0, res.stderr
            assert isinstance(json.loads(res.stdout), list)
    finally:
        must(stack("start", "tickets@1.0.1"))
    wait_until(lambda: answered_by_responder(get, "/tickets/v1.0.1/tickets"), 20,
               what="tickets 1.0.1 back")


def test_status_reports_a_stopped_part(stack):
    must(stack("stop", "replyfeed"))
    try:
        res = stack("status")
        assert res.returncode != 0
        line = next(l for l in res.stdout.splitlines() if l.startswith("replyfeed@"))
        assert "stopped" in line
    finally:
        must(stack("start", "replyfeed"))
    assert stack("status").returncode == 0


def test_restarted_responder_registers_again(get, stack, dispatch):
    try:
        must(stack("stop", "tickets"))
    finally:
        must(stack("start", "tickets"))
    wait_until(lambda: answered_by_responder(get, "/tickets/v1.0.0/tickets"), 20,
               what="tickets back")

    def query_ok():
        return dispatch("call", "Ticket Query", "1.0.0").returncode == 0
    wait_until(query_ok, 30, interval=1, what="Ticket Query through the registry")


def test_subscription_survives_a_restart(get, post, stack, subscriber, unique):
    status, _, body = post("/tickets/v1.0.0/tickets/subscribeToComments",
                           {"url": subscriber.url})
    assert status == 200, body
    must(stack("stop", "tickets"))
    must(stack("start", "tickets"))
    wait_until(lambda: answered_by_responder(get, "/tickets/v1.0.0/tickets"), 20,
               what="tickets back")
    message = unique("after restart")
    status, _, body = post("/tickets/v1.0.1/tickets/addComment",
                           {"ticketId": TICKET, "user": "e2e", "message": message})
    assert status == 200, body
    wait_until(lambda: subscriber.events(message), 30, what="the event after a restart")


def test_nginx_restart(get, stack):
    must(stack("stop", "nginx"))
    try:
        with pytest.raises(OSError):
            get("/tickets/v1.0.0/tickets", timeout=3)
    finally:
        must(stack("start", "nginx"))
    assert get("/tickets/v1.0.0/tickets")[0] == 200


def test_database_down_is_a_503_and_changes_nothing(get, post, stack, unique):
    status_lines = stack("status").stdout
    if "external" in status_lines.split("\n", 1)[0]:
        pytest.skip("the database is external (MONGODB_URI)")
    message = unique("while the database is down")
    must(stack("stop", "db"))
    try:
        status, headers, body = get("/tickets/v1.0.0/tickets", timeout=15)
        assert_json_error(status, headers, body, 503)
        status, headers, body = post("/tickets/v1.0.0/tickets/addComment",
                                     {"ticketId": TICKET, "user": "e2e",
                                      "message": message}, timeout=15)
        assert_json_error(status, headers, body, 503)
    finally:
        must(stack("start", "db"))
    tickets = get_tickets(timeout=60)
    assert find_reply(tickets, TICKET, message) == []
    assert stack("status").returncode == 0


def test_indexes_refused_at_start_are_made_once_the_database_is_back(stack):
    """A tickets process started while the database is down serves (503)
    without its indexes, the unique (ticketId, sequence) among them, and
    makes them as soon as the database takes them, without a restart."""
    if "external" in stack("status").stdout.split("\n", 1)[0]:
        pytest.skip("the database is external (MONGODB_URI)")
    log = STATE / "logs" / "tickets-1.0.0.log"
    must(stack("stop", "tickets"))
    must(stack("stop", "db"))
    try:
        start = log.stat().st_size
        must(stack("start", "tickets"))
    finally:
        must(stack("start", "db"))

    def said(what):
        """The workers (pids) that logged what since the start."""
        with open(log, encoding="utf-8", errors="replace") as f:
            f.seek(start)
            return {m.group(1) for m in (re.search(r"\[(\d+)\]", line)
                                         for line in f if what in line) if m}
    refused = said("indexes not made yet")
    assert refused, "no worker started without its indexes"
    wait_until(lambda: said("outbox: indexes ready") == refused, 40,
               what="every worker to make its indexes")
