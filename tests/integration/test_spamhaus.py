"""Spamhaus checks in the SMTP session (SPEC section 4), against a real
unbound on loopback serving test zones (see dnsfixture.py), with clients
binding 127.0.0.x source addresses."""

import threading
import time

import pytest

from conftest import Server, wait_until
from dnsfixture import BlackholeDNS, Unbound

RCPT = "bob@example.test"


@pytest.fixture(scope="module")
def unbound(tmp_path_factory):
    u = Unbound(tmp_path_factory.mktemp("unbound")).start()
    yield u
    u.stop()


@pytest.fixture(scope="module")
def server(tmp_path_factory, unbound):
    s = Server(tmp_path_factory.mktemp("spamhaus"),
               config={"dns_servers": unbound.address, "dnsbl_timeout": "3s"})
    s.start()
    yield s
    s.teardown()


def attempt(server, source, helo="client.test", sender="alice@remote.test", rcpt=RCPT):
    """EHLO, MAIL, RCPT from source; returns the RCPT reply."""
    c = server.client(source=source)
    c.expect("EHLO " + helo, 250)
    c.expect("MAIL FROM:<%s>" % sender, 250)
    r = c.cmd("RCPT TO:<%s>" % rcpt)
    c.cmd("QUIT")
    return r


def reject_event(server, client):
    return wait_until(lambda: [e for e in server.events("reject", client=client)
                               if e.get("reason") == "dnsbl"], 5,
                      what="reject event for %s" % client)[-1]


def test_test_point_rejected_at_rcpt(server):
    r = attempt(server, "127.0.0.2")
    assert r.code == 554 and r.enhanced == "5.7.1", r
    assert "client [127.0.0.2] blocked using zen.spamhaus.org" in r.text
    assert "SBL" in r.text and "https://check.spamhaus.org/" in r.text
    e = reject_event(server, "127.0.0.2")
    assert e["stage"] == "rcpt" and e["zone"] == "zen.spamhaus.org"
    assert "SBL" in e["list"] and e["code"] == "127.0.0.2"


def test_pbl_only_client_rejected_on_port_25(server):
    r = attempt(server, "127.0.0.10")
    assert r.code == 554 and "(PBL)" in r.text, r
    assert reject_event(server, "127.0.0.10")["code"] == "127.0.0.10"


def test_sbl_css(server):
    r = attempt(server, "127.0.0.11")
    assert r.code == 554 and "SBL CSS" in r.text, r


def test_clean_client_accepted_and_delivered(server):
    c = server.client(source="127.0.0.5")
    c.expect("EHLO client.test", 250)
    c.expect("MAIL FROM:<alice@remote.test>", 250)
    c.expect("RCPT TO:<%s>" % RCPT, 250)
    c.expect("DATA", 354)
    c.send("Subject: clean\r\nMessage-ID: <clean-1@remote.test>\r\n\r\nclean-token-1\r\n.\r\n")
    assert c.reply().code == 250
    c.cmd("QUIT")
    server.wait_for_mail("bob", token="clean-token-1")


@pytest.mark.parametrize("helo", ["listed-helo.test", "mail.listed-helo.test",
                                  "a.b.listed-helo.test"])
def test_listed_helo_rejected(server, helo):
    r = attempt(server, "127.0.0.6", helo=helo)
    assert r.code == 554, r
    assert "helo name listed-helo.test blocked using dbl.spamhaus.org" in r.text


def test_helo_ip_literal_not_looked_up(server):
    r = attempt(server, "127.0.0.7", helo="[127.0.0.7]")
    assert r.code == 250, r


@pytest.mark.parametrize("sender", ["x@spam-sender.test", "x@sub.spam-sender.test"])
def test_listed_sender_domain_rejected(server, sender):
    r = attempt(server, "127.0.0.8", sender=sender)
    assert r.code == 554 and "sender domain spam-sender.test" in r.text, r


def test_phish_sender_rejected_with_list_name(server):
    r = attempt(server, "127.0.0.8", sender="x@phish.test")
    assert r.code == 554 and "DBL phish" in r.text, r


def test_forward_confirmed_ptr_listed_rejected(server):
    r = attempt(server, "127.0.0.30")
    assert r.code == 554 and "client name listed-ptr.test" in r.text, r


def test_unconfirmed_ptr_not_used(server):
    # 127.0.0.31's PTR names a host that does not resolve back to it.
    r = attempt(server, "127.0.0.31")
    assert r.code == 250, r


def test_confirmed_clean_ptr_in_received_header(server):
    c = server.client(source="127.0.0.32")
    c.expect("EHLO client.test", 250)
    c.expect("MAIL FROM:<alice@remote.test>", 250)
    c.expect("RCPT TO:<%s>" % RCPT, 250)
    c.expect("DATA", 354)
    c.send("Subject: ptr\r\n\r\nptr-token-32\r\n.\r\n")
    assert c.reply().code == 250
    files = server.wait_for_mail("bob", token="ptr-token-32")
    text = "".join(f.read_text(errors="replace") for f in files)
    assert "(mail.clean.test [127.0.0.32])" in text


def test_abused_legit_domain_only_scored(server):
    r = attempt(server, "127.0.0.9", sender="x@abused.test")
    assert r.code == 250, r


@pytest.mark.parametrize("source,code", [("127.0.0.20", "127.255.255.254"),
                                         ("127.0.0.21", "10.0.0.1")])
def test_error_answers_are_never_listings(server, source, code):
    r = attempt(server, source)
    assert r.code == 250, r
    e = wait_until(lambda: [e for e in server.events("dnsbl_error") if e.get("code") == code], 5,
                   what="dnsbl_error code=%s" % code)[-1]
    assert e["zone"] == "zen.spamhaus.org"


def test_dbl_error_code_is_no_listing(server):
    r = attempt(server, "127.0.0.12", sender="x@dbl-error.test")
    assert r.code == 250, r
    wait_until(lambda: [e for e in server.events("dnsbl_error") if e.get("code") == "127.0.1.255"],
               5, what="dnsbl_error 127.0.1.255")


def test_health_of_zones_ok_at_start(server):
    ok = wait_until(lambda: {e.get("zone") for e in server.events("dnsbl_health")
                             if e.get("status") == "ok"} >= {"zen.spamhaus.org", "dbl.spamhaus.org"},
                    5, what="dnsbl_health ok for both zones")
    assert ok


def test_allow_networks_exempt(tmp_path, unbound):
    s = Server(tmp_path, config={"dns_servers": unbound.address, "dnsbl_timeout": "3s",
                                 "allow_networks": "127.0.0.2/32"})
    s.start()
    try:
        assert attempt(s, "127.0.0.2").code == 250
        assert attempt(s, "127.0.0.10").code == 554
    finally:
        s.teardown()


def test_dqs_zones_hide_the_key(tmp_path, unbound):
    s = Server(tmp_path, config={"dns_servers": unbound.address, "dnsbl_timeout": "3s",
                                 "spamhaus_dqs_key": "secretkey123"})
    s.start()
    try:
        # The test unbound has no DQS zone: lookups pass (NXDOMAIN) and the
        # health check reports the test point missing, without the key.
        assert attempt(s, "127.0.0.2").code == 250
        wait_until(lambda: s.events("dnsbl_health"), 5, what="health line")
        log = s.log_path.read_text()
        # SPEC 4.1: the public zone's name is shown, never the keyed one
        assert "zone=zen.spamhaus.org" in log
        assert "dq.spamhaus.net" not in log
        assert "secretkey123" not in log
    finally:
        s.teardown()


def test_broken_zone_raises_alert(tmp_path, unbound):
    s = Server(tmp_path, config={"dns_servers": unbound.address, "dnsbl_timeout": "3s",
                                 "dnsbl_ip_zone": "zen-broken.test",
                                 "dnsbl_domain_zone": "dbl-broken.test"})
    s.start()
    try:
        # Every answer is 127.255.255.254: nothing is rejected, all is loud.
        assert attempt(s, "127.0.0.2", sender="x@spam-sender.test").code == 250
        wait_until(lambda: [e for e in s.events("dnsbl_health")
                            if e.get("zone") == "zen-broken.test" and e.get("status") == "error"],
                   5, what="health error for the broken zone")
        wait_until(lambda: [e for e in s.events("alert") if e.get("kind") == "dnsbl"], 5,
                   what="alert kind=dnsbl")
        assert [e for e in s.events("dnsbl_error") if e.get("code") == "127.255.255.254"]
    finally:
        s.teardown()


def test_dns_that_never_answers_does_not_stall_others(tmp_path):
    hole = BlackholeDNS()
    s = Server(tmp_path, config={"dns_servers": hole.address, "dnsbl_timeout": "2s"})
    s.start()
    try:
        results = {}

        def slow():
            c = s.client(source="127.0.0.40", timeout=20)
            c.expect("EHLO client.test", 250)
            c.expect("MAIL FROM:<alice@remote.test>", 250)
            t0 = time.monotonic()
            results["rcpt"] = c.cmd("RCPT TO:<%s>" % RCPT, timeout=20)
            results["waited"] = time.monotonic() - t0
            c.expect("DATA", 354)
            c.send("Subject: slow\r\n\r\nblackhole-token\r\n.\r\n")
            results["data"] = c.reply(timeout=20)
            c.cmd("QUIT")

        t = threading.Thread(target=slow)
        t.start()
        time.sleep(0.3)
        # Meanwhile another session is served: banner, EHLO, NOOP answer
        # while the first one waits for DNS.
        other = s.client(source="127.0.0.41", timeout=5)
        assert other.banner.code == 220
        other.expect("EHLO other.test", 250)
        other.expect("NOOP", 250)
        other.cmd("QUIT")
        assert t.is_alive(), "the first session should still be waiting for DNS"
        t.join(30)
        assert not t.is_alive()
        assert results["rcpt"].code == 250 and results["data"].code == 250
        assert results["waited"] >= 1.0  # it did wait for the timeout
        s.wait_for_mail("bob", token="blackhole-token")
        assert [e for e in s.events("dnsbl_timeout")]
    finally:
        s.teardown()
        hole.close()


def test_unreachable_resolver_stops_the_waiting(tmp_path):
    # Once the test points got no answer at all, lookups are skipped (the
    # dnsbl alert already said protection is off) instead of every message
    # waiting dnsbl_timeout.
    hole = BlackholeDNS()
    s = Server(tmp_path, config={"dns_servers": hole.address, "dnsbl_timeout": "1s"})
    s.start()
    try:
        wait_until(lambda: len([e for e in s.events("dnsbl_health")
                                if e.get("status") == "timeout"]) >= 2, 10,
                   what="both zones reported timeout")
        assert [e for e in s.events("alert") if e.get("kind") == "dnsbl"]
        c = s.client(source="127.0.0.42", timeout=5)
        c.expect("EHLO client.test", 250)
        c.expect("MAIL FROM:<alice@remote.test>", 250)
        c.expect("RCPT TO:<%s>" % RCPT, 250)
        c.expect("DATA", 354)
        c.send("Subject: fast\r\n\r\nbreaker-token\r\n.\r\n")
        assert c.reply().code == 250
        c.cmd("QUIT")
        s.wait_for_mail("bob", token="breaker-token")
        # no lookup was started for this client, so none timed out
        assert not [e for e in s.events("dnsbl_timeout") if e.get("client") == "127.0.0.42"]
    finally:
        s.teardown()
        hole.close()


def test_submission_pbl_client_and_phishing_url(tmp_path, unbound):
    """SPEC 4 and 6.1: a PBL-listed client (a user at home) submits after
    AUTH with no IP lookup; an authenticated message with a DBL-listed
    phishing URL is refused and raises the outbound_spam alert."""
    import base64
    from conftest import PASSWORD, SMTPClient, free_port
    sub_port = free_port()
    s = Server(tmp_path, tls=True, config={"dns_servers": unbound.address,
                                           "dnsbl_timeout": "3s",
                                           "listen_submission": "127.0.0.1:%d" % sub_port})
    s.start()
    try:
        def session():
            c = SMTPClient(sub_port, source="127.0.0.10")  # PBL-listed in the zone
            assert c.reply().code == 220
            c.ehlo()
            c.starttls()
            c.ehlo()
            r = c.cmd("AUTH PLAIN " + base64.b64encode(
                ("\0bob@example.test\0" + PASSWORD).encode()).decode())
            assert r.code == 235, r
            c.expect("MAIL FROM:<bob@example.test>", 250)
            c.expect("RCPT TO:<bob@example.test>", 250)
            c.expect("DATA", 354)
            return c
        head = ("From: bob@example.test\r\nTo: bob@example.test\r\nSubject: %s\r\n"
                "Date: Sat, 28 Nov 2026 10:00:00 +0000\r\nMessage-ID: <%s@example.test>\r\n\r\n")
        c = session()
        c.send(head % ("home", "pbl-1") + "from home pbl-token\r\n.\r\n")
        assert c.reply().code == 250
        c.cmd("QUIT")
        s.wait_for_mail("bob", token="pbl-token")
        assert not [e for e in s.events("reject") if e.get("client") == "127.0.0.10"]
        c = session()
        c.send(head % ("login", "phish-1") + "verify at http://secure.phish.test/login\r\n.\r\n")
        r = c.reply()
        assert r.code == 550 and r.enhanced == "5.7.1", r
        c.cmd("QUIT")
        wait_until(lambda: [e for e in s.events("alert") if e.get("kind") == "outbound_spam"], 5,
                   what="outbound_spam alert")
    finally:
        s.teardown()
