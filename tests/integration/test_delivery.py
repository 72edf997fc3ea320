"""Local delivery, recipient checks and relay refusal on the port 25 role."""

import email.utils
import re
import uuid

import pytest

from conftest import token, DOMAIN, HOSTNAME, queue_id, simple_message, split_message



RECEIVED_RE = re.compile(
    r"^Received: from (?P<helo>\S+) \((?P<rdns>[A-Za-z0-9.\-]+) \[(?P<ip>[0-9.]+)\]\)"
    r" by (?P<host>\S+) \(postern\) with (?P<proto>ESMTPS?A?) id (?P<id>[A-Za-z0-9]+)"
    r"(?: for <(?P<rcpt>[^>]+)>)?; (?P<date>.+)$")


def test_clean_delivery_received_header(shared_server):
    srv = shared_server
    t = token()
    c = srv.client()
    assert c.banner.code == 220 and HOSTNAME in c.banner.text, c.banner
    ehlo = c.ehlo("client.test")
    kw = [l.split()[0].upper() for l in ehlo.texts[1:]]
    for ext in ("PIPELINING", "SIZE", "8BITMIME", "ENHANCEDSTATUSCODES", "SMTPUTF8", "CHUNKING"):
        assert ext in kw, ehlo
    final = c.send_mail("alice@sender.test", ["bob@example.test"], simple_message(t))
    qid = queue_id(final)
    assert final.text.startswith("2.0.0"), final
    c.quit()

    files = srv.wait_for_mail("bob", token=t)
    assert len(files) == 1
    raw = files[0].read_bytes()
    headers, body = split_message(raw)
    assert headers[0] == "Return-Path: <alice@sender.test>", headers[:3]
    assert headers[1] == "Delivered-To: bob@example.test", headers[:3]
    # The Received header is on one line in the file.
    rec_lines = [l for l in raw.decode().replace("\r\n", "\n").split("\n")
                 if l.startswith("Received:")]
    assert rec_lines, raw[:500]
    m = RECEIVED_RE.match(rec_lines[0])
    assert m, "bad Received line: %r" % rec_lines[0]
    # Postern's own trace/verdict headers come first: Received is the first
    # header after Return-Path and Delivered-To, apart from X-Spam-* lines.
    first_rec = next(i for i, h in enumerate(headers) if h.startswith("Received:"))
    assert all(h.lower().startswith(("x-spam-", "authentication-results:"))
               for h in headers[2:first_rec]), headers[:first_rec]
    assert headers[first_rec] == rec_lines[0], "Received must be on one line"
    assert m["helo"] == "client.test"
    assert m["ip"] == "127.0.0.1"
    assert m["host"] == HOSTNAME
    assert m["proto"] == "ESMTP"
    assert m["id"] == qid, (m["id"], qid)
    assert m["rcpt"] == "bob@example.test", rec_lines[0]
    assert email.utils.parsedate_to_datetime(m["date"]) is not None, m["date"]
    # Original message intact after the trace headers.
    assert ("Message-ID: <%s@sender.test>" % t) in headers
    assert b"hello " + t.encode() in body

    acc = srv.wait_for_log("accepted", id=qid)[0]
    assert acc.get("client") == "127.0.0.1"
    assert acc.get("from") == "alice@sender.test"
    assert "bob@example.test" in acc.get("rcpts", "")
    assert int(acc.get("size", "-1")) > 0
    assert "score" in acc
    dl = srv.wait_for_log("delivered", id=qid)[0]
    assert dl.get("rcpt") == "bob@example.test"
    assert dl.get("mailbox", "").endswith("bob"), dl


def test_unknown_user_550(shared_server):
    c = shared_server.client()
    c.ehlo()
    c.expect("MAIL FROM:<alice@sender.test>", 250)
    r = c.cmd("RCPT TO:<nosuchuser@example.test>")
    assert r.code == 550 and r.enhanced == "5.1.1", r
    ev = shared_server.wait_for_log("reject", stage="rcpt", rcpt="nosuchuser@example.test")[-1]
    assert ev.get("reason"), ev
    # Nothing to send: DATA without any valid recipient is refused.
    r = c.cmd("DATA")
    assert r.code in (503, 554), r
    c.quit()


def test_relay_refused(shared_server):
    c = shared_server.client()
    c.ehlo()
    c.expect("MAIL FROM:<alice@sender.test>", 250)
    r = c.cmd("RCPT TO:<someone@remote.test>")
    assert r.code == 554 and r.enhanced == "5.7.1" and "relay access denied" in r.text.lower(), r
    c.quit()
    ev = shared_server.wait_for_log("reject", stage="rcpt", rcpt="someone@remote.test")[-1]
    assert ev.get("reason"), ev


# (recipient, accepted reply codes, enhanced code prefix or None)
RELAY_TRICKS = [
    ("bob%remote.test@example.test", (550,), "5.1.1"),
    ("bob!remote.test@example.test", (550,), "5.1.1"),  # not relay: unknown local user
    ('"bob@remote.test"@example.test', (550, 553, 554, 501), None),
    ("@example.test:bob@remote.test", (554,), "5.7.1"),
    ("@example.test,@example.test:bob@remote.test", (554,), "5.7.1"),
    ("bob@[127.0.0.1]", (554,), "5.7.1"),
    ("bob@remote.test@example.test", (553,), None),
    ("bob@remote.test.", (553, 554, 501), None),
    ("bob@REMOTE.test", (554,), "5.7.1"),
    ("bob%remote.test@EXAMPLE.TEST", (550,), "5.1.1"),
]


@pytest.mark.parametrize("rcpt,codes,enh", RELAY_TRICKS, ids=[r[0] for r in RELAY_TRICKS])
def test_relay_tricks(shared_server, rcpt, codes, enh):
    srv = shared_server
    c = srv.client()
    c.ehlo()
    c.expect("MAIL FROM:<alice@sender.test>", 250)
    r = c.cmd("RCPT TO:<%s>" % rcpt)
    assert r.code in codes, "RCPT TO:<%s> -> %r, expected one of %s" % (rcpt, r, codes)
    if enh:
        assert r.enhanced == enh, r
    # With no accepted recipient, DATA cannot start a message.
    r = c.cmd("DATA")
    assert r.code in (503, 554), "DATA after refused RCPT -> %r" % r
    c.quit()


def test_postmaster_and_abuse_without_accounts(shared_server):
    srv = shared_server
    t1, t2, t3 = token(), token(), token()
    c = srv.client()
    c.ehlo()
    queue_id(c.send_mail("alice@sender.test", ["postmaster@example.test"], simple_message(t1)))
    queue_id(c.send_mail("alice@sender.test", ["abuse@example.test"], simple_message(t2)))
    queue_id(c.send_mail("alice@sender.test", ["PostMaster@Example.Test"], simple_message(t3)))
    c.quit()
    srv.wait_for_mail("postmaster", token=t1)
    srv.wait_for_mail("postmaster", token=t2)
    srv.wait_for_mail("postmaster", token=t3)
    assert not srv.maildir("abuse").exists()


def test_bare_postmaster_without_domain(shared_server):
    """RFC 5321 4.1.1.3 / 4.5.1: RCPT TO:<Postmaster> (no domain) MUST be accepted."""
    srv = shared_server
    t = token()
    c = srv.client()
    c.ehlo()
    c.expect("MAIL FROM:<alice@sender.test>", 250)
    r = c.cmd("RCPT TO:<Postmaster>")
    assert r.code == 250, "RCPT TO:<Postmaster> -> %r" % r
    c.expect("DATA", 354)
    c.send(simple_message(t) + b".\r\n")
    queue_id(c.reply())
    c.quit()
    srv.wait_for_mail("postmaster", token=t)


def test_alias_delivery(make_server):
    srv = make_server(users=("bob",))
    srv.add_alias("sales@example.test", "bob@example.test")
    srv.add_alias("info@example.test", "sales@example.test")  # alias of an alias
    srv.reload()
    t1, t2 = token(), token()
    c = srv.client()
    c.ehlo()
    queue_id(c.send_mail("alice@sender.test", ["sales@example.test"], simple_message(t1)))
    queue_id(c.send_mail("alice@sender.test", ["info@example.test"], simple_message(t2)))
    c.quit()
    srv.wait_for_mail("bob", token=t1)
    srv.wait_for_mail("bob", token=t2)
    assert not srv.maildir("sales").exists()
    assert not srv.maildir("info").exists()


def test_plus_tag_delivery(shared_server):
    srv = shared_server
    t = token()
    c = srv.client()
    c.ehlo()
    qid = queue_id(c.send_mail("alice@sender.test", ["carol+newsletters@example.test"],
                               simple_message(t)))
    c.quit()
    files = srv.wait_for_mail("carol", token=t)
    assert len(files) == 1
    assert not srv.maildir("carol+newsletters").exists()
    srv.wait_for_log("delivered", id=qid)
    # An unknown base local part with a tag is still unknown.
    c = srv.client()
    c.ehlo()
    c.expect("MAIL FROM:<alice@sender.test>", 250)
    r = c.cmd("RCPT TO:<nosuch+tag@example.test>")
    assert r.code == 550 and r.enhanced == "5.1.1", r
    c.quit()


def test_null_sender_accepted(shared_server):
    srv = shared_server
    t = token()
    c = srv.client()
    c.ehlo()
    r = c.cmd("MAIL FROM:<>")
    assert r.code == 250, r
    c.expect("RCPT TO:<bob@example.test>", 250)
    c.expect("DATA", 354)
    c.send(simple_message(t, subject="bounce") + b".\r\n")
    qid = queue_id(c.reply())
    c.quit()
    files = srv.wait_for_mail("bob", token=t)
    headers, _ = split_message(files[0].read_bytes())
    assert headers[0] == "Return-Path: <>", headers[:2]
    srv.wait_for_log("delivered", id=qid)


def test_multiple_recipients_one_message(shared_server):
    srv = shared_server
    t = token()
    c = srv.client()
    c.ehlo()
    qid = queue_id(c.send_mail("alice@sender.test",
                               ["bob@example.test", "carol@example.test"], simple_message(t)))
    c.quit()
    fb = srv.wait_for_mail("bob", token=t)
    fc = srv.wait_for_mail("carol", token=t)
    hb, _ = split_message(fb[0].read_bytes())
    hc, _ = split_message(fc[0].read_bytes())
    assert hb[1] == "Delivered-To: bob@example.test"
    assert hc[1] == "Delivered-To: carol@example.test"
    for h, rc in ((hb, "bob"), (hc, "carol")):
        rec = next(x for x in h if x.startswith("Received:"))
        m = RECEIVED_RE.match(rec)
        assert m and m["id"] == qid, rec
        # With several recipients "for <...>" may be left out (as Postfix
        # does, not to disclose the others); when present it must be this one.
        assert m["rcpt"] in (None, rc + "@example.test"), rec
    srv.wait_for_log("delivered", id=qid, count=2)


def test_vrfy_expn_rset_noop_help(shared_server):
    c = shared_server.client()
    c.ehlo()
    assert c.cmd("VRFY bob").code == 252
    assert c.cmd("EXPN staff").code == 502
    assert c.cmd("NOOP").code == 250
    assert c.cmd("RSET").code == 250
    # Sequence errors.
    assert c.cmd("RCPT TO:<bob@example.test>").code == 503
    assert c.cmd("DATA").code == 503
    c.expect("MAIL FROM:<alice@sender.test>", 250)
    assert c.cmd("MAIL FROM:<alice@sender.test>").code == 503
    r = c.quit()
    assert r is not None and r.code == 221, r


def test_dot_stuffing_roundtrip(shared_server):
    srv = shared_server
    t = token()
    body = simple_message(t, body_lines=[".leading dot", "..two dots", ".", "end " + t])
    c = srv.client()
    c.ehlo()
    queue_id(c.send_mail("alice@sender.test", ["bob@example.test"], body))
    c.quit()
    raw = srv.wait_for_mail("bob", token="end " + t)[0].read_bytes()
    _, b = split_message(raw)
    assert b.replace(b"\r\n", b"\n") == (
        b".leading dot\n..two dots\n.\nend " + t.encode() + b"\n"), b


def test_log_is_all_logfmt_events(shared_server):
    """SPEC 7.1: every line of the log file is `ts=ISO8601 event=NAME ...`."""
    srv = shared_server
    c = srv.client()
    c.ehlo()
    c.cmd("RCPT TO:<x@example.test>")
    c.quit()
    srv.wait_for_log("disconnect", count=2)
    lines = srv.log_lines()
    assert lines
    pat = re.compile(r'^ts=\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:?\d\d) '
                     r'event=[a-z_]+( [A-Za-z_][\w.\-]*=("([^"\\]|\\.)*"|[^\s"]*))*$')
    bad = [l for l in lines if not pat.match(l)]
    assert not bad, bad[:5]
