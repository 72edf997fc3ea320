"""The RFC 7208 conformance suite (openspf, as pyspf ships it: see
rfc7208/LICENSE) against postern's SPF code on its real resolver.

Each section of the suite brings its own DNS data: suitedns.py serves it on
loopback and libunbound forwards there. A small C driver (spfsuite.c,
built against the library like authcheck.c) runs all the section's cases
through spf_check_start() and prints one result per case. Every case is
one pytest item; a case lists one result or several acceptable ones.
Explanations (exp=) are not compared: postern ignores exp= (SPEC 5.2).
"""

import os
import shlex
import subprocess
from pathlib import Path

import pytest
import yaml

from suitedns import SuiteDNS

REPO = Path(__file__).resolve().parents[2]
SUITE = Path(__file__).resolve().parent / "rfc7208" / "rfc7208-tests.yml"
PKGS = "libevent libevent_openssl libevent_pthreads openssl libsodium libunbound libpsl"
TIMEOUT_MS = 5000


def load_sections():
    with open(SUITE, "rb") as f:
        return list(yaml.safe_load_all(f))


SECTIONS = load_sections()
CASES = [(i, name) for i, s in enumerate(SECTIONS) for name in s["tests"]]


def build_dir():
    """build/, or the directory of POSTERN_BIN when it holds a library."""
    binpath = os.environ.get("POSTERN_BIN")
    if binpath:
        d = Path(binpath)
        if not d.is_absolute():
            d = REPO / d
        if (d.parent / "libpostern.a").exists():
            return d.parent
    return REPO / "build"


@pytest.fixture(scope="module")
def driver(tmp_path_factory):
    bdir = build_dir()
    lib = bdir / "libpostern.a"
    if not lib.exists():
        pytest.fail("%s is missing: run make first" % lib)
    out = tmp_path_factory.mktemp("spfsuite") / "spfsuite"
    flags = subprocess.run(["pkg-config", "--cflags", "--libs"] + PKGS.split(),
                           capture_output=True, text=True, check=True).stdout.split()
    cc, extra = "cc", []
    if "asan" in bdir.name:
        cc, extra = "clang", ["-fsanitize=address,undefined", "-fno-omit-frame-pointer", "-g"]
    cmd = [cc, "-std=c11", "-D_GNU_SOURCE", "-Wall", "-Wextra", "-Werror",
           "-Wno-unused-parameter", "-I" + str(REPO / "src"), *extra,
           str(REPO / "tests/integration/spfsuite.c"), str(lib), *flags, "-pthread",
           "-o", str(out)]
    r = subprocess.run(cmd, capture_output=True, text=True)
    assert r.returncode == 0, "driver build failed: %s\n%s" % (shlex.join(cmd), r.stderr)
    return out


def run_section(driver, section):
    """{case name: result} for every case of a section."""
    dns = SuiteDNS(section["zonedata"])
    try:
        lines = []
        for name, case in section["tests"].items():
            fields = [name, str(case["host"]), str(case["helo"]), str(case["mailfrom"])]
            assert all("\t" not in f and "\n" not in f for f in fields), fields
            lines.append("\t".join(fields))
        r = subprocess.run([str(driver), dns.address, str(TIMEOUT_MS)],
                           input="\n".join(lines) + "\n", capture_output=True,
                           text=True, timeout=60 + len(lines) * (TIMEOUT_MS / 1000 + 10))
    finally:
        dns.close()
    assert "runtime error" not in r.stderr and "Sanitizer" not in r.stderr, r.stderr
    results = dict(line.split(" ", 1) for line in r.stdout.splitlines())
    assert r.returncode == 0, "rc=%d\n%s\n%s" % (r.returncode, r.stdout, r.stderr)
    return results


@pytest.fixture(scope="module")
def results(driver):
    """Results of every section, computed once (index -> {case: result})."""
    return {}


@pytest.mark.parametrize("index,name", CASES, ids=["%s" % n for _, n in CASES])
def test_rfc7208(driver, results, index, name):
    section = SECTIONS[index]
    if index not in results:
        results[index] = run_section(driver, section)
    case = section["tests"][name]
    want = case["result"] if isinstance(case["result"], list) else [case["result"]]
    got = results[index].get(name)
    assert got in want, "%s (%s): got %s, want %s\n%s" % (
        name, section["description"], got, " or ".join(want), case.get("description", ""))


def test_suite_is_whole():
    # the file was vendored unmodified: all 203 cases of the 2014.04 release
    assert len(CASES) == 203
