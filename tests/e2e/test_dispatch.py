"""The dispatch CLI over the real registry (docs/design.md, Registry)."""

import json
import re

from conftest import find_reply, get_tickets

NAMES = ("Ticket Query", "Ticket Add Comment", "Ticket Subscribe",
         "Ticket Unsubscribe", "Ticket Latest Replies")


def attempts(stderr):
    """The per-attempt log lines of one dispatch call."""
    return [line for line in stderr.splitlines() if re.search(r"\bcalling\b", line, re.I)]


def test_list_shows_every_service(dispatch):
    res = dispatch("list")
    assert res.returncode == 0, res.stderr
    for name in NAMES:
        assert name in res.stdout, (name, res.stdout)


def test_query_returns_the_tickets(dispatch, sample_tickets):
    res = dispatch("call", "Ticket Query", "1.0.0")
    assert res.returncode == 0, res.stderr
    body = json.loads(res.stdout)
    assert isinstance(body, list), res.stdout
    assert {t["_id"] for t in sample_tickets} <= {t["_id"] for t in body}
    assert attempts(res.stderr), res.stderr


def test_query_at_1_0_0_falls_back_from_1_0_1(dispatch, access_log):
    """1.0.1 (newest) is tried first and fails half the time; every call still
    succeeds, through 1.0.0."""
    logs = []
    for _ in range(20):
        res = dispatch("call", "Ticket Query", "1.0.0")
        assert res.returncode == 0, res.stderr
        assert isinstance(json.loads(res.stdout), list)
        logs.append(res.stderr)
    fell_back = [s for s in logs if len(attempts(s)) >= 2]
    assert fell_back, "no call fell back from 1.0.1:\n" + "\n".join(logs)
    for s in fell_back:
        lines = attempts(s)
        assert "1.0.1" in lines[0] and "1.0.0" in lines[-1], s
    requested = "\n".join(access_log())
    assert "GET /tickets/v1.0.1/tickets " in requested
    assert "GET /tickets/v1.0.0/tickets " in requested


def test_query_at_1_0_1_tries_1_0_1_first(dispatch):
    for _ in range(4):
        res = dispatch("call", "Ticket Query", "1.0.1")
        if res.returncode != 0:
            assert "No service available" in (res.stderr + res.stdout), res.stderr
        lines = attempts(res.stderr)
        assert lines and "1.0.1" in lines[0], res.stderr


def test_unknown_service_is_no_service_available(dispatch):
    res = dispatch("call", "No Such Service", "1.0.0")
    assert res.returncode != 0
    assert "No service available" in res.stderr + res.stdout, res.stderr


def test_no_compatible_major_version(dispatch):
    res = dispatch("call", "Ticket Query", "2.0.0")
    assert res.returncode != 0
    assert "No service available" in res.stderr + res.stdout, res.stderr


def test_a_4xx_is_returned_not_retried(dispatch, access_log):
    body = json.dumps({"ticketId": "0123456789abcdef01234567", "user": "e2e",
                       "message": "unknown ticket"})
    res = dispatch("call", "Ticket Add Comment", "1.0.0", body)
    assert res.returncode != 0
    assert len(attempts(res.stderr)) == 1, res.stderr
    assert len([l for l in access_log() if "addComment" in l]) == 1


def test_add_comment_through_dispatch_applies_once(dispatch, unique):
    message = unique("through dispatch")
    body = json.dumps({"ticketId": "5f1d7a9e2c3b4a5d6e7f8a06", "user": "e2e",
                       "message": message})
    res = dispatch("call", "Ticket Add Comment", "1.0.0", body)
    assert res.returncode == 0, res.stderr
    assert len(find_reply(get_tickets(), "5f1d7a9e2c3b4a5d6e7f8a06", message)) == 1


def test_latest_replies_through_dispatch(dispatch):
    res = dispatch("call", "Ticket Latest Replies", "1.0.0")
    assert res.returncode == 0, res.stderr
    assert isinstance(json.loads(res.stdout), list)
