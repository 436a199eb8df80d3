"""`spawn/stack events`: what happened to the reply events, from the
tickets service's operator paths; replay them.

  events [subscriptions | deadletters [SUB] | show EVENT
         | replay EVENT [SUB] | replay-since SUB TIME]

Prints the reply (JSON indented); the exit status is 0 for a 2xx reply."""

import json
import sys
import urllib.parse

from .api import request, tickets_base
from .services import ConfigError


def _arg(args, i, usage):
    if len(args) <= i or not args[i]:
        raise ConfigError("usage: spawn/stack events " + usage)
    return args[i]


def run(services, url, args):
    base = tickets_base(services, url)
    what = args[0] if args else "subscriptions"
    q = lambda s: urllib.parse.quote(s, safe="")  # noqa: E731
    method, body = "GET", None
    if what == "subscriptions":
        target = base + "/subscriptions"
    elif what == "deadletters":
        target = base + "/deadletters"
        if len(args) > 1 and args[1]:
            target += "?subscription=" + q(args[1])
    elif what == "show":
        target = base + "/events/" + q(_arg(args, 1, "show EVENT_ID"))
    elif what == "replay":
        target = base + "/events/%s/replay" % q(
            _arg(args, 1, "replay EVENT_ID [SUBSCRIPTION]"))
        method = "POST"
        if len(args) > 2 and args[2]:
            body = {"subscription": args[2]}
    elif what == "replay-since":
        usage = "replay-since SUBSCRIPTION 2026-11-26T10:00:00Z"
        sub, since = _arg(args, 1, usage), _arg(args, 2, usage)
        target = base + "/subscriptions/%s/replay" % q(sub)
        method, body = "POST", {"since": since}
    else:
        raise ConfigError("events: unknown command %s (see spawn/stack --help)" % what)
    try:
        status, text = request(target, method, body)
    except OSError:
        raise ConfigError("cannot reach %s (is the stack up?)" % base) from None
    try:
        print(json.dumps(json.loads(text), indent=4))
    except ValueError:
        print(text)
    sys.stdout.flush()
    return 0 if status // 100 == 2 else 1
