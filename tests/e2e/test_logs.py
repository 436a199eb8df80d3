"""The responders' logs: opened again after a rotation, as logrotate would
do it (SIGUSR2 to multiwatch, which passes it on to the workers); an
unknown log level refused at start."""

import os
import signal
import subprocess
import uuid

from conftest import BINDIR, STATE, wait_until, worker_pids

VERSION = "1.0.0"
TICKET = "5f1d7a9e2c3b4a5d6e7f8a09"
LOG = STATE / "logs" / ("tickets-%s.log" % VERSION)


def supervisor_pid():
    return int((STATE / "pids" / ("tickets-%s.pid" % VERSION))
               .read_text().split()[0])


def test_sigusr2_reopens_the_log_after_a_rotation(post):
    rotated = LOG.with_name(LOG.name + ".rotated")
    workers = worker_pids("tickets@%s" % VERSION)
    # As logrotate does: rename, then signal (the file left is the
    # rotated one, which the next run replaces).
    os.rename(LOG, rotated)
    os.kill(supervisor_pid(), signal.SIGUSR2)
    wait_until(LOG.exists, 5, what="the log opened again")
    rid = "logrotate-" + uuid.uuid4().hex[:12]
    status, _, body = post(
        "/tickets/v%s/tickets/addComment" % VERSION,
        {"ticketId": TICKET, "user": "e2e", "message": rid},
        headers={"X-Request-Id": rid})
    assert status == 200, body
    wait_until(lambda: rid in LOG.read_text(errors="replace"), 5,
               what="the reply's line in the new log")
    assert rid not in rotated.read_text(errors="replace")
    # Nobody died of the signal.
    assert worker_pids("tickets@%s" % VERSION) == workers


def refused(argv, env=None):
    res = subprocess.run(argv, capture_output=True, text=True, timeout=30,
                         env=env, stdin=subprocess.DEVNULL, check=False)
    assert res.returncode == 64, (res.returncode, res.stderr)
    assert "unknown log level 'loud'" in res.stderr, res.stderr


def test_unknown_log_level_refused_at_start():
    for prog in ("tickets.fcgi", "replyfeed.fcgi"):
        refused([str(BINDIR / prog), "--api-version", "1.0.0",
                 "--log-level", "loud"])
        refused([str(BINDIR / prog), "--api-version", "1.0.0"],
                env=dict(os.environ, VD_LOG_LEVEL="loud"))
