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

from conftest import build_c_driver
import yaml

from suitedns import SuiteDNS

REPO = Path(__file__).resolve().parents[2]
SUITE = Path(__file__).resolve().parent / "rfc7208" / "rfc7208-tests.yml"
TIMEOUT_MS = 5000


def load_sections():
    with open(SUITE, "rb") as f:
        return list(yaml.safe_load_all(f))


SECTIONS = load_sections()
CASES = [(i, name) for i, s in enumerate(SECTIONS) for name in s["tests"]]


@pytest.fixture(scope="module")
def driver(tmp_path_factory):
    return build_c_driver(tmp_path_factory, "spfsuite")


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
