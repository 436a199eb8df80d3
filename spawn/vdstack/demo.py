"""`spawn/stack demo`: the article's scenario against the running stack:
who is subscribed, two comments through dispatch, the events they make,
the latest replies, then a query a second that falls back from 1.0.1 (it
fails half of its queries) to 1.0.0.

dispatch takes its token (tickets.write) from VD_TOKEN, not from its command
line, which ps shows; the subscriptions are read with VD_OPERATOR_TOKEN."""

import glob
import json
import os
import subprocess
import time

from .api import subscriptions, wait_subscribed

TICKET = "5f1d7a9e2c3b4a5d6e7f8a01"
# As in the article, queries ask for 1.0.1: dispatch tries 1.0.1 first (it
# fails half of its queries) and falls back to 1.0.0, an older patch of the
# same minor, which libvdispatch accepts as a last resort (vdispatch.h).
QUERY_VERSION = "1.0.1"


def say(text=""):
    print(text, flush=True)


def indented(text, prefix="    "):
    for line in text.splitlines():
        say(prefix + line)


def summarize(text):
    """One line about a reply of the services."""
    try:
        v = json.loads(text)
    except ValueError:
        return "reply is not JSON"
    if isinstance(v, list):
        if v and isinstance(v[0], dict) and "replies" in v[0]:
            n = sum(len(t.get("replies") or []) for t in v)
            return "%d tickets, %d replies in all" % (len(v), n)
        lines = ["%d items" % len(v)]
        for r in v[-3:]:
            if isinstance(r, dict):
                lines.append('      %s on "%s": %s' % (r.get("user"), r.get("title"),
                                                     r.get("message")))
        return "\n".join(lines)
    if isinstance(v, dict):
        return ", ".join("%s=%s" % (k, json.dumps(v[k])[:60]) for k in list(v)[:6])
    return json.dumps(v)[:100]


class Demo:
    def __init__(self, bindir, logs, services, url, public_url):
        self.dispatch = os.path.join(bindir, "dispatch")
        self.services, self.url, self.public_url = services, url, public_url
        self.tickets_logs = sorted(glob.glob(os.path.join(logs, "tickets-*.log")))
        self.feed_logs = sorted(glob.glob(os.path.join(logs, "replyfeed-*.log")))
        # What the logs held when the demo began: only what it adds counts.
        self.offset = {f: os.path.getsize(f) for f in self.tickets_logs + self.feed_logs}

    def call(self, *args):
        """(ok, stdout, stderr) of dispatch ARGS, within 30 s."""
        try:
            r = subprocess.run([self.dispatch, *args], capture_output=True,
                               text=True, timeout=30)
            return r.returncode == 0, r.stdout, r.stderr
        except subprocess.TimeoutExpired:
            return False, "", "dispatch: no answer within 30 s"

    def new_lines(self, text, files):
        """The lines that hold TEXT among those added to FILES since the
        demo began, each after the name of its log."""
        out = []
        for f in files:
            try:
                with open(f, "rb") as fh:
                    fh.seek(self.offset.get(f, 0))
                    added = fh.read().decode("utf-8", "replace")
            except OSError:
                continue
            name = os.path.basename(f)[:-len(".log")]
            out += ["    %s: %s" % (name, l) for l in added.splitlines() if text in l]
        return out

    def show_call(self, *args):
        ok, out, err = self.call(*args)
        indented(err)
        say("    -> %s" % (summarize(out) if ok else "failed"))
        return ok, err

    def run(self, seconds):
        say("== 1. Who is subscribed to ticket replies, and the registry")
        wait_subscribed(self.services, self.url, self.public_url, quiet=True)
        for s in subscriptions(self.services, self.url):
            say("    subscription: " + s)
        ok, out, err = self.call("list")
        if ok:
            keys = ("subscribe", "latest", "query", "add comment")
            for line in out.splitlines():
                if any(k in line.lower() for k in keys):
                    say("    registry: " + line)
        else:
            indented(err)

        say()
        say("== 2. Two comments through Ticket Add Comment 1.0.1 (ticket %s)" % TICKET)
        for i in (1, 2):
            body = ('{"ticketId":"%s","user":"demo","message":"Demo comment %d at %s"}'
                    % (TICKET, i, time.strftime("%H:%M:%S")))
            say("  dispatch call \"Ticket Add Comment\" 1.0.1 '%s'" % body)
            self.show_call("call", "Ticket Add Comment", "1.0.1", body)

        say()
        say("== 3. Events (waiting up to 10 s for the reply feed)")
        for _ in range(50):
            if len(self.new_lines("event received", self.feed_logs)) >= 2:
                break
            time.sleep(0.2)
        say("  sent by the tickets service:")
        for line in self.new_lines("event sent", self.tickets_logs):
            say(line)
        say("  received by the reply feed:")
        for line in self.new_lines("event received", self.feed_logs):
            say(line)

        say()
        say('== 4. dispatch call "Ticket Latest Replies" 1.0.0')
        self.show_call("call", "Ticket Latest Replies", "1.0.0")

        say()
        say('== 5. dispatch call "Ticket Query" %s every second for %d s'
            % (QUERY_VERSION, seconds))
        say("   (1.0.1 is tried first and fails half of the queries; then 1.0.0)")
        calls = direct = fellback = failed = 0
        start = int(time.time())
        while int(time.time()) - start < seconds:
            calls += 1
            say("  [%s] call %d" % (time.strftime("%H:%M:%S"), calls))
            ok, err = self.show_call("call", "Ticket Query", QUERY_VERSION)
            if not ok:
                failed += 1
            elif "fail" in err.lower():
                fellback += 1
            else:
                direct += 1
            time.sleep(1)
        say()
        say("== %d queries: %d answered at once, %d after a fallback, %d failed"
            % (calls, direct, fellback, failed))
        say("   the stack is still running: spawn/stack status | logs | down")
        return 0


def run(bindir, logs, services, url, public_url, seconds):
    return Demo(bindir, logs, services, url, public_url).run(seconds)
