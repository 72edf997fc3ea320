"""Spamhaus DQS in full (SPEC 4.1): AuthBL at AUTH, ZRD and HBL in the
content scan, their error answers, HBL's `auto` test point, and nothing
asked of the three zones without a key. A real unbound on loopback serves
KEY.zen, KEY.dbl, KEY.authbl, KEY.zrd and KEY.hbl under dq.spamhaus.net
(see DQS_ZONES below), and logs every query it gets, so a test can tell
what postern asked.

The hashes in the zones are computed here, independently of postern's C
code, the way Spamhaus's rule sets compute them: SHA-1 hex of the
normalised address (_email), SHA-256 in RFC 4648 base32 without padding
of an attachment (_file) and of a wallet address as written (_cw).
"""

import base64
import hashlib
import json
import re
import subprocess
import uuid

import pytest

from conftest import (DOMAIN, PASSWORD, POSTERN_BIN, SMTPClient, Server, free_port,
                      wait_until)
from dnsfixture import ZONES, Unbound

KEY = "dqskey0123456789abcdef"
BOB = "bob@example.test"


def b32(data):
    return base64.b32encode(data).decode().rstrip("=")


def email_hash(addr):
    return hashlib.sha1(addr.encode()).hexdigest()


def sha256_b32(data):
    return b32(hashlib.sha256(data).digest())


# Items listed in the test zones.
HBL_TEST_POINT = "TV7QRQPGBKF4X3K4T5QYILRI3SP5CIWVIIOH25YUOGVOJ3SBTYNA._cw"
LISTED_EMAIL = "dropbox.scammer@gmail.com"          # hashed as dropboxscammer@gmail.com
LISTED_EMAIL2 = "payme@scam-contact.test"
ERROR_EMAIL = "broken@hbl-error.test"
MALWARE = b"MZ this is not really a program, only listed as one\x00\x01\x02" * 40
SUSPICIOUS = b"%PDF-1.4 suspicious invoice\n" * 50
BTC = "1BoatSLRHtKNngkdXEeobR76b53LETtpyT"
ETH = "0x52908400098527886E0F7030069857D2E4169EE7"   # hashed lower-cased
XMR = ("44AFFq5kSiGBoZ4NMDwYtN18obc8AemS33DBLWs3H7otXft3XjrpDtQGv7SqSsaBYBb98uNbr2VBBEt7f2"
       "wfn3RVGQBEP3A")

DQS_ZONES = ZONES + f'''
    log-queries: yes
    local-zone: "{KEY}.zen.dq.spamhaus.net." static
    local-data: "2.0.0.127.{KEY}.zen.dq.spamhaus.net. 300 IN A 127.0.0.2"
    local-zone: "{KEY}.dbl.dq.spamhaus.net." static
    local-data: "dbltest.com.{KEY}.dbl.dq.spamhaus.net. 300 IN A 127.0.1.2"
    local-zone: "{KEY}.authbl.dq.spamhaus.net." static
    local-data: "50.0.0.127.{KEY}.authbl.dq.spamhaus.net. 300 IN A 127.0.0.20"
    local-data: "51.0.0.127.{KEY}.authbl.dq.spamhaus.net. 300 IN A 127.0.0.20"
    local-data: "52.0.0.127.{KEY}.authbl.dq.spamhaus.net. 300 IN A 127.0.0.20"
    local-data: "55.0.0.127.{KEY}.authbl.dq.spamhaus.net. 300 IN A 127.255.255.254"
    local-zone: "{KEY}.zrd.dq.spamhaus.net." static
    local-data: "brand-new.test.{KEY}.zrd.dq.spamhaus.net. 300 IN A 127.0.2.3"
    local-data: "day-old.test.{KEY}.zrd.dq.spamhaus.net. 300 IN A 127.0.2.17"
    local-data: "fresh-helo.test.{KEY}.zrd.dq.spamhaus.net. 300 IN A 127.0.2.2"
    local-data: "zrd-broken.test.{KEY}.zrd.dq.spamhaus.net. 300 IN A 127.255.255.252"
    local-zone: "{KEY}.hbl.dq.spamhaus.net." static
    local-data: "{HBL_TEST_POINT}.{KEY}.hbl.dq.spamhaus.net. 300 IN A 127.0.3.20"
    local-data: "{email_hash("dropboxscammer@gmail.com")}._email.{KEY}.hbl.dq.spamhaus.net. 300 IN A 127.0.3.2"
    local-data: "{email_hash(LISTED_EMAIL2)}._email.{KEY}.hbl.dq.spamhaus.net. 300 IN A 127.0.3.2"
    local-data: "{email_hash(ERROR_EMAIL)}._email.{KEY}.hbl.dq.spamhaus.net. 300 IN A 127.255.255.254"
    local-data: "{sha256_b32(MALWARE)}._file.{KEY}.hbl.dq.spamhaus.net. 300 IN A 127.0.3.10"
    local-data: "{sha256_b32(SUSPICIOUS)}._file.{KEY}.hbl.dq.spamhaus.net. 300 IN A 127.0.3.15"
    local-data: "{sha256_b32(BTC.encode())}._cw.{KEY}.hbl.dq.spamhaus.net. 300 IN A 127.0.3.20"
    local-data: "{sha256_b32(ETH.lower().encode())}._cw.{KEY}.hbl.dq.spamhaus.net. 300 IN A 127.0.3.20"
    local-data: "{sha256_b32(XMR.encode())}._cw.{KEY}.hbl.dq.spamhaus.net. 300 IN A 10.1.2.3"
'''


def token():
    return uuid.uuid4().hex[:12]


def b64(data):
    if isinstance(data, str):
        data = data.encode()
    return base64.b64encode(data).decode()


def auth_plain(c, user, password):
    return c.cmd("AUTH PLAIN " + b64("\0%s\0%s" % (user, password)))


def queries(unbound):
    """Every name unbound was asked, lower-cased."""
    text = (unbound.dir / "unbound.out").read_text(errors="replace")
    return [m.group(1).lower() for m in re.finditer(r"query: (\S+)", text)]


# ---------------------------------------------------------------- fixtures

@pytest.fixture(scope="module")
def unbound(tmp_path_factory):
    u = Unbound(tmp_path_factory.mktemp("unbound-dqs"), zones=DQS_ZONES).start()
    yield u
    u.stop()


def dqs_server(directory, unbound, **extra):
    config = {"dns_servers": unbound.address, "dnsbl_timeout": "3s",
              "spamhaus_dqs_key": KEY,
              "listen_submission": "127.0.0.1:%d" % free_port(),
              "auth_max_failures": "3/1m", "auth_lockout": "15m"}
    config.update(extra)
    s = Server(directory, tls=True, config=config)
    s.sub_port = int(s.extra["listen_submission"].rsplit(":", 1)[1])
    return s


@pytest.fixture(scope="module")
def server(tmp_path_factory, unbound):
    s = dqs_server(tmp_path_factory.mktemp("dqs"), unbound)
    s.start()
    yield s
    s.teardown()


def connect587(srv, source):
    c = SMTPClient(srv.sub_port, source=source)
    assert c.reply().code == 220
    c.ehlo()
    c.starttls()
    c.ehlo()
    return c


# ---------------------------------------------------------------- AuthBL

def test_authbl_refuses_the_right_password(server):
    src = "127.0.0.50"
    c = connect587(server, src)
    r = auth_plain(c, BOB, PASSWORD)
    assert r.code == 554 and r.enhanced == "5.7.1", r
    assert "AuthBL" in r.text and KEY not in r.text
    # the session goes on: no AUTH, so no mail either
    r = c.cmd("MAIL FROM:<%s>" % BOB)
    assert r.code == 530, r
    c.quit()
    e = server.wait_for_log("reject", client=src, reason="authbl")[0]
    assert e["stage"] == "auth" and e["zone"] == "authbl" and e["code"] == "127.0.0.20"
    f = server.wait_for_log("auth_failed", client=src)[0]
    assert f["user"] == BOB and f["reason"] == "authbl"
    assert not server.events("auth", client=src)
    assert KEY not in server.log_path.read_text()


def test_authbl_refusal_with_auth_login(server):
    src = "127.0.0.52"
    c = connect587(server, src)
    assert c.cmd("AUTH LOGIN").code == 334
    assert c.cmd(b64(BOB)).code == 334
    r = c.cmd(b64(PASSWORD))
    assert r.code == 554 and "AuthBL" in r.text, r
    c.quit()


def test_authbl_counts_toward_the_lockout(server):
    src = "127.0.0.51"
    c = connect587(server, src)
    for i in range(3):
        r = auth_plain(c, BOB, PASSWORD)
        assert r.code == 554, (i, r)
    server.wait_for_log("auth_lockout", client=src)
    # locked out: 454 whether or not listed
    r = auth_plain(c, BOB, PASSWORD)
    assert r.code == 454 and r.enhanced == "4.7.0", r
    c.quit()
    assert len(server.events("auth_failed", client=src)) == 3


def test_clean_client_authenticates(server):
    src = "127.0.0.53"
    c = connect587(server, src)
    r = auth_plain(c, BOB, PASSWORD)
    assert r.code == 235, r
    c.quit()
    assert not server.events("reject", client=src)


def test_authbl_error_answer_is_no_listing(server):
    src = "127.0.0.55"
    c = connect587(server, src)
    r = auth_plain(c, BOB, PASSWORD)
    assert r.code == 235, r
    c.quit()
    e = wait_until(lambda: [e for e in server.events("dnsbl_error")
                            if e.get("zone") == "authbl"], 5, what="dnsbl_error zone=authbl")[-1]
    assert e["code"] == "127.255.255.254"
    wait_until(lambda: [e for e in server.events("alert")
                        if e.get("kind") == "dnsbl" and e.get("zone") == "authbl"], 5,
               what="alert for authbl")
