"""Authenticated submission (SPEC 6.1-6.4): ports 587 (STARTTLS, then AUTH)
and 465 (implicit TLS), AUTH PLAIN and LOGIN, failure logging and the
per-IP lockout, sender ownership, relay for authenticated sessions, the
account in the log and the Received header, outbound spam refused, no
blocklist lookups for submission clients, and the password rules of
`postern user add` / `user passwd`.

One server for the module (TLS, accounts bob, carol and frank, aliases) with
`auth_max_failures = 3/1m` and `score_junk = 0.4`; its relayhost is a
local SMTPSink. Each test that fails AUTH connects from its own loopback
address (127.0.1.X) so the per-IP failure counts never mix.
"""

import base64
import re
import ssl
import uuid

import pytest

from conftest import (token, DOMAIN, PASSWORD, SMTPClient, Server, fake_dns, free_port, queue_id,
                      simple_message, split_message, wait_until)
from smtpsink import SMTPSink

BOB = "bob@example.test"
CAROL = "carol@example.test"
FRANK = "frank@example.test"
SINK_IP = "127.0.1.200"



def b64(data):
    if isinstance(data, str):
        data = data.encode()
    return base64.b64encode(data).decode()


def keywords(ehlo):
    return [l.split()[0].upper() for l in ehlo.texts[1:] if l.strip()]


def auth_line(ehlo):
    for l in ehlo.texts[1:]:
        if l.upper().startswith("AUTH"):
            return l.upper().split()
    return None


# ---------------------------------------------------------------- fixtures

@pytest.fixture(scope="module")
def sink():
    s = SMTPSink(SINK_IP, free_port(SINK_IP)).start()
    yield s
    s.stop()
    assert not s.errors, "sink errors: %r" % s.errors


@pytest.fixture(scope="module")
def sub(tmp_path_factory, sink):
    srv = Server(tmp_path_factory.mktemp("submission"), tls=True, users=("bob", "carol", "frank"),
                 config={
                     "listen_submission": "127.0.0.1:%d" % free_port(),
                     "listen_submissions": "127.0.0.1:%d" % free_port(),
                     "auth_max_failures": "3/1m",
                     "auth_lockout": "15m",
                     "score_junk": "0.4",
                     "relayhost": "%s:%d" % (SINK_IP, sink.port),
                 })
    srv.add_alias("sales@example.test", BOB)
    srv.add_alias("support@example.test", CAROL)
    srv.sub_port = int(srv.extra["listen_submission"].rsplit(":", 1)[1])
    srv.subs_port = int(srv.extra["listen_submissions"].rsplit(":", 1)[1])
    srv.start()
    yield srv
    srv.teardown()


def connect587(srv, source=None, tls=True):
    """A 587 session; with tls, after STARTTLS and the second EHLO."""
    c = SMTPClient(srv.sub_port, source=source)
    c.banner = c.reply()
    assert c.banner.code == 220, c.banner
    c.ehlo_before = c.ehlo()
    if tls:
        c.starttls()
        c.ehlo_after = c.ehlo()
    return c


def connect465(srv, source=None):
    c = SMTPClient(srv.subs_port, source=source)
    c.wrap_tls()
    c.banner = c.reply()
    assert c.banner.code == 220, c.banner
    c.ehlo_after = c.ehlo()
    return c


def auth_plain(c, user, password, authzid=""):
    return c.cmd("AUTH PLAIN " + b64("%s\0%s\0%s" % (authzid, user, password)))


def auth_login(c, user, password):
    r = c.cmd("AUTH LOGIN")
    assert r.code == 334, r
    assert base64.b64decode(r.texts[0]).lower().startswith(b"username"), r
    r = c.cmd(b64(user))
    assert r.code == 334, r
    assert base64.b64decode(r.texts[0]).lower().startswith(b"password"), r
    return c.cmd(b64(password))


def logged_in(srv, port=587, source=None, user=BOB):
    c = connect587(srv, source) if port == 587 else connect465(srv, source)
    r = auth_plain(c, user, PASSWORD)
    assert r.code == 235, r
    return c


def message(t, sender=BOB, to=CAROL, date=True):
    lines = ["From: <%s>" % sender, "To: <%s>" % to, "Subject: submission %s" % t]
    if date:
        lines += ["Date: Sat, 28 Nov 2026 00:00:00 +0000", "Message-ID: <%s@example.test>" % t]
    lines += ["", "hello %s" % t]
    return ("\r\n".join(lines) + "\r\n").encode()


def received_headers(raw):
    headers, _ = split_message(raw)
    return [h for h in headers if h.lower().startswith("received:")]


# ---------------------------------------------------------------- AUTH offer

def test_587_auth_offered_only_after_starttls(sub):
    c = connect587(sub, tls=False)
    kw = keywords(c.ehlo_before)
    assert "STARTTLS" in kw, c.ehlo_before
    assert "AUTH" not in kw, "AUTH offered before TLS: %r" % c.ehlo_before
    r = auth_plain(c, BOB, PASSWORD)
    assert r.code == 530 and r.enhanced == "5.7.0", r
    r = c.cmd("AUTH LOGIN")
    assert r.code == 530 and r.enhanced == "5.7.0", r
    c.starttls()
    after = c.ehlo()
    assert auth_line(after) is not None, after
    assert set(auth_line(after)[1:]) == {"PLAIN", "LOGIN"}, after
    assert "STARTTLS" not in keywords(after), after
    c.quit()


def test_587_auth_before_tls_is_never_checked(sub):
    """AUTH with the right password in clear text: 530, no 235, and the
    password is not even tried (no auth or auth_failed event)."""
    src = "127.0.1.11"
    c = connect587(sub, source=src, tls=False)
    r = auth_plain(c, BOB, PASSWORD)
    assert r.code == 530, r
    r = c.cmd("MAIL FROM:<%s>" % BOB)
    assert r.code == 530 and r.enhanced == "5.7.0", r
    c.quit()
    assert not sub.events("auth", client=src)
    assert not sub.events("auth_failed", client=src)


def test_465_implicit_tls_offers_auth(sub):
    c = connect465(sub)
    assert isinstance(c.sock, ssl.SSLSocket)
    kw = keywords(c.ehlo_after)
    assert "STARTTLS" not in kw, c.ehlo_after
    assert set(auth_line(c.ehlo_after)[1:]) == {"PLAIN", "LOGIN"}, c.ehlo_after
    c.quit()


def test_port25_has_no_auth(sub):
    c = sub.client()
    ehlo = c.ehlo()
    assert "AUTH" not in keywords(ehlo), ehlo
    r = auth_plain(c, BOB, PASSWORD)
    assert r.code == 503, r
    # not even inside TLS
    c.starttls()
    ehlo = c.ehlo()
    assert "AUTH" not in keywords(ehlo), ehlo
    r = auth_plain(c, BOB, PASSWORD)
    assert r.code == 503, r
    r = c.cmd("AUTH LOGIN")
    assert r.code == 503, r
    c.quit()


# ---------------------------------------------------------------- AUTH results

def test_auth_plain_and_login_succeed(sub):
    src = "127.0.1.12"
    # PLAIN with an initial response, on 587
    c = connect587(sub, source=src)
    r = auth_plain(c, BOB, PASSWORD)
    assert r.code == 235, r
    ehlo = c.ehlo()
    assert "AUTH" not in keywords(ehlo), "AUTH offered again once authenticated: %r" % ehlo
    r = auth_plain(c, BOB, PASSWORD)
    assert r.code == 503, r
    c.quit()
    sub.wait_for_log("auth", client=src, user=BOB)
    # PLAIN in two steps, authzid = authcid, on 465
    c = connect465(sub, source=src)
    r = c.cmd("AUTH PLAIN")
    assert r.code == 334, r
    r = c.cmd(b64("%s\0%s\0%s" % (BOB, BOB, PASSWORD)))
    assert r.code == 235, r
    c.quit()
    # LOGIN
    c = connect587(sub, source=src)
    r = auth_login(c, CAROL, PASSWORD)
    assert r.code == 235, r
    c.quit()
    sub.wait_for_log("auth", client=src, user=CAROL)
    evs = sub.events("auth", client=src)
    assert len(evs) == 3, evs
    assert {e.get("mech") for e in evs} >= {"PLAIN", "LOGIN"}, evs
    assert not sub.events("auth_failed", client=src)


def test_bad_credentials_535_and_logged(sub):
    src = "127.0.1.13"
    c = connect587(sub, source=src)
    r = auth_plain(c, BOB, PASSWORD + "x")
    assert r.code == 535 and r.enhanced == "5.7.8", r
    ev = sub.wait_for_log("auth_failed", client=src, user=BOB)[0]
    assert ev.get("mech") == "PLAIN", ev
    # an unknown account answers the same (no account enumeration)
    r = auth_login(c, "nobody@example.test", PASSWORD)
    assert r.code == 535 and r.enhanced == "5.7.8", r
    ev = sub.wait_for_log("auth_failed", client=src, user="nobody@example.test")[0]
    assert ev.get("mech") == "LOGIN", ev
    # under the limit the session can still authenticate
    r = auth_plain(c, BOB, PASSWORD)
    assert r.code == 235, r
    c.quit()
    assert len(sub.events("auth_failed", client=src)) == 2
    assert not sub.events("auth_lockout", client=src)


def test_malformed_and_cancelled_auth(sub):
    src = "127.0.1.14"
    c = connect465(sub, source=src)
    # someone else's identity as authzid
    r = auth_plain(c, BOB, PASSWORD, authzid=CAROL)
    assert r.code in (501, 535), r
    r = c.cmd("AUTH PLAIN not-base64!")
    assert r.code == 501, r
    r = c.cmd("AUTH PLAIN " + b64("%s\0%s" % (BOB, PASSWORD)))    # one NUL only
    assert r.code == 501, r
    r = c.cmd("AUTH CRAM-MD5")
    assert r.code == 504, r
    r = c.cmd("AUTH LOGIN")
    assert r.code == 334, r
    r = c.cmd("*")
    assert r.code == 501, r
    # the session is still usable
    r = auth_plain(c, BOB, PASSWORD)
    assert r.code == 235, r
    c.quit()


def test_auth_pipelined_with_mail(sub):
    """The password check runs off the event loop: commands pipelined
    behind AUTH wait for its result instead of racing it."""
    src = "127.0.1.20"
    c = connect587(sub, source=src)
    c.send("AUTH PLAIN %s\r\nMAIL FROM:<%s>\r\nRCPT TO:<%s>\r\nRSET\r\n"
           % (b64("\0%s\0%s" % (BOB, PASSWORD + "!")), BOB, CAROL))
    rs = c.replies(4)
    assert [r.code for r in rs[:2]] == [535, 530], rs
    assert rs[2].code in (503, 530) and rs[3].code == 250, rs
    c.send("AUTH PLAIN %s\r\nMAIL FROM:<%s>\r\nRCPT TO:<%s>\r\nRSET\r\n"
           % (b64("\0%s\0%s" % (BOB, PASSWORD)), BOB, CAROL))
    rs = c.replies(4)
    assert [r.code for r in rs] == [235, 250, 250, 250], rs
    c.quit()


def test_disconnect_during_password_check(sub):
    """Clients that hang up while their password is being verified: no
    crash, no stuck worker; AUTH keeps working afterwards."""
    src = "127.0.1.21"
    for i in range(6):
        c = connect465(sub, source=src) if i % 2 else connect587(sub, source=src)
        c.send("AUTH PLAIN %s\r\n" % b64("\0%s\0%s" % (BOB, PASSWORD)))
        c.close()
    c = connect587(sub, source=src)
    r = c.cmd("AUTH LOGIN")
    assert r.code == 334, r
    c.close()                           # in the middle of the LOGIN dialogue
    c = connect587(sub, source=src)
    assert auth_plain(c, BOB, PASSWORD).code == 235
    c.quit()
    assert sub.alive(), sub.stderr_text()


def test_overlong_sasl_fields(sub):
    src = "127.0.1.22"
    c = connect465(sub, source=src)
    r = c.cmd("AUTH LOGIN")
    assert r.code == 334, r
    r = c.cmd(b64("u" * 600 + "@example.test"))
    assert r.code in (501, 535), r
    r = c.cmd("AUTH PLAIN " + b64("\0%s\0%s" % (BOB, "p" * 600)))
    assert r.code in (500, 501, 535), r
    c.quit()
    assert not sub.events("auth", client=src)


def test_lockout_after_max_failures(sub):
    src, other = "127.0.1.15", "127.0.1.16"
    c = connect587(sub, source=src)
    for i in range(3):
        r = auth_plain(c, BOB, "wrong-password-%d" % i)
        assert r.code == 535, (i, r)
    ev = sub.wait_for_log("auth_lockout", client=src)[0]
    assert ev.get("event") == "auth_lockout"
    # now refused even with the right password, whatever the mechanism
    r = auth_plain(c, BOB, PASSWORD)
    assert r.code == 454 and r.enhanced == "4.7.0", r
    r = c.cmd("AUTH LOGIN")
    assert r.code == 454 and r.enhanced == "4.7.0", r
    r = c.cmd("MAIL FROM:<%s>" % BOB)
    assert r.code == 530, r
    c.quit()
    # on a new connection, and on the other port
    c = connect465(sub, source=src)
    r = auth_plain(c, CAROL, PASSWORD)
    assert r.code == 454 and r.enhanced == "4.7.0", r
    c.quit()
    # per IP only: bob can still log in from elsewhere
    c = connect587(sub, source=other)
    r = auth_plain(c, BOB, PASSWORD)
    assert r.code == 235, r
    c.quit()
    # the refused attempts were not verified as successes
    assert not sub.events("auth", client=src)


# ---------------------------------------------------------------- MAIL

def test_mail_requires_auth(sub):
    for port in (587, 465):
        c = connect587(sub) if port == 587 else connect465(sub)
        r = c.cmd("MAIL FROM:<%s>" % BOB)
        assert r.code == 530 and r.enhanced == "5.7.0", (port, r)
        r = c.cmd("RCPT TO:<%s>" % CAROL)
        assert r.code in (503, 530), (port, r)
        c.quit()


@pytest.mark.parametrize("sender,code", [
    (BOB, 250),
    ("", 250),                          # the null sender
    ("sales@example.test", 250),        # an alias pointing to bob
    ("Bob@Example.TEST", 250),          # the account, in another case
    (CAROL, 553),                       # another account
    ("support@example.test", 553),      # an alias of another account
    ("postmaster@example.test", 553),
    ("bob@elsewhere.test", 553),        # same local part, other domain
    ("alice@sender.test", 553),
    ("nobody@example.test", 553),
])
def test_sender_must_belong_to_account(sub, sender, code):
    c = logged_in(sub)
    r = c.cmd("MAIL FROM:<%s>" % sender)
    assert r.code == code, (sender, r)
    if code == 553:
        assert r.enhanced == "5.7.1", r
    c.quit()


@pytest.mark.parametrize("header_from,code", [
    ("<bob@example.test>", 250),
    ("Bob <sales@example.test>", 250),          # an alias of bob
    ("<carol@example.test>", 553),              # another account
    ("Boss <ceo@elsewhere.test>", 553),
    ("<support@example.test>", 553),            # an alias of carol
])
def test_header_from_must_belong_to_account(sub, header_from, code):
    """SPEC 6.1: the envelope sender *and* From: belong to the account or
    its aliases (553 5.7.1 otherwise), so a stolen password cannot send
    mail that displays someone else as the author."""
    t = token()
    msg = message(t).replace(b"From: <%s>" % BOB.encode(),
                             b"From: " + header_from.encode())
    assert header_from.encode() in msg
    c = logged_in(sub)
    c.expect("MAIL FROM:<%s>" % BOB, 250)
    c.expect("RCPT TO:<%s>" % CAROL, 250)
    c.expect("DATA", 354)
    c.send(msg + b".\r\n")
    r = c.reply()
    c.quit()
    assert r.code == code, (header_from, r)
    if code == 553:
        assert r.enhanced == "5.7.1", r
    else:
        sub.wait_for_mail("carol", token=t)


def test_local_delivery_carries_account(sub):
    t = token()
    c = logged_in(sub, port=587)
    qid = queue_id(c.send_mail(BOB, [CAROL], message(t)))
    c.quit()
    raw = sub.wait_for_mail("carol", token=t)[0].read_bytes()
    rec = received_headers(raw)[0]
    assert "(authenticated as %s)" % BOB in rec, rec
    assert re.search(r"\bwith ESMTPSA\b", rec), rec
    assert " id %s" % qid in rec, rec
    ev = sub.wait_for_log("accepted", id=qid)[0]
    assert ev.get("user") == BOB, ev
    assert ev.get("from") == BOB, ev


def test_465_alias_sender_and_log(sub):
    t = token()
    c = logged_in(sub, port=465, user=CAROL)
    qid = queue_id(c.send_mail("support@example.test", [BOB], message(t, "support@example.test",
                                                                       BOB)))
    c.quit()
    raw = sub.wait_for_mail("bob", token=t)[0].read_bytes()
    rec = received_headers(raw)[0]
    assert "(authenticated as %s)" % CAROL in rec, rec
    assert re.search(r"\bwith ESMTPSA\b", rec), rec
    assert sub.wait_for_log("accepted", id=qid)[0].get("user") == CAROL


def test_authenticated_relay_to_remote(sub, sink):
    t = token()
    before = len(sink.accepted())
    c = logged_in(sub)
    qid = queue_id(c.send_mail(BOB, ["someone@remote.test"], message(t, BOB,
                                                                     "someone@remote.test")))
    c.quit()
    ev = sub.wait_for_log("accepted", id=qid)[0]
    assert ev.get("user") == BOB, ev
    txs = sink.wait_for_transactions(before + 1, timeout=20)
    tx = [x for x in txs if x.data and t.encode() in x.data]
    assert tx, txs
    tx = tx[0]
    assert tx.mail_from == BOB, tx
    assert tx.rcpts == ["someone@remote.test"], tx
    rec = received_headers(tx.data)[0]
    assert "(authenticated as %s)" % BOB in rec, rec
    assert re.search(r"\bwith ESMTPSA\b", rec), rec
    sub.wait_for_log("delivered", id=qid, timeout=20)


def test_unauthenticated_port25_does_not_relay(sub):
    c = sub.client()
    c.ehlo()
    c.expect("MAIL FROM:<%s>" % BOB, 250)
    r = c.cmd("RCPT TO:<someone@remote.test>")
    assert r.code == 554 and r.enhanced == "5.7.1", r
    c.quit()


def test_outbound_spam_refused_with_alert(sub):
    """Content at or above score_junk from an account: 550 5.7.1, an alert,
    nothing delivered; the account's next mail is held (SPEC 6.4). frank
    is used only here, so the hold touches no other test."""
    t = token()
    c = logged_in(sub, user=FRANK)
    c.expect("MAIL FROM:<%s>" % FRANK, 250)
    c.expect("RCPT TO:<%s>" % CAROL, 250)
    c.expect("DATA", 354)
    # no Date, no Message-ID: 1.5 >= score_junk 0.4
    c.send(message(t, sender=FRANK, date=False) + b".\r\n")
    r = c.reply()
    assert r.code == 550 and r.enhanced == "5.7.1", r
    sub.wait_for_log("alert", kind="outbound_spam", user=FRANK)
    assert sub.wait_for_log("reject", reason="outbound_spam", user=FRANK)
    assert not [e for e in sub.events("accepted") if e.get("user") == FRANK]
    # the session goes on; a clean message is accepted but held
    t2 = token()
    qid = queue_id(c.send_mail(FRANK, [CAROL], message(t2, sender=FRANK)))
    c.quit()
    assert sub.wait_for_log("accepted", id=qid)[0].get("user") == FRANK
    sub.wait_for_log("held", id=qid)
    for folder in ("", ".Junk"):
        assert not [p for p in sub.mail_files("carol", folder=folder)
                    if t.encode() in p.read_bytes() or t2.encode() in p.read_bytes()]


def test_no_blocklist_lookup_for_submission(sub):
    """127.0.0.2 is listed in the (fake) zen zone: on the submission ports
    it is never looked up, so an authenticated client there sends mail."""
    dns = fake_dns()
    listed = "127.0.0.2"
    c = logged_in(sub, source=listed)
    t = token()
    queue_id(c.send_mail(BOB, [CAROL], message(t)))
    c.quit()
    src = "127.0.1.17"
    c = logged_in(sub, port=465, source=src)
    t2 = token()
    queue_id(c.send_mail(BOB, [CAROL], message(t2)))
    c.quit()
    sub.wait_for_mail("carol", token=t2)
    with dns.lock:
        names = [q[0] for q in dns.queries]
    assert "17.1.0.127.zen.spamhaus.org" not in names, names
    for e in sub.events():
        if e.get("event", "").startswith("dnsbl") or e.get("reason") == "dnsbl":
            assert e.get("client") not in (listed, src), e
    # control: the same kind of address on port 25 is looked up
    ctl = "127.0.1.18"
    c = sub.client(source=ctl)
    c.ehlo()
    c.quit()
    wait_until(lambda: ("18.1.0.127.zen.spamhaus.org", 1) in list(dns.queries), 10,
               what="zen lookup of the port-25 client")


# ---------------------------------------------------------------- passwords

@pytest.mark.parametrize("password,why", [
    ("short1!", r"short|12|length|characters"),
    ("password1234", r"common|list"),
    ("Qz7#dave-Kp2wLm", r"account|name|local|user|address"),
    ("aaaaaaaaaaaaaaa", r"guess|weak|easy|zxcvbn|predictable"),
    ("qwertyuiopasdfgh", r"guess|weak|easy|zxcvbn|predictable"),
])
def test_user_add_refuses_weak_password(sub, password, why):
    r = sub.cli("user", "add", "dave@example.test", "--password-stdin",
                stdin=password + "\n", check=False)
    assert r.returncode == 1, r
    out = (r.stdout + r.stderr).lower()
    assert re.search(why, out), out
    listing = sub.cli("user", "list").stdout
    assert "dave@example.test" not in listing, listing


def test_user_passwd_same_rules(sub):
    user, src = "erin@example.test", "127.0.1.19"
    first, second = "Gx4!nT8-wq2Zr7", "Mb5#Yk9-pL3vH2s"
    sub.cli("user", "add", user, "--password-stdin", stdin=first + "\n")
    try:
        for weak in ("short1!", "password1234", "ERIN-Qz7#Kp2wLm", "aaaaaaaaaaaaaaa"):
            r = sub.cli("user", "passwd", user, "--password-stdin", stdin=weak + "\n",
                        check=False)
            assert r.returncode == 1, (weak, r)
            assert (r.stdout + r.stderr).strip(), r
        c = connect587(sub, source=src)
        assert auth_plain(c, user, first).code == 235
        c.quit()
        sub.cli("user", "passwd", user, "--password-stdin", stdin=second + "\n")
        c = connect587(sub, source=src)
        r = auth_plain(c, user, second)
        assert r.code == 235, r
        c.quit()
        c = connect465(sub, source=src)
        r = auth_plain(c, user, first)
        assert r.code == 535, r
        c.quit()
    finally:
        sub.cli("user", "del", user, check=False)
