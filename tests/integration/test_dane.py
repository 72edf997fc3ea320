"""Outbound DANE (RFC 7672; SPEC 12, issue 16 item 4).

With `dnssec = yes` and `dnssec_trust_anchor` naming the key of the test
zone dane.test (signed here with ldns-signzone, served by a test unbound
as an auth-zone), an MX host with secure TLSA records must present a
certificate they match, or the delivery is deferred: DANE-EE (3 1 1, the
key alone, no name check) and DANE-TA (2 0 1, a CA whose certificate the
server sends, with the name checked). TLSA records that are all unusable
(PKIX usages, RFC 7672 3.1.3) still require TLS. Insecure TLSA records (an
unsigned zone) and absent ones fall back to opportunistic TLS.

The server trusts no CA of the test (SSL_CERT_FILE names an unrelated
one): what authenticates the MX is DANE alone.
"""

import hashlib
import shutil
import socket
import ssl
import subprocess

import pytest

from conftest import queue_id, simple_message, token
from dnsfixture import Unbound
from smtpsink import SMTPSink
from testca import TestCA

pytestmark = pytest.mark.skipif(shutil.which("ldns-signzone") is None,
                                reason="ldns-signzone missing (Debian ldnsutils, scripts/deps)")

SENDER = "bob@example.test"

# host: (ip, how its certificate is made, what its TLSA record says)
HOSTS = {
    "ee": ("127.0.0.181", "self", "3 1 1 own"),
    "bad": ("127.0.0.182", "self", "3 1 1 other"),
    "ta": ("127.0.0.183", "ca", "2 0 1 ca"),
    "taname": ("127.0.0.184", "ca-wrong-name", "2 0 1 ca"),
    "none": ("127.0.0.185", "self", None),
    "unusable": ("127.0.0.186", "self", "1 1 1 own"),
    "plain": ("127.0.0.187", "no-tls", "3 1 1 other"),
    "unusableplain": ("127.0.0.189", "no-tls", "1 1 1 other"),
}
IP_INSECURE = "127.0.0.188"     # mx.insecure.test: unsigned zone, a TLSA that would not match


def openssl(*args, data=None):
    r = subprocess.run(["openssl", *args], input=data, capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr.decode()
    return r.stdout


def spki_sha256(cert):
    pub = openssl("x509", "-in", str(cert), "-pubkey", "-noout")
    der = openssl("pkey", "-pubin", "-outform", "DER", data=pub)
    return hashlib.sha256(der).hexdigest()


def cert_sha256(cert):
    return hashlib.sha256(ssl.PEM_cert_to_DER_cert(cert.read_text())).hexdigest()


@pytest.fixture(scope="module")
def port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("0.0.0.0", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def world(tmp_path_factory, port):
    """Certificates, the signed zone, unbound serving it; yields a dict."""
    d = tmp_path_factory.mktemp("dane")
    ca = TestCA(d / "ca")
    other = TestCA(d / "other", name="Unrelated CA")
    other_key = TestCA(d / "spare").leaf("spare.dane.test", self_signed=True)[0]
    certs, tlsa = {}, []
    for name, (ip, kind, rec) in HOSTS.items():
        host = "mx.%s.dane.test" % name
        if kind == "self":
            cert, key = ca.leaf(host, self_signed=True)
        elif kind in ("ca", "ca-wrong-name"):
            cert, key = ca.leaf(host if kind == "ca" else "wrong.dane.test")
            chain = d / ("%s-chain.pem" % name)
            chain.write_text(cert.read_text() + ca.cert.read_text())
            cert = chain
        else:
            cert, key = None, None
        certs[name] = (cert, key)
        if rec:
            usage, sel, mtype, what = rec.split()
            digest = {"own": lambda: spki_sha256(cert), "other": lambda: spki_sha256(other_key),
                      "ca": lambda: cert_sha256(ca.cert)}[what]()
            tlsa.append("_%d._tcp.%s. IN TLSA %s %s %s %s" % (port, host, usage, sel, mtype, digest))
    zone = ["$ORIGIN dane.test.", "$TTL 300",
            "@ IN SOA ns.dane.test. hostmaster.dane.test. 1 3600 600 86400 60",
            "@ IN NS ns.dane.test.", "ns IN A 127.0.0.1"]
    for name, (ip, _, _) in HOSTS.items():
        zone.append("%s IN MX 10 mx.%s.dane.test." % (name, name))
        zone.append("mx.%s IN A %s" % (name, ip))
    zone += tlsa
    zfile = d / "dane.test.zone"
    zfile.write_text("\n".join(zone) + "\n")
    keyname = subprocess.run(["ldns-keygen", "-a", "ECDSAP256SHA256", "-k", "dane.test"], cwd=d,
                             capture_output=True, text=True, check=True, timeout=60).stdout.strip()
    subprocess.run(["ldns-signzone", str(zfile), keyname], cwd=d, check=True, timeout=60,
                   capture_output=True)
    anchor = d / ("%s.key" % keyname)
    insecure_digest = spki_sha256(other_key)
    zones = r'''
    local-zone: "." static
    local-zone: "dane.test." transparent
    local-zone: "insecure.test." static
    local-data: "insecure.test. 300 IN MX 10 mx.insecure.test."
    local-data: "mx.insecure.test. 300 IN A %s"
    local-data: "_%d._tcp.mx.insecure.test. 300 IN TLSA 3 1 1 %s"
    local-zone: "zen.spamhaus.org." static
    local-zone: "dbl.spamhaus.org." static
    local-data: "dbltest.com.dbl.spamhaus.org. 300 IN A 127.0.1.2"
auth-zone:
    name: "dane.test."
    zonefile: "%s.signed"
    for-downstream: yes
    for-upstream: no
    fallback-enabled: no
''' % (IP_INSECURE, port, insecure_digest, zfile)
    u = Unbound(d / "unbound", zones=zones).start()
    certs["insecure"] = ca.leaf("mx.insecure.test", self_signed=True)
    yield {"unbound": u, "anchor": anchor, "certs": certs, "other": other}
    u.stop()


@pytest.fixture
def sinks(world, port):
    made = {}
    for name, (ip, kind, _) in list(HOSTS.items()) + [("insecure", (IP_INSECURE, "self", None))]:
        cert, key = world["certs"][name]
        if kind == "no-tls":
            made[name] = SMTPSink(ip, port).start()
        else:
            made[name] = SMTPSink(ip, port, starttls=True, cert=cert, key=key).start()
    yield made
    errors = []
    for s in made.values():
        s.stop()
        errors += s.errors
    assert not errors, "sink errors: %r" % errors


@pytest.fixture
def mta(make_server, world, port, monkeypatch):
    monkeypatch.setenv("SSL_CERT_FILE", str(world["other"].cert))

    def make(**cfg):
        config = {
            "dns_servers": world["unbound"].address,
            "dnssec": "yes",
            "dnssec_trust_anchor": str(world["anchor"]),
            "trusted_networks": "127.0.0.0/8",
            "outbound_port": str(port),
            "retry_initial": "1s",
            "retry_max": "2s",
            "queue_lifetime": "60s",
            "outbound_timeout": "5s",
        }
        config.update({k: str(v) for k, v in cfg.items()})
        return make_server(config=config)
    return make


def submit(srv, rcpt):
    msg = simple_message(token())
    c = srv.client()
    c.ehlo("client.test")
    qid = queue_id(c.send_mail(SENDER, [rcpt], msg))
    c.quit()
    return qid, msg


def test_dane_authenticates_or_defers(mta, sinks):
    srv = mta()
    q = {name: submit(srv, "alice@%s.dane.test" % name) for name in HOSTS}
    q["insecure"] = submit(srv, "alice@insecure.test")

    # DANE-EE and DANE-TA: delivered, authenticated by the records
    for name, record in (("ee", "EE"), ("ta", "TA")):
        qid, msg = q[name]
        d = srv.wait_for_log("delivered", id=qid, timeout=20)[-1]
        assert d["tls"].startswith("TLSv1."), d
        (tx,) = sinks[name].wait_for_transactions(1)
        assert tx.tls and tx.data.endswith(msg)
        ev = srv.events("dane", mx="mx.%s.dane.test" % name)
        assert ev and ev[-1]["result"] == "authenticated" and ev[-1]["record"] == record, ev

    # a key the records do not name; a TA-signed certificate for another name
    for name, why in (("bad", "certificate verify failed"), ("taname", "certificate verify failed")):
        d = srv.wait_for_log("deferred", id=q[name][0], timeout=20)[-1]
        assert why in d["reason"] and "DANE" in d["reason"], d
        assert sinks[name].transactions == [], name

    # records, but none usable for SMTP: TLS still required, not authentication
    d = srv.wait_for_log("delivered", id=q["unusable"][0], timeout=20)[-1]
    assert d["tls"].startswith("TLSv1."), d
    for name in ("plain", "unusableplain"):
        d = srv.wait_for_log("deferred", id=q[name][0], timeout=20)[-1]
        assert "DANE" in d["reason"] and "STARTTLS" in d["reason"], d
        assert sinks[name].transactions == []
    assert "none usable" in d["reason"], d

    # no TLSA (secure denial) and TLSA in an unsigned zone: opportunistic
    for name in ("none", "insecure"):
        d = srv.wait_for_log("delivered", id=q[name][0], timeout=20)[-1]
        assert d["tls"].startswith("TLSv1."), (name, d)
    assert srv.events("dane", mx="mx.insecure.test") == []
    assert srv.events("dane", mx="mx.none.dane.test") == []


def test_without_dnssec_no_dane(mta, sinks):
    """dnssec = no: TLSA records are not even asked for; opportunistic TLS
    takes the self-signed MX whose records would have refused it."""
    srv = mta(dnssec="no")
    qid, msg = submit(srv, "alice@bad.dane.test")
    d = srv.wait_for_log("delivered", id=qid, timeout=20)[-1]
    assert d["tls"].startswith("TLSv1."), d
    assert srv.events("dane") == []


def test_check_config_trust_anchor(make_server, tmp_path, world):
    srv = make_server(start=False)
    srv.write_config(dnssec="yes", dnssec_trust_anchor=str(tmp_path / "missing.key"))
    r = srv.cli("check-config", check=False)
    assert r.returncode == 1 and "dnssec_trust_anchor" in r.stderr, r
    srv.write_config(dnssec_trust_anchor=str(world["anchor"]))
    r = srv.cli("check-config", check=False)
    assert r.returncode == 0, r.stderr
