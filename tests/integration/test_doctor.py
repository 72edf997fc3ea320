"""postern doctor (SPEC 9) against a real unbound serving test zones
(dnsfixture.Unbound with the zones below added): each of the ten checks
seen ok and seen warn or fail, the exit codes 0/1/2, the --json structure,
and a resolver that never answers (fail `resolver`, no hang).

Domains:
  good.test  everything right: MX, A, PTR, SPF, DKIM (key made here),
             DMARC, certificate from a CA of the test (SSL_CERT_FILE)
  warn.test  PTR confirmed but another name, no DKIM key, no DMARC,
             certificate expiring in 5 days: warnings only
  bad.test   MX elsewhere, A not the server's, no PTR, SPF without the
             server, another DKIM key, two DMARC records, listed in the
             DBL, server address 127.0.0.2 (zen's test point), self-signed
             certificate
"""

import base64
import json
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from conftest import POSTERN_BIN, SLOW
from dnsfixture import ZONES, BlackholeDNS, Unbound

CHECKS = ["mx", "address", "ptr", "spf", "dkim", "dmarc", "zen", "dbl", "resolver",
          "certificate"]


def openssl(*args, data=None):
    r = subprocess.run(["openssl", *args], input=data, capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr.decode()
    return r.stdout


def dkim_key(directory, name):
    """An RSA key file and the p= of its record."""
    path = Path(directory) / ("%s.key" % name)
    openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048",
            "-out", str(path))
    der = openssl("pkey", "-in", str(path), "-pubout", "-outform", "DER")
    return path, base64.b64encode(der).decode()


def txt(name, text):
    """unbound local-data for a TXT record, cut into 255-octet strings."""
    parts = " ".join('"%s"' % text[i:i + 255] for i in range(0, len(text), 255))
    return "    local-data: '%s. 300 IN TXT %s'\n" % (name, parts)


class Certs:
    """A CA of the test and certificates it signs (or not)."""

    def __init__(self, directory):
        self.dir = Path(directory)
        self.ca_key, self.ca = self.dir / "ca.key", self.dir / "ca.pem"
        openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=Doctor Test CA",
                "-days", "30", "-keyout", str(self.ca_key), "-out", str(self.ca))

    def leaf(self, name, host, days=90, self_signed=False):
        key, csr, cert = (self.dir / ("tls-" + name + ext) for ext in (".key", ".csr", ".pem"))
        ext = self.dir / ("tls-" + name + ".ext")
        ext.write_text("subjectAltName=DNS:%s\n" % host)
        if self_signed:
            openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=" + host,
                    "-addext", "subjectAltName=DNS:" + host, "-days", str(days),
                    "-keyout", str(key), "-out", str(cert))
            return cert, key
        openssl("req", "-new", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=" + host,
                "-keyout", str(key), "-out", str(csr))
        openssl("x509", "-req", "-in", str(csr), "-CA", str(self.ca), "-CAkey",
                str(self.ca_key), "-CAcreateserial", "-days", str(days), "-extfile", str(ext),
                "-out", str(cert))
        return cert, key


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    d = tmp_path_factory.mktemp("doctor")
    good_key, good_p = dkim_key(d, "good")
    _, other_p = dkim_key(d, "other")
    certs = Certs(d)
    zones = ZONES + r'''
    local-zone: "good.test." static
    local-data: "good.test. 300 IN MX 10 mx.good.test."
    local-data: "mx.good.test. 300 IN A 127.0.0.40"
    local-data: "40.0.0.127.in-addr.arpa. 300 IN PTR mx.good.test."
    local-data: "41.0.0.127.in-addr.arpa. 300 IN PTR mx.good.test."
''' + txt("good.test", "v=spf1 ip4:127.0.0.40 -all") \
        + txt("s1._domainkey.good.test", "v=DKIM1; k=rsa; p=" + good_p) \
        + txt("_dmarc.good.test", "v=DMARC1; p=reject; rua=mailto:postmaster@good.test") \
        + txt("_mta-sts.good.test", "v=STSv1; id=20240101") \
        + txt("_smtp._tls.good.test", "v=TLSRPTv1; rua=mailto:postmaster@good.test") + r'''
    local-zone: "warn.test." static
    local-data: "warn.test. 300 IN MX 10 mx.warn.test."
    local-data: "mx.warn.test. 300 IN A 127.0.0.42"
    local-data: "42.0.0.127.in-addr.arpa. 300 IN PTR host42.isp.test."
    local-zone: "isp.test." static
    local-data: "host42.isp.test. 300 IN A 127.0.0.42"
''' + txt("warn.test", "v=spf1 mx -all") + r'''
    local-zone: "bad.test." static
    local-data: "bad.test. 300 IN MX 10 other.bad.test."
    local-data: "mx.bad.test. 300 IN A 127.0.0.43"
    local-data: "bad.test.dbl.spamhaus.org. 300 IN A 127.0.1.2"
''' + txt("bad.test", "v=spf1 ip4:192.0.2.1 -all") \
        + txt("s1._domainkey.bad.test", "v=DKIM1; k=rsa; p=" + other_p) \
        + txt("_dmarc.bad.test", "v=DMARC1; p=none") \
        + txt("_dmarc.bad.test", "v=DMARC1; p=reject") + r'''
    local-zone: "nospf.test." static
    local-data: "nospf.test. 300 IN MX 10 mx.good.test."
    local-zone: "v6.test." static
    local-data: "v6.test. 300 IN MX 10 mx.v6.test."
    local-data: "mx.v6.test. 300 IN A 192.0.2.25"
    local-data: "mx.v6.test. 300 IN AAAA 2001:db8::25"
    local-zone: "2.0.192.in-addr.arpa." static
    local-data: "25.2.0.192.in-addr.arpa. 300 IN PTR mx.v6.test."
    local-zone: "8.b.d.0.1.0.0.2.ip6.arpa." static
    local-data: "5.2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa. 300 IN PTR mx.v6.test."
    local-data: "6.2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa. 300 IN PTR mx.v6.test."
''' + txt("v6.test", "v=spf1 ip4:192.0.2.25 ip6:2001:db8::25 -all")
    u = Unbound(d / "unbound", zones=zones).start()
    e = {
        "dir": d, "dns": u, "good_key": good_key, "certs": certs,
        "good_cert": certs.leaf("good", "mx.good.test"),
        "warn_cert": certs.leaf("warn", "mx.warn.test", days=5),
        "bad_cert": certs.leaf("bad", "mx.bad.test", self_signed=True),
        "wrong_cert": certs.leaf("wrong", "www.good.test"),
    }
    yield e
    u.stop()


def write_conf(env, name, domains, hostname, extra=""):
    path = env["dir"] / (name + ".conf")
    path.write_text("hostname = %s\ndomains = %s\ndata_dir = %s\ndns_servers = %s\n"
                    "dnsbl_timeout = 2s\n%s" % (hostname, domains, env["dir"] / (name + "-var"),
                                                env["dns"].address, extra))
    return path


def good_conf(env, extra=""):
    cert, key = env["good_cert"]
    return write_conf(env, "good", "good.test", "mx.good.test",
                      "public_ip = 127.0.0.40\ndkim_selector = s1\ndkim_key = %s\n"
                      "tls_cert = %s\ntls_key = %s\n%s" % (env["good_key"], cert, key, extra))


def doctor(env, conf, *args, json_out=True, timeout=60):
    e = dict(os.environ, SSL_CERT_FILE=str(env["certs"].ca))
    cmd = [POSTERN_BIN, "doctor", "-c", str(conf), *args] + (["--json"] if json_out else [])
    r = subprocess.run(cmd, capture_output=True, text=True, env=e, timeout=timeout * SLOW)
    assert "runtime error" not in r.stderr and "Sanitizer" not in r.stderr, r.stderr
    if json_out:
        assert r.stdout.count("\n") == 1, r.stdout
        return r.returncode, json.loads(r.stdout)
    return r.returncode, r.stdout


def by_name(report):
    out = {}
    for c in report["checks"]:
        out.setdefault(c["name"], []).append(c)
    return out


def status(report, name, domain=None):
    found = [c["status"] for c in report["checks"]
             if c["name"] == name and (domain is None or c.get("domain") == domain)]
    assert len(found) == 1, (name, report["checks"])
    return found[0]


def test_healthy_server_all_ok_exit_0(env):
    rc, rep = doctor(env, good_conf(env))
    assert {c["name"]: c["status"] for c in rep["checks"]} == {n: "ok" for n in CHECKS}, \
        json.dumps(rep, indent=1)
    assert rc == 0
    assert rep["ips"] == ["127.0.0.40"] and rep["ips_from"] == "public_ip"


def test_json_structure(env):
    rc, rep = doctor(env, good_conf(env))
    assert set(rep) >= {"checks", "notes"}
    assert [c["name"] for c in rep["checks"]] == CHECKS     # SPEC order, one each here
    per_domain = {"mx", "spf", "dkim", "dmarc", "dbl"}
    for c in rep["checks"]:
        assert set(c) >= {"name", "status", "detail", "fix"}
        assert c["status"] in ("ok", "warn", "fail")
        assert isinstance(c["detail"], str) and c["detail"]
        assert isinstance(c["fix"], str)
        assert ("domain" in c) == (c["name"] in per_domain), c
        if "domain" in c:
            assert c["domain"] == "good.test"
    for n in rep["notes"]:
        assert n["name"] not in CHECKS
        assert set(n) >= {"name", "status", "detail", "fix"}
    # the MTA-STS and TLS-RPT records are seen, as notes
    notes = {n["name"]: n["status"] for n in rep["notes"]}
    assert notes.get("mta-sts") == "ok" and notes.get("tls-rpt") == "ok", rep["notes"]


def test_text_output_one_line_per_check(env):
    rc, out = doctor(env, good_conf(env), json_out=False)
    assert rc == 0
    lines = out.splitlines()
    for name in CHECKS:
        mine = [l for l in lines if re.match(r"ok +%s[ :]" % name, l)]
        assert len(mine) == 1, (name, out)
    assert lines[-1] == "doctor: 10 ok, 0 warn, 0 fail"


def test_addresses_from_hostname_without_ip_or_public_ip(env):
    cert, key = env["good_cert"]
    conf = write_conf(env, "good-noip", "good.test", "mx.good.test",
                      "dkim_selector = s1\ndkim_key = %s\ntls_cert = %s\ntls_key = %s\n"
                      % (env["good_key"], cert, key))
    rc, rep = doctor(env, conf)
    assert rep["ips"] == ["127.0.0.40"] and rep["ips_from"] == "hostname"
    assert rc == 0, json.dumps(rep, indent=1)


def test_warnings_only_exit_1(env):
    cert, key = env["warn_cert"]
    conf = write_conf(env, "warn", "warn.test", "mx.warn.test",
                      "public_ip = 127.0.0.42\ntls_cert = %s\ntls_key = %s\n" % (cert, key))
    rc, rep = doctor(env, conf)
    got = {c["name"]: c for c in rep["checks"]}
    assert {n: c["status"] for n, c in got.items()} == {
        "mx": "ok", "address": "ok", "ptr": "warn", "spf": "ok", "dkim": "warn",
        "dmarc": "warn", "zen": "ok", "dbl": "ok", "resolver": "ok",
        "certificate": "warn"}, json.dumps(rep, indent=1)
    assert rc == 1
    assert "host42.isp.test" in got["ptr"]["detail"]
    assert "mx.warn.test" in got["ptr"]["fix"]
    assert "expires in" in got["certificate"]["detail"]
    assert "_dmarc.warn.test" in got["dmarc"]["fix"]
    assert "dkim keygen" in got["dkim"]["fix"]


def test_everything_wrong_exit_2(env):
    cert, key = env["bad_cert"]
    conf = write_conf(env, "bad", "bad.test", "mx.bad.test",
                      "public_ip = 127.0.0.44\ndkim_selector = s1\ndkim_key = %s\n"
                      "tls_cert = %s\ntls_key = %s\n" % (env["good_key"], cert, key))
    # --ip wins over public_ip, and a loopback address is checked as given
    rc, rep = doctor(env, conf, "--ip", "127.0.0.2")
    assert rep["ips"] == ["127.0.0.2"] and rep["ips_from"] == "--ip"
    got = {c["name"]: c for c in rep["checks"]}
    assert {n: c["status"] for n, c in got.items()} == {
        "mx": "fail", "address": "fail", "ptr": "fail", "spf": "fail", "dkim": "fail",
        "dmarc": "fail", "zen": "fail", "dbl": "fail", "resolver": "ok",
        "certificate": "fail"}, json.dumps(rep, indent=1)
    assert rc == 2
    assert "other.bad.test" in got["mx"]["detail"]
    assert "bad.test. IN MX 10 mx.bad.test." in got["mx"]["fix"]
    assert "127.0.0.43" in got["address"]["detail"]
    assert "2.0.0.127.in-addr.arpa. IN PTR mx.bad.test." in got["ptr"]["fix"]
    assert "ip4:127.0.0.2" in got["spf"]["fix"]
    assert "not the public half" in got["dkim"]["detail"]
    # zen: each list named, Spamhaus's lookup and removal link in fix
    for lst in ("SBL", "XBL", "PBL"):
        assert lst in got["zen"]["detail"] and lst in got["zen"]["fix"]
    assert "https://check.spamhaus.org/" in got["zen"]["fix"]
    assert got["zen"]["ip"] == "127.0.0.2"
    assert "https://check.spamhaus.org/" in got["dbl"]["fix"]
    assert "self-signed" in got["certificate"]["detail"]


def test_zen_pbl_only_and_error_codes(env):
    conf = good_conf(env)
    rc, rep = doctor(env, conf, "--ip", "127.0.0.10")
    zen = [c for c in rep["checks"] if c["name"] == "zen"][0]
    assert zen["status"] == "fail"
    assert "PBL listed" in zen["detail"] and "SBL not listed" in zen["detail"]
    assert "127.0.0.10" in zen["fix"] and "https://check.spamhaus.org/" in zen["fix"]
    # 127.0.0.20 answers 127.255.255.254: an error, not a listing
    rc, rep = doctor(env, conf, "--ip", "127.0.0.20")
    zen = [c for c in rep["checks"] if c["name"] == "zen"][0]
    assert zen["status"] == "warn" and "127.255.255.254" in zen["detail"]


def test_ptr_names_hostname_but_not_confirmed(env):
    # fixture: 127.0.0.31 -> mx.listed-ptr.test, which resolves to .30 only
    conf = write_conf(env, "ptr", "good.test", "mx.listed-ptr.test")
    rc, rep = doctor(env, conf, "--ip", "127.0.0.31")
    ptr = [c for c in rep["checks"] if c["name"] == "ptr"][0]
    assert ptr["status"] == "fail"
    assert "does not resolve" in ptr["detail"]
    assert "mx.listed-ptr.test. IN A 127.0.0.31" in ptr["fix"]


def test_one_ptr_and_zen_line_per_address(env):
    rc, rep = doctor(env, good_conf(env), "--ip", "127.0.0.40", "--ip", "127.0.0.41")
    expect = {"ptr": ["ok", "fail"], "zen": ["ok", "ok"]}
    for name in ("ptr", "zen"):
        lines = [c for c in rep["checks"] if c["name"] == name]
        assert [c["ip"] for c in lines] == ["127.0.0.40", "127.0.0.41"]
        assert [c["status"] for c in lines] == expect[name], lines
    # 127.0.0.41 has the PTR mx.good.test, but no A record leads back to it
    ptr = [c for c in rep["checks"] if c["name"] == "ptr"][1]
    assert "does not resolve to 127.0.0.41" in ptr["detail"]
    assert status(rep, "address") == "warn"
    assert rc == 2


def test_ipv6_addresses_checked_like_ipv4(env):
    conf = write_conf(env, "v6", "v6.test", "mx.v6.test",
                      "public_ip = 2001:DB8::25 192.0.2.25\n")
    rc, rep = doctor(env, conf)
    assert rep["ips"] == ["2001:db8::25", "192.0.2.25"]
    for name in ("mx", "address", "spf", "dbl", "resolver"):
        assert status(rep, name) == "ok", json.dumps(rep, indent=1)
    ptr = [c for c in rep["checks"] if c["name"] == "ptr"]
    assert [(c["ip"], c["status"]) for c in ptr] == [("2001:db8::25", "ok"),
                                                     ("192.0.2.25", "ok")]
    zen = [c for c in rep["checks"] if c["name"] == "zen"]
    assert [(c["ip"], c["status"]) for c in zen] == [("2001:db8::25", "ok"),
                                                     ("192.0.2.25", "ok")]
    # an IPv6 address the SPF record does not name, whose PTR does not lead back
    rc, rep = doctor(env, conf, "--ip", "2001:db8::26")
    assert status(rep, "spf") == "fail" and "ip6:2001:db8::26" in \
        [c for c in rep["checks"] if c["name"] == "spf"][0]["fix"]
    ptr = [c for c in rep["checks"] if c["name"] == "ptr"][0]
    assert ptr["status"] == "fail" and "mx.v6.test. IN AAAA 2001:db8::26" in ptr["fix"]


def test_no_spf_record_is_fail(env):
    conf = write_conf(env, "nospf", "nospf.test", "mx.good.test", "public_ip = 127.0.0.40\n")
    rc, rep = doctor(env, conf)
    spf = [c for c in rep["checks"] if c["name"] == "spf"][0]
    assert spf["status"] == "fail" and "no SPF record" in spf["detail"]
    assert 'nospf.test. IN TXT "v=spf1 ip4:127.0.0.40 -all"' in spf["fix"]
    assert status(rep, "mx") == "ok"
    assert rc == 2


def test_certificate_missing_or_wrong_name(env):
    rc, rep = doctor(env, write_conf(env, "nocert", "good.test", "mx.good.test",
                                     "public_ip = 127.0.0.40\n"))
    cert = [c for c in rep["checks"] if c["name"] == "certificate"][0]
    assert cert["status"] == "fail" and "tls_cert" in cert["detail"]
    c, k = env["wrong_cert"]
    rc, rep = doctor(env, write_conf(env, "wrongcert", "good.test", "mx.good.test",
                                     "public_ip = 127.0.0.40\ntls_cert = %s\ntls_key = %s\n"
                                     % (c, k)))
    cert = [c for c in rep["checks"] if c["name"] == "certificate"][0]
    assert cert["status"] == "fail"
    assert "www.good.test" in cert["detail"] and "mx.good.test" in cert["detail"]


def test_certificate_from_acme(env):
    """acme_email without tls_cert: the certificate ACME keeps in
    <data_dir>/acme/cert.pem is the one checked."""
    conf = write_conf(env, "acme", "good.test", "mx.good.test",
                      "public_ip = 127.0.0.40\nacme_email = admin@good.test\n")
    rc, rep = doctor(env, conf)
    cert = [c for c in rep["checks"] if c["name"] == "certificate"][0]
    assert cert["status"] == "fail" and "acme_email" in cert["detail"], cert
    acme = env["dir"] / "acme-var" / "acme"
    acme.mkdir(parents=True)
    shutil.copy(env["good_cert"][0], acme / "cert.pem")
    rc, rep = doctor(env, conf)
    assert status(rep, "certificate") == "ok", rep["checks"]


def test_certificate_untrusted_without_ssl_cert_file(env):
    """Without SSL_CERT_FILE the system store is used: the test CA is not in it."""
    e = {k: v for k, v in os.environ.items() if k != "SSL_CERT_FILE"}
    r = subprocess.run([POSTERN_BIN, "doctor", "-c", str(good_conf(env)), "--json"],
                       capture_output=True, text=True, env=e, timeout=60 * SLOW)
    rep = json.loads(r.stdout)
    assert status(rep, "certificate") == "fail"
    assert r.returncode == 2


def test_resolver_error_codes_fail(env):
    conf = good_conf(env, "dnsbl_ip_zone = zen-broken.test\n"
                          "dnsbl_domain_zone = dbl-broken.test\n")
    rc, rep = doctor(env, conf)
    res = [c for c in rep["checks"] if c["name"] == "resolver"][0]
    assert res["status"] == "fail"
    assert "127.255.255.254" in res["detail"]
    assert "zen-broken.test" in res["detail"] and "dbl-broken.test" in res["detail"]
    assert "spamhaus_dqs_key" in res["fix"]
    # the listings cannot be trusted: zen and dbl say so, not "ok"
    assert status(rep, "zen") == "warn" and status(rep, "dbl") == "warn"
    assert rc == 2


def test_unanswering_resolver_fails_without_hanging(env):
    hole = BlackholeDNS()
    try:
        conf = good_conf(env).with_name("hole.conf")
        text = good_conf(env).read_text().replace(env["dns"].address, hole.address)
        conf.write_text(text.replace("dnsbl_timeout = 2s", "dnsbl_timeout = 1s"))
        start = time.monotonic()
        rc, rep = doctor(env, conf, timeout=30)
        elapsed = time.monotonic() - start
    finally:
        hole.close()
    assert rc == 2
    assert status(rep, "resolver") == "fail"
    assert status(rep, "mx") == "fail"
    # each lookup is bounded by dnsbl_timeout, the whole run by a few of them
    assert elapsed < 12 * SLOW, elapsed


def test_bad_arguments(env):
    conf = good_conf(env)
    r = subprocess.run([POSTERN_BIN, "doctor", "-c", str(conf), "--ip", "not-an-ip"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 2 and "not-an-ip" in r.stderr and r.stdout == ""
    r = subprocess.run([POSTERN_BIN, "doctor", "-c", str(env["dir"] / "missing.conf")],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 2 and "missing.conf" in r.stderr
