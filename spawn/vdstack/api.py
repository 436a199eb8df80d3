"""Requests to the stack's own services (urllib: no curl, no third-party
library), with the operator's bearer token spawn/stack minted."""

import json
import os
import sys
import time
import urllib.error
import urllib.request

from .services import ConfigError, versions

# The stack's nginx is on this machine: never through a proxy that
# http_proxy names.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def request(url, method="GET", body=None, timeout=30):
    """(status, text) of METHOD URL with the JSON BODY (None: no body);
    OSError when the stack cannot be reached."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method)
    token = os.environ.get("VD_OPERATOR_TOKEN")
    if token:
        req.add_header("Authorization", "Bearer " + token)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with _OPENER.open(req, timeout=timeout) as res:
            return res.status, res.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode("utf-8", "replace")


def tickets_base(services, url):
    """The tickets service's collection URL, at its first listed version."""
    vs = versions(services, "tickets")
    if not vs:
        raise ConfigError("no tickets service in services.conf")
    return "%s/tickets/v%s/tickets" % (url, vs[0])


def subscriptions(services, url):
    """The subscriptions' URLs as the tickets service lists them ([] when
    it cannot say)."""
    try:
        status, text = request(tickets_base(services, url) + "/subscriptions",
                               timeout=5)
        if status // 100 != 2:
            return []
        return [s["url"] for s in json.loads(text)]
    except (ConfigError, OSError, ValueError, KeyError, TypeError):
        return []


def wait_subscribed(services, url, public_url, seconds=30, quiet=False):
    """Up means ready: wait until each reply feed has subscribed to the
    tickets service (its first try may come before nginx is up; it retries
    within seconds), saying so; warn about one that has not in SECONDS."""
    deadline = time.monotonic() + seconds
    for v in versions(services, "replyfeed"):
        want = "%s/replyfeed/v%s/replyEvent" % (public_url, v)
        while want not in subscriptions(services, url):
            if time.monotonic() >= deadline:
                if not quiet:
                    print("stack: replyfeed@%s has not subscribed yet (see its log)" % v,
                          file=sys.stderr)
                return
            time.sleep(0.5)
        if not quiet:
            print("replyfeed@%s: subscribed (%s)" % (v, want), flush=True)
