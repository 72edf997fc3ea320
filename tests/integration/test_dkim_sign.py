"""postern dkim keygen|record: the key file (mode 0600, never overwritten
without --force), and the DNS TXT records printed for every domain, whose
p= must be the public half of the key written (checked with the openssl
command line tool, independently of postern's code)."""

import base64
import os
import re
import shutil
import stat
import subprocess
import time

import pytest

from conftest import POSTERN_BIN, SLOW

OPENSSL = shutil.which("openssl")
RECORD_RE = re.compile(r'^(\S+)\._domainkey\.(\S+)\. IN TXT \((( "[^"]*")+) \)$')


def run(*args, timeout=60):
    return subprocess.run([POSTERN_BIN] + list(args), capture_output=True, text=True,
                          timeout=timeout * SLOW)


def write_conf(directory, *lines):
    conf = directory / "postern.conf"
    conf.write_text("\n".join(lines) + "\n")
    return conf


def records(stdout):
    """{(selector, domain): record text} from keygen's output; checks the
    character-strings are at most 255 octets."""
    out = {}
    for line in stdout.splitlines():
        m = RECORD_RE.match(line)
        if not m:
            continue
        strings = re.findall(r'"([^"]*)"', m.group(3))
        assert all(0 < len(s) <= 255 for s in strings), line
        out[(m.group(1), m.group(2))] = "".join(strings)
    return out


def tags(record):
    return dict(t.strip().split("=", 1) for t in record.split(";") if t.strip())


def public_der(key_path):
    """The DER SubjectPublicKeyInfo of a private key file, by openssl."""
    r = subprocess.run([OPENSSL, "pkey", "-in", str(key_path), "-pubout", "-outform", "DER"],
                       capture_output=True, timeout=30)
    assert r.returncode == 0, r.stderr
    return r.stdout


def key_type(key_path):
    r = subprocess.run([OPENSSL, "pkey", "-in", str(key_path), "-noout", "-text"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    return r.stdout


def month_selectors():
    """The default selector now (and a moment ago, across a month's end)."""
    return {time.strftime("postern%Y%m", time.gmtime(t)) for t in (time.time() - 120, time.time())}


pytestmark = pytest.mark.skipif(OPENSSL is None, reason="the openssl tool is needed")


def test_keygen_rsa_default(tmp_path):
    conf = write_conf(tmp_path, "domains = example.test")
    r = run("dkim", "keygen", "-c", str(conf))
    assert r.returncode == 0, r.stderr
    keys = list((tmp_path / "var" / "dkim").iterdir())
    assert len(keys) == 1, keys
    key = keys[0]
    selector = key.name[:-len(".key")]
    assert key.name.endswith(".key") and selector in month_selectors(), key
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert "Private-Key: (2048 bit" in key_type(key)

    recs = records(r.stdout)
    assert list(recs) == [(selector, "example.test")], r.stdout
    t = tags(recs[(selector, "example.test")])
    assert t["v"] == "DKIM1" and t["k"] == "rsa", t
    assert base64.b64decode(t["p"]) == public_der(key)
    # p= of a 2048-bit key does not fit one character-string
    line = [l for l in r.stdout.splitlines() if RECORD_RE.match(l)][0]
    assert line.count('"') >= 4, line
    # the reminder to configure it
    assert re.search(r"dkim_selector\s*=\s*" + selector, r.stdout), r.stdout
    assert re.search(r"dkim_key\s*=\s*" + re.escape(str(key.resolve())), r.stdout), r.stdout


def test_keygen_ed25519_every_domain(tmp_path):
    conf = write_conf(tmp_path, "domains = example.test other.test")
    r = run("dkim", "keygen", "-c", str(conf), "--algorithm", "ed25519", "--selector", "ed1")
    assert r.returncode == 0, r.stderr
    key = tmp_path / "var" / "dkim" / "ed1.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert "ED25519" in key_type(key)
    recs = records(r.stdout)
    assert set(recs) == {("ed1", "example.test"), ("ed1", "other.test")}, r.stdout
    for rec in recs.values():
        t = tags(rec)
        assert t["k"] == "ed25519", t
        # RFC 8463 4.2: the bare 32-byte key, the tail of the SPKI
        assert base64.b64decode(t["p"]) == public_der(key)[-32:]


def test_keygen_configured_path_and_selector(tmp_path):
    conf = write_conf(tmp_path, "domains = example.test", "dkim_selector = mail2024",
                      "dkim_key = keys/signing.key")
    r = run("dkim", "keygen", "-c", str(conf), "--bits", "1024")
    assert r.returncode == 0, r.stderr
    key = tmp_path / "keys" / "signing.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert "Private-Key: (1024 bit" in key_type(key)
    recs = records(r.stdout)
    assert list(recs) == [("mail2024", "example.test")], r.stdout
    assert base64.b64decode(tags(recs[("mail2024", "example.test")])["p"]) == public_der(key)
    assert "dkim_key" in r.stdout and "dkim_selector" in r.stdout
    assert not (tmp_path / "var" / "dkim").exists()

    # `dkim record` prints the same records for the key in place
    r2 = run("dkim", "record", "-c", str(conf))
    assert r2.returncode == 0, r2.stderr
    assert records(r2.stdout) == recs


def test_keygen_refuses_to_overwrite(tmp_path):
    conf = write_conf(tmp_path, "domains = example.test")
    r = run("dkim", "keygen", "-c", str(conf), "--selector", "s1", "--algorithm", "ed25519")
    assert r.returncode == 0, r.stderr
    key = tmp_path / "var" / "dkim" / "s1.key"
    before = key.read_bytes()

    r = run("dkim", "keygen", "-c", str(conf), "--selector", "s1")
    assert r.returncode != 0
    assert "exists" in r.stderr and "--force" in r.stderr, r.stderr
    assert records(r.stdout) == {}
    assert key.read_bytes() == before

    r = run("dkim", "keygen", "-c", str(conf), "--selector", "s1", "--force")
    assert r.returncode == 0, r.stderr
    assert key.read_bytes() != before
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert "Private-Key: (2048 bit" in key_type(key)
    rec = records(r.stdout)[("s1", "example.test")]
    assert base64.b64decode(tags(rec)["p"]) == public_der(key)
    assert sorted(p.name for p in key.parent.iterdir()) == ["s1.key"]   # no temporary left


@pytest.mark.parametrize("args", [
    ["--bits", "512"],
    ["--bits", "1023"],
    ["--bits", "lots"],
    ["--algorithm", "dsa"],
    ["--algorithm", "ed25519", "--bits", "2048"],
    ["--selector", "../escape"],
    ["--selector", "has space"],
    ["--selector"],
])
def test_keygen_bad_options(tmp_path, args):
    conf = write_conf(tmp_path, "domains = example.test")
    r = run("dkim", "keygen", "-c", str(conf), *args)
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    assert r.stderr.strip() and "unknown command" not in r.stderr, r.stderr
    assert not (tmp_path / "var" / "dkim").exists() or not any((tmp_path / "var" / "dkim").iterdir())
    assert not (tmp_path / "escape.key").exists()


def test_usage_and_bad_config(tmp_path):
    assert run("dkim").returncode == 2
    assert run("dkim", "nonsense").returncode == 2
    bad = write_conf(tmp_path, "hostname = mx.example.test")     # no domains
    r = run("dkim", "keygen", "-c", str(bad))
    assert r.returncode == 1, r.stderr
    assert "domains" in r.stderr
    assert not (tmp_path / "var").exists()
    # record without a key
    good = write_conf(tmp_path, "domains = example.test")
    r = run("dkim", "record", "-c", str(good), "--selector", "none")
    assert r.returncode == 1
    assert "none.key" in r.stderr
