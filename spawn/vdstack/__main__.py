"""python3 spawn/vdstack COMMAND [ARGS]: the parts of spawn/stack in Python
(spawn/stack runs them; each takes what it needs as options, and the
environment spawn/stack settled):

  nginx-conf --template FILE --services FILE --listen ADDR --rundir DIR
             --logdir DIR --wwwdir DIR
      print vdispatch.conf; the limit from VD_LIMIT_RATE, VD_LIMIT_BURST
  demo --bindir DIR --logs DIR --services FILE --url URL --public-url URL
       [--seconds N]
      the article's scenario against the running stack at URL (nginx on
      this machine); PUBLIC_URL is what the reply feed subscribed with
      (tokens in VD_TOKEN and VD_OPERATOR_TOKEN)
  events --services FILE --url URL -- [ARGS]
      the events command's request (token in VD_OPERATOR_TOKEN)
  wait-subscribed --services FILE --url URL --public-url URL
      wait until each reply feed has subscribed with PUBLIC_URL
"""

import argparse
import os
import sys

if __package__ in (None, ""):
    # Run as `python3 spawn/vdstack`: the package is this directory, which
    # must not stand first on the path (its modules would hide the
    # standard library's of the same name).
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != here]
    sys.path.insert(0, os.path.dirname(here))
    __package__ = "vdstack"  # noqa: A001

from vdstack import api, demo, events, nginx, services  # noqa: E402
from vdstack.services import ConfigError  # noqa: E402


def main(argv):
    p = argparse.ArgumentParser(prog="vdstack")
    sub = p.add_subparsers(dest="command", required=True)
    n = sub.add_parser("nginx-conf")
    for opt in ("template", "services", "listen", "rundir", "logdir", "wwwdir"):
        n.add_argument("--" + opt, required=True)
    d = sub.add_parser("demo")
    for opt in ("bindir", "logs", "services", "url", "public-url"):
        d.add_argument("--" + opt, required=True)
    d.add_argument("--seconds", type=int, default=15)
    e = sub.add_parser("events")
    for opt in ("services", "url"):
        e.add_argument("--" + opt, required=True)
    e.add_argument("args", nargs="*")
    w = sub.add_parser("wait-subscribed")
    for opt in ("services", "url", "public-url"):
        w.add_argument("--" + opt, required=True)
    a = p.parse_args(argv)
    try:
        if a.command == "nginx-conf":
            try:
                with open(a.template, encoding="utf-8") as f:
                    template = f.read()
            except FileNotFoundError:
                raise ConfigError("missing %s" % a.template) from None
            sys.stdout.write(nginx.render(
                template, services.read(a.services), a.listen, a.rundir,
                a.logdir, a.wwwdir, os.environ.get("VD_LIMIT_RATE") or "10r/s",
                os.environ.get("VD_LIMIT_BURST") or "20"))
            return 0
        if a.command == "demo":
            return demo.run(a.bindir, a.logs, services.read(a.services), a.url,
                            a.public_url, a.seconds)
        if a.command == "wait-subscribed":
            api.wait_subscribed(services.read(a.services), a.url, a.public_url)
            return 0
        return events.run(services.read(a.services), a.url, a.args)
    except ConfigError as err:
        print("stack: error: %s" % err, file=sys.stderr)
        return 1


sys.exit(main(sys.argv[1:]))
