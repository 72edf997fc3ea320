"""tls_required_domains with certificate verification (SPEC 12, issue 16
item 2): the MX of such a domain must offer TLS with a certificate that
verifies for the MX host name against the trust store (SSL_CERT_FILE, a CA
of the test); anything less defers the delivery with the reason in
`event=deferred reason="..."` and the message is never sent. Domains not
listed keep opportunistic TLS: any certificate, or plain text.

MX hosts are smtpsink.py sinks on 127.0.0.165-168 sharing one port (the
server's outbound_port); a private unbound serves the zone tv.test.
"""

import os
import socket

import pytest

from conftest import queue_id, simple_message, token
from dnsfixture import Unbound
from smtpsink import SMTPSink
from testca import TestCA

SENDER = "bob@example.test"

IP_OK = "127.0.0.165"           # mx.ok.tv.test: CA-signed for its name
IP_SELF = "127.0.0.166"         # mx.self.tv.test: self-signed
IP_WRONG = "127.0.0.167"        # mx.wrong.tv.test: CA-signed for another name
IP_OPP = "127.0.0.168"          # mx.opp.tv.test: self-signed, domain not listed

ZONES = r'''
    local-zone: "." static
    local-zone: "tv.test." static
    local-data: "ok.tv.test. 300 IN MX 10 mx.ok.tv.test."
    local-data: "mx.ok.tv.test. 300 IN A 127.0.0.165"
    local-data: "self.tv.test. 300 IN MX 10 mx.self.tv.test."
    local-data: "mx.self.tv.test. 300 IN A 127.0.0.166"
    local-data: "wrong.tv.test. 300 IN MX 10 mx.wrong.tv.test."
    local-data: "mx.wrong.tv.test. 300 IN A 127.0.0.167"
    local-data: "opp.tv.test. 300 IN MX 10 mx.opp.tv.test."
    local-data: "mx.opp.tv.test. 300 IN A 127.0.0.168"
    local-zone: "zen.spamhaus.org." static
    local-zone: "dbl.spamhaus.org." static
    local-data: "dbltest.com.dbl.spamhaus.org. 300 IN A 127.0.1.2"
'''


@pytest.fixture(scope="module")
def unbound(tmp_path_factory):
    u = Unbound(tmp_path_factory.mktemp("unbound-tv"), zones=ZONES).start()
    yield u
    u.stop()


@pytest.fixture(scope="module")
def port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("0.0.0.0", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def ca(tmp_path_factory):
    return TestCA(tmp_path_factory.mktemp("tv-ca"))


@pytest.fixture
def sinks(ca, port):
    """The four MX hosts, each with STARTTLS and its certificate."""
    made = {}
    for ip, cert in ((IP_OK, ca.leaf("mx.ok.tv.test")),
                     (IP_SELF, ca.leaf("mx.self.tv.test", self_signed=True)),
                     (IP_WRONG, ca.leaf("mx.other.tv.test")),
                     (IP_OPP, ca.leaf("mx.opp.tv.test", self_signed=True))):
        made[ip] = SMTPSink(ip, port, starttls=True, cert=cert[0], key=cert[1]).start()
    yield made
    errors = []
    for s in made.values():
        s.stop()
        errors += s.errors
    assert not errors, "sink errors: %r" % errors


@pytest.fixture
def mta(make_server, unbound, port):
    def make(**cfg):
        config = {
            "dns_servers": unbound.address,
            "trusted_networks": "127.0.0.0/8",
            "outbound_port": str(port),
            "retry_initial": "1s",
            "retry_max": "2s",
            "queue_lifetime": "60s",
            "outbound_timeout": "5s",
            "tls_required_domains": "ok.tv.test self.tv.test wrong.tv.test",
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


def never_sent(sink):
    """The sink got no envelope: at most EHLO and STARTTLS."""
    assert sink.transactions == [], sink.transactions
    for sess in sink.sessions:
        verbs = {c.split()[0].upper() for c in sess.commands if c}
        assert not verbs & {"MAIL", "RCPT", "DATA"}, sess.commands


def test_verified_certificate_delivered_others_deferred(mta, sinks, ca, monkeypatch):
    monkeypatch.setenv("SSL_CERT_FILE", str(ca.cert))
    srv = mta()
    q_ok, m_ok = submit(srv, "alice@ok.tv.test")
    q_self, _ = submit(srv, "carol@self.tv.test")
    q_wrong, _ = submit(srv, "dave@wrong.tv.test")
    q_opp, m_opp = submit(srv, "erin@opp.tv.test")

    d = srv.wait_for_log("delivered", id=q_ok, timeout=15)[-1]
    assert d["tls"].startswith("TLSv1."), d
    (tx,) = sinks[IP_OK].wait_for_transactions(1)
    assert tx.tls and tx.data.endswith(m_ok)

    d = srv.wait_for_log("deferred", id=q_self, timeout=15)[-1]
    assert "certificate verify failed: self-signed certificate" in d["reason"], d
    assert "tls_required_domains" in d["reason"], d
    d = srv.wait_for_log("deferred", id=q_wrong, timeout=15)[-1]
    assert "certificate verify failed: hostname mismatch" in d["reason"], d
    # at the retry: the same, never a plain-text fallback
    srv.wait_for_log("deferred", id=q_self, count=2, timeout=15)
    srv.wait_for_log("deferred", id=q_wrong, count=2, timeout=15)
    never_sent(sinks[IP_SELF])
    never_sent(sinks[IP_WRONG])
    assert len(sinks[IP_SELF].sessions) >= 2
    assert srv.events("delivered", id=q_self) == srv.events("delivered", id=q_wrong) == []

    # a domain not listed: opportunistic, a self-signed certificate is fine
    d = srv.wait_for_log("delivered", id=q_opp, timeout=15)[-1]
    assert d["tls"].startswith("TLSv1."), d
    (tx,) = sinks[IP_OPP].wait_for_transactions(1)
    assert tx.tls and tx.data.endswith(m_opp)


def test_ssl_cert_file_is_the_trust_store(mta, sinks, tmp_path, monkeypatch):
    """The test CA is in no system store: without SSL_CERT_FILE naming it,
    even the right certificate does not verify; with SSL_CERT_FILE naming
    another CA, neither."""
    other = TestCA(tmp_path / "other-ca", name="Another CA")
    monkeypatch.setenv("SSL_CERT_FILE", str(other.cert))
    srv = mta()
    qid, _ = submit(srv, "alice@ok.tv.test")
    d = srv.wait_for_log("deferred", id=qid, timeout=15)[-1]
    assert "certificate verify failed: unable to get local issuer certificate" in d["reason"], d
    never_sent(sinks[IP_OK])
    srv.stop()

    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    assert "SSL_CERT_FILE" not in os.environ
    srv2 = mta()
    qid, _ = submit(srv2, "alice@ok.tv.test")
    d = srv2.wait_for_log("deferred", id=qid, timeout=15)[-1]
    assert "certificate verify failed" in d["reason"], d
    never_sent(sinks[IP_OK])
