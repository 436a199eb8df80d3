"""The systemd units as make install writes them: every unit (each template
with an instance) passes `systemd-analyze verify` with the installation's
real paths; a broken unit does not (so the check can fail); the generator
turns services.conf into instances wanted by vdispatch.target, with their
workers and flags, and leaves out what it cannot take."""

import os
import pathlib
import re
import shutil
import subprocess

import pytest

from conftest import ROOT, STATE

BUILD = pathlib.Path(os.environ.get("VD_BUILD_DIR") or ROOT)
UNITS = ["vdispatch-tickets@1.0.1.service", "vdispatch-tickets@1.0.1.socket",
         "vdispatch-replyfeed@1.0.0.service",
         "vdispatch-replyfeed@1.0.0.socket", "vdispatch-ferretdb.service",
         "vdispatch.target"]


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    """make install into a fresh prefix, with vd-ferretdb when it is built."""
    if subprocess.run(["which", "systemd-analyze"], capture_output=True,
                      check=False).returncode != 0:
        pytest.fail("systemd-analyze is missing (Debian: apt-get install systemd)")
    top = tmp_path_factory.mktemp("install")
    args = ["make", "-C", str(BUILD), "install", f"prefix={top}/usr",
            f"sysconfdir={top}/etc",
            f"systemdsystemunitdir={top}/usr/lib/systemd/system"]
    ferretdb = STATE / "bin" / "vd-ferretdb"
    if ferretdb.is_file():
        args.append(f"FERRETDB={ferretdb}")
    res = subprocess.run(args, capture_output=True, text=True, timeout=300,
                         check=False)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
    return top


def verify(unitdir, unit, top):
    env = dict(os.environ, MANPATH=str(top / "usr" / "share" / "man"))
    return subprocess.run(["systemd-analyze", "verify", unit], cwd=unitdir,
                          env=env, capture_output=True, text=True,
                          timeout=60, check=False)


def test_every_command_line_names_installed_programs(tree):
    """verify checks only the first word; the responder after multiwatch's
    -- and the files given as arguments are checked here."""
    unitdir = tree / "usr" / "lib" / "systemd" / "system"
    for unit in unitdir.glob("vdispatch*.service"):
        for line in unit.read_text().splitlines():
            if not line.startswith(("ExecStart=", "ExecStartPre=")):
                continue
            for word in line.split("=", 1)[1].lstrip("+-").split():
                if word.startswith(str(tree)):
                    if unit.name == "vdispatch-ferretdb.service" and \
                            word.endswith("vd-ferretdb") and \
                            not (STATE / "bin" / "vd-ferretdb").is_file():
                        continue
                    assert pathlib.Path(word).exists(), (unit.name, word)


@pytest.mark.parametrize("unit", UNITS)
def test_unit_verifies(tree, unit):
    if unit == "vdispatch-ferretdb.service" and \
            not (STATE / "bin" / "vd-ferretdb").is_file():
        pytest.skip("vd-ferretdb is not built (MONGODB_URI stack)")
    res = verify(tree / "usr" / "lib" / "systemd" / "system", unit, tree)
    assert res.returncode == 0 and res.stdout + res.stderr == "", \
        res.stdout + res.stderr


def test_units_have_real_paths_and_sandbox(tree):
    text = (tree / "usr" / "lib" / "systemd" / "system" /
            "vdispatch-tickets@.service").read_text()
    assert not re.search(r"@[A-Z_]+@", text), "a placeholder was left"
    assert f"-- {tree}/usr/bin/tickets.fcgi --api-version %i" in text
    for line in ("StandardInput=socket", "ProtectSystem=strict",
                 "NoNewPrivileges=yes", "CapabilityBoundingSet=",
                 "SystemCallFilter=@system-service", "Restart=on-failure",
                 f"EnvironmentFile={tree}/etc/vdispatch/vdispatch.env",
                 "User=vdispatch"):
        assert line in text.splitlines(), line


def test_a_broken_unit_fails_verification(tree, tmp_path):
    unitdir = tree / "usr" / "lib" / "systemd" / "system"
    good = (unitdir / "vdispatch-tickets@.service").read_text()
    (tmp_path / "vdispatch-tickets@.service").write_text(
        good.replace("ExecStart=/usr/bin/multiwatch",
                     "ExecStart=/usr/bin/no-such-multiwatch")
        .replace("KillMode=mixed", "KillMode=mixd"))
    (tmp_path / "vdispatch-tickets@.socket").write_text(
        (unitdir / "vdispatch-tickets@.socket").read_text())
    res = verify(tmp_path, "vdispatch-tickets@1.0.1.service", tree)
    assert res.returncode != 0 and "no-such-multiwatch" in res.stderr \
        and "mixd" in res.stderr, res.stderr


def test_generator_makes_instances_from_services_conf(tree, tmp_path):
    conf = tmp_path / "services.conf"
    conf.write_text("# comment\n"
                    "tickets   1.0.0 2\n"
                    "tickets   1.0.1 3 --fail-rate 0.5   # the article's\n"
                    "replyfeed 1.0.0 1 --keep 50%\n"
                    "nosuch    1.0.0 1\n"
                    "tickets   one   1\n"
                    "tickets   1.0.2 0\n")
    out = tmp_path / "out"
    out.mkdir()
    gen = tree / "usr" / "lib" / "systemd" / "system-generators" / \
        "vdispatch-generator"
    res = subprocess.run([str(gen), str(out), str(out), str(out)],
                         env=dict(os.environ, VD_SERVICES_CONF=str(conf)),
                         capture_output=True, text=True, timeout=30,
                         check=False)
    assert res.returncode == 0, res.stderr
    wants = sorted(p.name for p in (out / "vdispatch.target.wants").iterdir())
    assert wants == ["vdispatch-replyfeed@1.0.0.service",
                     "vdispatch-tickets@1.0.0.service",
                     "vdispatch-tickets@1.0.1.service"]
    link = out / "vdispatch.target.wants" / "vdispatch-tickets@1.0.1.service"
    assert os.readlink(link) == \
        f"{tree}/usr/lib/systemd/system/vdispatch-tickets@.service"
    dropin = (out / "vdispatch-tickets@1.0.1.service.d" /
              "50-services-conf.conf").read_text()
    assert 'Environment="VD_WORKERS=3" "VD_FLAGS=--fail-rate 0.5"' in dropin
    feed = (out / "vdispatch-replyfeed@1.0.0.service.d" /
            "50-services-conf.conf").read_text()
    assert '"VD_FLAGS=--keep 50%%"' in feed  # % escaped for systemd
    for word in ("unknown service 'nosuch'", "'one' is not a version",
                 "bad worker count '0'"):
        assert word in res.stderr, res.stderr


def test_nginx_file_drops_into_debians_nginx_conf(tree, tmp_path):
    """The installed conf.d/vdispatch.conf, in a copy of Debian's own
    /etc/nginx (nginx.conf, mime.types, fastcgi_params, sites-enabled),
    passes nginx -t; relocated are only the copy's own paths and the
    access log's directory (not to create files on this machine)."""
    etc = pathlib.Path("/etc/nginx")
    if not (etc / "nginx.conf").is_file():
        pytest.fail("Debian's nginx is not installed (apt-get install nginx-light)")
    copy = tmp_path / "nginx"
    shutil.copytree(etc, copy, symlinks=False, ignore_dangling_symlinks=True)
    for conf in [copy / "nginx.conf", *copy.glob("modules-enabled/*.conf")]:
        text = conf.read_text().replace("/etc/nginx/", f"{copy}/")
        conf.write_text(text.replace("/run/nginx.pid", f"{tmp_path}/nginx.pid")
                        .replace("/var/log/nginx/", f"{tmp_path}/"))
    ours = (tree / "etc" / "nginx" / "conf.d" / "vdispatch.conf").read_text()
    assert "/run/vdispatch/sockets/tickets-1.0.1.sock" in ours
    assert f"root {tree}/usr/share/vdispatch/www;" in ours
    (copy / "conf.d" / "vdispatch.conf").write_text(
        ours.replace("/var/log/nginx/", f"{tmp_path}/"))
    res = subprocess.run(["nginx", "-t", "-c",
                          str(copy / "nginx.conf")], capture_output=True,
                         text=True, timeout=30, check=False)
    assert res.returncode == 0, res.stderr
    assert "test is successful" in res.stderr
    # And nginx -t does fail on a broken file there.
    (copy / "conf.d" / "vdispatch.conf").write_text(ours + "\nbroken;\n")
    res = subprocess.run(["nginx", "-t", "-c",
                          str(copy / "nginx.conf")], capture_output=True,
                         text=True, timeout=30, check=False)
    assert res.returncode != 0
