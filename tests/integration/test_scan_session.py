"""Content analysis in the SMTP session (SPEC section 5): the scan runs
before the 250, its lookups go to a real unbound on loopback, and the
verdict decides INBOX, the Maildir++ .Junk folder, or 550 at end of DATA."""

import re

import pytest

from conftest import Server, wait_until
from dnsfixture import Unbound

WELL_FORMED = ("From: Alice <alice@remote.test>\r\nTo: bob@example.test\r\n"
               "Subject: {subject}\r\nDate: Sat, 28 Nov 2026 10:00:00 +0000\r\n"
               "Message-ID: <{token}@remote.test>\r\n{extra}\r\n{body}\r\n")


@pytest.fixture(scope="module")
def unbound(tmp_path_factory):
    u = Unbound(tmp_path_factory.mktemp("unbound")).start()
    yield u
    u.stop()


@pytest.fixture(scope="module")
def server(tmp_path_factory, unbound):
    s = Server(tmp_path_factory.mktemp("scan"),
               config={"dns_servers": unbound.address, "dnsbl_timeout": "3s"})
    s.start()
    yield s
    s.teardown()


def send(server, body, token, subject="hello", extra="", sender="alice@remote.test"):
    msg = WELL_FORMED.format(subject=subject, token=token, extra=extra, body=body)
    c = server.client(source="127.0.0.50")
    c.expect("EHLO client.test", 250)
    c.expect("MAIL FROM:<%s>" % sender, 250)
    c.expect("RCPT TO:<bob@example.test>", 250)
    c.expect("DATA", 354)
    c.send(msg.replace("\r\n.", "\r\n..") + ".\r\n")
    r = c.reply()
    c.cmd("QUIT")
    return r


def delivered(server, token, folder=""):
    files = server.wait_for_mail("bob", token=token, folder=folder)
    return "".join(f.read_text(errors="replace") for f in files)


def header(text, name):
    m = re.search(r"^%s: (.*)$" % re.escape(name), text, re.M)
    return m.group(1).strip() if m else None


def test_clean_message_inbox_with_spam_headers(server):
    r = send(server, "Lunch at noon? See https://www.remote.test/menu", "clean-1")
    assert r.code == 250, r
    text = delivered(server, "clean-1")
    assert header(text, "X-Spam-Score") is not None
    status = header(text, "X-Spam-Status")
    assert status.startswith("No, score=") and "required=5.0" in status, status
    e = wait_until(lambda: server.events("accepted"), 5)[-1]
    assert "score" in e and float(e["score"]) < 5.0


def test_listed_url_goes_to_junk_with_the_item_in_status(server):
    r = send(server, "Cheap pills at http://www.badspam.example/buy now", "junk-1")
    assert r.code == 250, r
    text = delivered(server, "junk-1", folder=".Junk")
    status = header(text, "X-Spam-Status")
    assert status.startswith("Yes, score=6.0"), status
    assert "URL_DBL_SPAM(badspam.example)" in status, status
    e = [e for e in server.events("accepted") if "URL_DBL_SPAM" in e.get("symbols", "")]
    assert e and float(e[-1]["score"]) >= 6.0


def test_phish_and_spam_urls_reach_reject_at_end_of_data(server):
    body = ('<html><a href="http://login.phish.test/x">bank</a> '
            '<img src="http://spam-sender.test/p.gif"> malware.example</html>')
    r = send(server, body, "reject-1", extra="Content-Type: text/html\r\n")
    assert r.code == 550 and r.enhanced == "5.7.1", r
    ev = wait_until(lambda: [e for e in server.events("reject") if e.get("reason") == "spam"], 5)
    assert float(ev[-1]["score"]) >= 12.0
    assert not [f for f in server.all_delivered_files()
                if "reject-1" in f.read_text(errors="replace")]


def test_obfuscated_urls_are_found(server):
    body = ("Visit hxxp://www[.]spammer[.]example/offer or "
            "http://user:pw@%62adspam.example/ today")
    r = send(server, body, "obf-1")
    assert r.code == 250, r
    status = header(delivered(server, "obf-1", folder=".Junk"), "X-Spam-Status")
    assert "URL_DBL_SPAM" in status


def test_url_in_subject_and_idn_host(server):
    r = send(server, "nothing here", "subj-1",
             subject="=?UTF-8?B?%s?=" % __import__("base64").b64encode(
                 "Angebot http://bücher.example/".encode()).decode())
    assert r.code == 250, r
    status = header(delivered(server, "subj-1", folder=".Junk"), "X-Spam-Status")
    assert "URL_DBL_SPAM(xn--bcher-kva.example)" in status, status


def test_received_chain_last_external_hop_in_zen(server):
    # The client is on loopback (internal); the first public hop below is
    # 192.0.2.4 (XBL) and a deeper hop is 192.0.2.10 (PBL: never counted
    # for deeper hops).
    extra = ("Received: from mail.remote.test (mail.remote.test [192.0.2.4]) by "
             "gw.remote.test with ESMTP id 1; Sat, 28 Nov 2026 09:00:00 +0000\r\n"
             "Received: from pc (pc.isp.test [192.0.2.10]) by mail.remote.test "
             "with ESMTP id 2; Sat, 28 Nov 2026 08:59:00 +0000\r\n")
    r = send(server, "hello", "rcvd-1", extra=extra)
    assert r.code == 250, r
    text = delivered(server, "rcvd-1")
    status = header(text, "X-Spam-Status")
    assert "RCVD_IN_XBL(192.0.2.4)" in status, status
    assert "RCVD_IN_PBL" not in status, status


def test_from_domain_listed(server):
    msg_extra = "Reply-To: <money@spammer.example>\r\n"
    r = send(server, "hello", "from-1", extra=msg_extra)
    assert r.code == 250, r
    status = header(delivered(server, "from-1", folder=".Junk"), "X-Spam-Status")
    assert "FROM_DBL(spammer.example)" in status, status


def test_structural_symbols_without_listing_stay_in_inbox(server):
    c = server.client(source="127.0.0.50")
    c.expect("EHLO client.test", 250)
    c.expect("MAIL FROM:<alice@remote.test>", 250)
    c.expect("RCPT TO:<bob@example.test>", 250)
    c.expect("DATA", 354)
    c.send("Subject: bare\r\n\r\nstruct-1\r\n.\r\n")
    assert c.reply().code == 250
    c.cmd("QUIT")
    status = header(delivered(server, "struct-1"), "X-Spam-Status")
    assert "MISSING_DATE" in status and "MISSING_MESSAGE_ID" in status, status
    assert status.startswith("No,")


def test_score_override_and_thresholds(tmp_path, unbound):
    s = Server(tmp_path, config={"dns_servers": unbound.address, "dnsbl_timeout": "3s",
                                 "score.URL_DBL_SPAM": "13", "score_reject": "20"})
    s.start()
    try:
        r = send(s, "http://badspam.example/", "ovr-1")
        assert r.code == 250, r
        status = header(delivered(s, "ovr-1", folder=".Junk"), "X-Spam-Status")
        assert status.startswith("Yes, score=13.0"), status
    finally:
        s.teardown()


def test_postern_scan_cli_json(server, tmp_path):
    import json
    eml = tmp_path / "m.eml"
    eml.write_bytes(WELL_FORMED.format(subject="hi", token="cli", extra="",
                                       body="see https://badspam.example/x").encode())
    r = server.cli("scan", "--json", str(eml))
    d = json.loads(r.stdout.strip().splitlines()[0])
    assert d["verdict"] == "junk" and d["score"] >= 6.0
    assert {"symbol": "URL_DBL_SPAM", "score": 6.0, "detail": "badspam.example"} in d["hits"]
    r = server.cli("scan", str(eml))
    assert "verdict: junk" in r.stdout and "badspam.example" in r.stdout
