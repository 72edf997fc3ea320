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
import urllib.request
import uuid

import pytest

from conftest import (DOMAIN, PASSWORD, POSTERN_BIN, SMTPClient, Server, free_port,
                      wait_until)
from dnsfixture import ZONES, Unbound

KEY = "dqskey0123456789abcdef"
# a key without HBL (a free DQS key): its hbl zone has no test point
KEY2 = "freekey0123456789abcdef"
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
    local-zone: "{KEY2}.zen.dq.spamhaus.net." static
    local-data: "2.0.0.127.{KEY2}.zen.dq.spamhaus.net. 300 IN A 127.0.0.2"
    local-zone: "{KEY2}.dbl.dq.spamhaus.net." static
    local-data: "dbltest.com.{KEY2}.dbl.dq.spamhaus.net. 300 IN A 127.0.1.2"
    local-zone: "{KEY2}.authbl.dq.spamhaus.net." static
    local-zone: "{KEY2}.zrd.dq.spamhaus.net." static
    local-zone: "{KEY2}.hbl.dq.spamhaus.net." static
    local-data: "{email_hash(LISTED_EMAIL2)}._email.{KEY2}.hbl.dq.spamhaus.net. 300 IN A 127.0.3.2"
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
    # log-queries lines: "info: 127.0.0.1 NAME. A IN"
    return [m.group(1).lower() for m in re.finditer(r"info: [0-9.]+ (\S+)\. [A-Z]+ IN", text)]


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
              "auth_max_failures": "3/1m", "auth_lockout": "15m",
              "metrics_listen": "127.0.0.1:%d" % free_port()}
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


def test_authbl_spares_allow_networks(tmp_path, unbound):
    s = dqs_server(tmp_path, unbound, allow_networks="127.0.0.52/32")
    s.start()
    try:
        c = connect587(s, "127.0.0.52")
        assert auth_plain(c, BOB, PASSWORD).code == 235
        c.quit()
        c = connect587(s, "127.0.0.50")
        assert auth_plain(c, BOB, PASSWORD).code == 554
        c.quit()
    finally:
        s.teardown()


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


# ---------------------------------------------------------------- content

def send(srv, body, source="127.0.0.60", helo="client.test", sender="alice@remote.test",
         headers="", subject="dqs"):
    """One message on port 25; returns (final reply, token)."""
    t = token()
    c = srv.client(source=source)
    c.expect("EHLO " + helo, 250)
    c.expect("MAIL FROM:<%s>" % sender, 250)
    c.expect("RCPT TO:<%s>" % BOB, 250)
    c.expect("DATA", 354)
    msg = ("From: Alice <alice@remote.test>\r\nTo: <bob@example.test>\r\n"
           "Subject: %s %s\r\nDate: Sat, 28 Nov 2026 10:00:00 +0000\r\n"
           "Message-ID: <%s@remote.test>\r\n%s\r\n%s\r\ntoken %s\r\n.\r\n"
           % (subject, t, t, headers, body, t))
    c.send(msg)
    r = c.reply()
    c.cmd("QUIT")
    return r, t


def status_of(srv, t):
    """The X-Spam-Status of the delivered message carrying token t, in
    INBOX or Junk."""
    def found():
        for folder in ("", ".Junk"):
            for f in srv.mail_files("bob", folder=folder):
                text = f.read_text(errors="replace")
                if t in text:
                    return text
        return None
    text = wait_until(found, 10, what="message %s delivered" % t)
    m = re.search(r"^X-Spam-Status: (.*(?:\r?\n[ \t].*)*)", text, re.M)
    assert m, text[:2000]
    return m.group(1)


@pytest.fixture(scope="module")
def hbl_ready(server):
    """With `auto`, HBL is on once its test point has answered."""
    e = server.wait_for_log("dnsbl_health", zone="hbl", status="ok")[0]
    return e


def test_auto_test_point_turns_hbl_on(server, hbl_ready, unbound):
    assert hbl_ready["status"] == "ok"
    assert any(q.startswith(HBL_TEST_POINT.lower() + "." + KEY.lower() + ".hbl")
               for q in queries(unbound))


def test_zrd_both_bands(server):
    r, t = send(server, "see http://www.brand-new.test/offer and https://day-old.test/x")
    assert r.code == 250, r
    st = status_of(server, t)
    assert "ZRD_VERY_FRESH(brand-new.test)" in st, st
    assert "ZRD_FRESH(day-old.test)" in st, st


def test_zrd_of_the_helo_name(server):
    r, t = send(server, "nothing listed here", helo="mail.fresh-helo.test")
    assert r.code == 250, r
    assert "ZRD_VERY_FRESH(fresh-helo.test)" in status_of(server, t)


def test_zrd_error_is_no_listing(server):
    r, t = send(server, "http://zrd-broken.test/")
    assert r.code == 250, r
    assert "ZRD" not in status_of(server, t)
    wait_until(lambda: [e for e in server.events("dnsbl_error")
                        if e.get("zone") == "zrd" and e.get("code") == "127.255.255.252"], 5,
               what="dnsbl_error zone=zrd")


def test_hbl_email_tag_and_gmail_dots(server, hbl_ready):
    r, t = send(server, "write to Dropbox.Scammer+prize@googlemail.com for your prize")
    assert r.code == 250, r
    st = status_of(server, t)
    assert "HBL_EMAIL(dropbox.scammer+prize@googlemail.com)" in st, st


def test_hbl_email_of_reply_to(server, hbl_ready):
    r, t = send(server, "hello", headers="Reply-To: <%s>" % LISTED_EMAIL2)
    assert r.code == 250, r
    assert "HBL_EMAIL(%s)" % LISTED_EMAIL2 in status_of(server, t)


def attachment_body(data, name, ctype="application/octet-stream"):
    b = base64.encodebytes(data).decode().replace("\n", "\r\n")
    return ("MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"BB\"\r\n\r\n"
            "--BB\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n"
            "--BB\r\nContent-Type: %s; name=\"%s\"\r\n"
            "Content-Disposition: attachment; filename=\"%s\"\r\n"
            "Content-Transfer-Encoding: base64\r\n\r\n%s--BB--" % (ctype, name, name, b))


def send_mime(srv, mime, source="127.0.0.61"):
    t = token()
    c = srv.client(source=source)
    c.expect("EHLO client.test", 250)
    c.expect("MAIL FROM:<alice@remote.test>", 250)
    c.expect("RCPT TO:<%s>" % BOB, 250)
    c.expect("DATA", 354)
    head, body = mime.split("\r\n\r\n", 1)
    c.send("From: <alice@remote.test>\r\nTo: <bob@example.test>\r\nSubject: file %s\r\n"
           "Date: Sat, 28 Nov 2026 10:00:00 +0000\r\nMessage-ID: <%s@remote.test>\r\n"
           "%s\r\n\r\n%s\r\ntoken %s\r\n.\r\n" % (t, t, head, body, t))
    r = c.reply()
    c.cmd("QUIT")
    return r, t


def test_hbl_malware_file_refused_at_data(server, hbl_ready):
    r, t = send_mime(server, attachment_body(MALWARE, "invoice.exe"))
    assert r.code == 550 and r.enhanced == "5.7.1", r
    m = re.search(r"score (\d+\.\d)", r.text)
    assert m and float(m.group(1)) >= 20.0, r
    e = server.wait_for_log("reject", reason="spam", stage="data")[-1]
    assert e["client"] == "127.0.0.61"


def test_hbl_suspicious_file_named(server, hbl_ready):
    r, t = send_mime(server, attachment_body(SUSPICIOUS, "scan.pdf", "application/pdf"))
    assert r.code == 250, r
    st = status_of(server, t)
    assert "HBL_FILE_SUSPICIOUS(scan.pdf)" in st, st
    assert sha256_b32(SUSPICIOUS) not in st


def test_hbl_wallets(server, hbl_ready):
    r, t = send(server, "pay %s now, or to %s" % (BTC, ETH))
    assert r.code == 250, r
    st = status_of(server, t)
    # the symbol counts once, the first wallet found names it
    assert "HBL_CW(%s)" % BTC in st and st.count("HBL_CW") == 1, st


def test_hbl_eth_hashed_lower_case(server, hbl_ready):
    r, t = send(server, "ethereum only: %s" % ETH)
    assert r.code == 250, r
    assert "HBL_CW(%s)" % ETH in status_of(server, t)


def test_hbl_error_answers_are_errors(server, hbl_ready):
    r, t = send(server, "monero %s and mail %s" % (XMR, ERROR_EMAIL))
    assert r.code == 250, r
    st = status_of(server, t)
    assert "HBL" not in st, st
    codes = {e.get("code") for e in server.events("dnsbl_error") if e.get("zone") == "hbl"}
    assert {"10.1.2.3", "127.255.255.254"} <= codes, codes
    wait_until(lambda: [e for e in server.events("alert")
                        if e.get("kind") == "dnsbl" and e.get("zone") == "hbl"], 5,
               what="alert for hbl")
    assert KEY not in server.log_path.read_text()


def test_auto_without_test_point_asks_no_hbl(tmp_path, unbound):
    s = dqs_server(tmp_path, unbound, spamhaus_dqs_key=KEY2)
    s.start()
    try:
        s.wait_for_log("dnsbl_health", zone="hbl", status="test_point_missing")
        r, t = send(s, "hello", headers="Reply-To: <%s>" % LISTED_EMAIL2)
        assert r.code == 250, r
        assert "HBL" not in status_of(s, t)
        assert not [q for q in queries(unbound) if "._email." + KEY2.lower() in q]
        # a free key without HBL is no fault: no alert for it
        assert not [e for e in s.events("alert") if e.get("zone") == "hbl"]
    finally:
        s.teardown()


def test_hbl_yes_asks_without_test_point(tmp_path, unbound):
    s = dqs_server(tmp_path, unbound, spamhaus_dqs_key=KEY2, spamhaus_hbl="yes")
    s.start()
    try:
        r, t = send(s, "hello", headers="Reply-To: <%s>" % LISTED_EMAIL2)
        assert r.code == 250, r
        assert "HBL_EMAIL(%s)" % LISTED_EMAIL2 in status_of(s, t)
        # yes, and the test point does not answer: that is worth an alert
        wait_until(lambda: [e for e in s.events("alert") if e.get("zone") == "hbl"], 5,
                   what="alert zone=hbl")
    finally:
        s.teardown()


def test_hbl_no_never_asks_hbl(tmp_path, unbound):
    """spamhaus_hbl = no with a key whose HBL answers: no _email, _file or
    _cw query goes out, no HBL hit, and zen/DBL still go through DQS."""
    before = len(queries(unbound))
    s = dqs_server(tmp_path, unbound, spamhaus_hbl="no")
    s.start()
    try:
        r, t = send(s, "hello " + BTC, headers="Reply-To: <%s>" % LISTED_EMAIL)
        assert r.code == 250, r
        assert "HBL" not in status_of(s, t)
        asked = queries(unbound)[before:]
        assert [q for q in asked if q.endswith(KEY.lower() + ".zen.dq.spamhaus.net")], \
            "zen was not asked through DQS: %r" % asked
        assert not [q for q in asked if ".hbl.dq.spamhaus.net" in q], asked
    finally:
        s.teardown()


def test_scan_many_wallets_capped(tmp_path, unbound):
    s = dqs_server(tmp_path, unbound, spamhaus_hbl="yes", scan_max_lookups="8")
    s.start()
    try:
        alphabet = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ123456789"
        wallets = ["1" + "".join(alphabet[(i * 7 + k) % len(alphabet)] for k in range(30))
                   for i in range(300)]
        r, t = send(s, " ".join(wallets) + " and " + BTC)
        assert r.code == 250, r
        e = s.wait_for_log("dqs_cap", item="hbl_cw")[0]
        assert e["looked_up"] == "8" and int(e["dropped"]) > 200
        assert "SCAN_TRUNCATED" in status_of(s, t)
        ours = {sha256_b32(w.encode()).lower() for w in wallets}
        asked = [q for q in queries(unbound) if q.split(".", 1)[0] in ours]
        assert 0 < len(asked) <= 8, len(asked)
    finally:
        s.teardown()


def test_postern_scan_shows_each_lookup(server, tmp_path):
    eml = tmp_path / "m.eml"
    eml.write_bytes(("From: <alice@remote.test>\r\nReply-To: <%s>\r\nSubject: x\r\n\r\n"
                     "pay %s, see http://brand-new.test/\r\n" % (LISTED_EMAIL2, BTC)).encode())
    r = subprocess.run([POSTERN_BIN, "scan", "-c", str(server.conf), str(eml)],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert "lookup: hbl_cw %s in hbl: listed 127.0.3.20" % BTC in out, out
    assert "lookup: hbl_email %s in hbl: listed 127.0.3.2" % LISTED_EMAIL2 in out, out
    assert "lookup: zrd brand-new.test in zrd: listed 127.0.2.3" in out, out
    assert "hit: HBL_CW 6.0 (%s)" % BTC in out, out
    assert KEY not in out
    r = subprocess.run([POSTERN_BIN, "scan", "--json", "-c", str(server.conf), str(eml)],
                       capture_output=True, text=True, timeout=30)
    j = json.loads(r.stdout.splitlines()[0])
    hits = {h["symbol"]: h["detail"] for h in j["hits"]}
    assert hits.get("HBL_CW") == BTC and hits.get("HBL_EMAIL") == LISTED_EMAIL2, hits
    assert hits.get("ZRD_VERY_FRESH") == "brand-new.test", hits
    assert any(l["role"] == "hbl_cw" and l["result"] == "listed" for l in j["lookups"])


# ---------------------------------------------------------------- health

def test_health_in_metrics_and_stats(server, hbl_ready):
    # an error answer of each DQS zone was seen above (the tests run in
    # file order); make sure of one here too
    r, t = send(server, "mail %s" % ERROR_EMAIL)
    assert r.code == 250, r

    def metric_lines():
        url = "http://%s/metrics" % server.extra["metrics_listen"]
        with urllib.request.urlopen(url, timeout=5) as resp:
            return resp.read().decode()
    text = wait_until(lambda: (lambda m: m if 'postern_dnsbl_errors_total{zone="hbl"}' in m
                               else None)(metric_lines()), 10, what="hbl errors in /metrics")
    assert 'postern_dnsbl_health_total{zone="hbl",status="ok"}' in text, text
    assert KEY not in text

    def stats():
        r = server.cli("stats", "--json")
        j = json.loads(r.stdout)
        return j if j.get("dnsbl_health", {}).get("hbl", {}).get("ok") else None
    j = wait_until(stats, 10, what="hbl health in postern stats")
    assert j["dnsbl_errors"].get("hbl", 0) >= 1, j
    r = server.cli("stats")
    assert "zone=hbl,status=ok" in r.stdout and KEY not in r.stdout


# ---------------------------------------------------------------- no key

def test_without_a_key_no_dqs_zone_is_asked(tmp_path):
    u = Unbound(tmp_path / "unbound", zones=DQS_ZONES).start()
    try:
        s = dqs_server(tmp_path / "srv", u, spamhaus_dqs_key=None)
        s.start()
        try:
            # a client AuthBL would list authenticates
            c = connect587(s, "127.0.0.50")
            assert auth_plain(c, BOB, PASSWORD).code == 235
            c.quit()
            r, t = send(s, "pay %s, write %s, see http://brand-new.test/" % (BTC, LISTED_EMAIL),
                        helo="fresh-helo.test")
            assert r.code == 250, r
            st = status_of(s, t)
            assert "ZRD" not in st and "HBL" not in st, st
            r, t = send_mime(s, attachment_body(MALWARE, "invoice.exe"))
            assert r.code == 250, r
            s.settle()
            asked = queries(u)
            assert asked, "unbound logged no query at all"
            assert not [q for q in asked if "dq.spamhaus.net" in q], asked
        finally:
            s.teardown()
    finally:
        u.stop()


def test_hbl_yes_without_key_is_a_config_error(tmp_path):
    s = Server(tmp_path)
    s.write_config(spamhaus_hbl="yes")
    r = s.cli("check-config", check=False)
    assert r.returncode == 1
    assert "spamhaus_hbl" in r.stdout + r.stderr and "spamhaus_dqs_key" in r.stdout + r.stderr
    s.write_config(spamhaus_hbl="sometimes")
    r = s.cli("check-config", check=False)
    assert r.returncode == 1 and "auto, yes or no" in r.stdout + r.stderr
