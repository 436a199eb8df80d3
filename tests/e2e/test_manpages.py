"""The manual pages: installed by make install, clean for mandoc's linter,
every public function of vdispatch.h described in vdispatch(3); and the
programs' --help and --version, as GNU's conventions have them."""

import re
import subprocess

import pytest

from conftest import BINDIR, ROOT, STATE

PAGES = {"dispatch.1": "man1", "vdispatch.3": "man3",
         "vdispatch.conf.5": "man5", "tickets.fcgi.8": "man8",
         "replyfeed.fcgi.8": "man8"}
PREFIX = BINDIR.parent


def package_version():
    text = (ROOT / "configure.ac").read_text()
    return re.search(r"AC_INIT\(\[vdispatch\], \[([^]]+)\]", text).group(1)


@pytest.mark.parametrize("page", sorted(PAGES))
def test_page_is_installed_and_lint_clean(page):
    installed = PREFIX / "share" / "man" / PAGES[page] / page
    assert installed.is_file(), installed
    assert installed.read_bytes() == (ROOT / "man" / page).read_bytes()
    res = subprocess.run(["mandoc", "-T", "lint", "-W", "warning",
                          str(installed)], capture_output=True, text=True,
                         timeout=30, check=False)
    assert res.returncode == 0 and res.stdout + res.stderr == "", \
        res.stdout + res.stderr


def test_every_public_function_is_in_vdispatch_3():
    header = (ROOT / "src" / "libdispatch" / "vdispatch.h").read_text()
    functions = re.findall(r"^VD_EXPORT\s[^;(]*?\b(vd_\w+)\(", header,
                           re.M)
    assert len(functions) > 40
    page = (ROOT / "man" / "vdispatch.3").read_text()
    missing = [f for f in functions
               if len(re.findall(r"^\.Fn %s\b" % f, page, re.M)) < 2]
    # In the synopsis and again where it is described.
    assert missing == []


@pytest.mark.parametrize("program", ["dispatch", "tickets.fcgi",
                                     "replyfeed.fcgi"])
def test_help_and_version(program):
    path = str(BINDIR / program)
    res = subprocess.run([path, "--version"], capture_output=True,
                         text=True, timeout=30, check=False,
                         stdin=subprocess.DEVNULL)
    assert res.returncode == 0, res.stderr
    assert res.stdout == "%s (vdispatch) %s\n" % (program, package_version())
    res = subprocess.run([path, "--help"], capture_output=True, text=True,
                         timeout=30, check=False, stdin=subprocess.DEVNULL)
    assert res.returncode == 0, res.stderr
    assert re.match(r"(?i)usage: " + re.escape(program), res.stdout)
    assert "--version" in res.stdout and "--help" in res.stdout
