"""Remote delivery (SPEC 6.7): the queue's SMTP client against test sinks.

A real unbound (dnsfixture.Unbound) serves the zone rd.test: each domain's
MX points at a 127.0.0.x address where a tests/integration/smtpsink.py
SMTPSink listens; every sink of the module shares one port, the server's
`outbound_port`. The server relays for 127.0.0.0/8 (`trusted_networks`),
so mail submitted on its port 25 role to a remote address is queued and
delivered by the SMTP client. Bounces go to bob@example.test, a local
account, and are checked in his Maildir.
"""

import email
import email.policy
import re
import socket
import time
import uuid

import pytest

from conftest import (token, HOSTNAME, dot_stuff, make_cert, queue_id, simple_message, split_message,
                      wait_until)
from dnsfixture import Unbound
from smtpsink import SMTPSink
from testca import TestCA

SENDER = "bob@example.test"     # local: bounces land in bob's Maildir

# sink addresses (see the rd.test zone in dnsfixture.py)
IP_PLAIN = "127.0.0.61"         # plain.rd.test
IP_TLS = "127.0.0.62"           # tls.rd.test
IP_NOPIPE = "127.0.0.63"        # nopipe.rd.test
IP_IMPLICIT = "127.0.0.64"      # implicit.rd.test: an A record and no MX
IP_RETRY = "127.0.0.65"         # retry.rd.test
IP_RETRY2 = "127.0.0.76"        # retry2.rd.test
IP_PERM = "127.0.0.66"          # perm.rd.test
IP_DEAD = "127.0.0.67"          # dead.backup.rd.test, MX 10 of backup.rd.test: nothing listens
IP_BACKUP2 = "127.0.0.68"       # mx2.backup.rd.test, MX 20 (and MX 20 of busy.rd.test)
IP_BACKUP3 = "127.0.0.69"       # mx3.backup.rd.test, MX 30
IP_BUSY = "127.0.0.77"          # mx1.busy.rd.test, MX 10 of busy.rd.test
IP_EXPIRE = "127.0.0.70"        # expire.rd.test
IP_RESTART = "127.0.0.71"       # restart.rd.test
IP_MIXED = "127.0.0.72"         # mixed.rd.test
IP_SMARTHOST = "127.0.0.73"     # smarthost.rd.test (A only)
IP_VIAMX = "127.0.0.74"         # viamx.rd.test
IP_TLSREQ = "127.0.0.75"        # tlsreq.rd.test
IP_BADTLS = "127.0.0.78"        # badtls.rd.test and badtlsreq.rd.test

TEMPFAIL = "451 4.3.0 try later"



# ---------------------------------------------------------------- fixtures

@pytest.fixture(scope="module")
def unbound(tmp_path_factory):
    u = Unbound(tmp_path_factory.mktemp("unbound-rd")).start()
    yield u
    u.stop()


@pytest.fixture(scope="module")
def port():
    """One port, free on every address now: all sinks listen on it."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("0.0.0.0", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def cert(tmp_path_factory):
    return make_cert(tmp_path_factory.mktemp("sinkcert"))


@pytest.fixture
def sink(port, cert):
    """Factory: sink(ip, **SMTPSink options) -> a started SMTPSink."""
    made = []

    def make(ip, **kw):
        if kw.get("starttls"):
            kw.setdefault("cert", cert[0])
            kw.setdefault("key", cert[1])
        s = SMTPSink(ip, port, **kw).start()
        made.append(s)
        return s

    yield make
    errors = []
    for s in made:
        s.stop()
        errors += s.errors
    assert not errors, "sink errors: %r" % errors


@pytest.fixture
def mta(make_server, unbound, port):
    """Factory: a started server relaying for loopback, with the test DNS
    and short retry timers; keyword arguments override config keys."""

    def make(**cfg):
        config = {
            "dns_servers": unbound.address,
            "trusted_networks": "127.0.0.0/8",
            "outbound_port": str(port),
            "retry_initial": "1s",
            "retry_max": "2s",
            "queue_lifetime": "30s",
            "outbound_timeout": "5s",
        }
        config.update({k: str(v) for k, v in cfg.items()})
        return make_server(config=config)

    return make


# ---------------------------------------------------------------- helpers

def send(srv, sender, rcpts, msg):
    """Submit one message on the port 25 role; returns the queue id."""
    c = srv.client()
    c.ehlo("client.test")
    r = c.send_mail(sender, rcpts, msg)
    qid = queue_id(r)
    c.quit()
    return qid


def one(srv, event, timeout=10, **match):
    return srv.wait_for_log(event, timeout=timeout, **match)[-1]


def removed(srv, qid, timeout=10):
    return srv.wait_for_log("removed", timeout=timeout, id=qid)


def queue_ids(srv):
    """Queue ids listed by `postern queue list` (works with the server down)."""
    out = srv.cli("queue", "list").stdout
    return set(re.findall(r"^([0-9A-Za-z]{8,})\s", out, re.M)) - {"ID"}


def bounces(srv, local="bob"):
    """Bounce reports (raw bytes) in local's Maildir."""
    out = []
    for raw in srv.messages(local):
        if b"multipart/report" in raw:
            out.append(raw)
    return out


def wait_bounces(srv, count, timeout=10, local="bob"):
    return wait_until(lambda: (lambda b: b if len(b) >= count else None)(bounces(srv, local)),
                      timeout, what="%d bounce(s) in %s's Maildir" % (count, local))


def check_dsn(raw, failed, tok, status_class="5"):
    """RFC 3464 structure of a bounce for `failed` recipients of the message
    whose Subject carried `tok`; returns {recipient: per-recipient fields}."""
    headers, _ = split_message(raw)
    assert headers[0] == "Return-Path: <>", headers[:3]
    msg = email.message_from_bytes(raw, policy=email.policy.compat32)
    assert msg.get_content_type() == "multipart/report", msg["Content-Type"]
    assert (msg.get_param("report-type") or "").lower() == "delivery-status", msg["Content-Type"]
    assert SENDER in (msg["To"] or ""), msg["To"]
    assert (msg["Auto-Submitted"] or "").startswith("auto-"), msg["Auto-Submitted"]
    parts = msg.get_payload()
    assert isinstance(parts, list) and len(parts) >= 2, parts
    assert parts[0].get_content_type() == "text/plain", parts[0]["Content-Type"]
    ds = [p for p in parts if p.get_content_type() == "message/delivery-status"]
    assert len(ds) == 1, [p.get_content_type() for p in parts]
    blocks = ds[0].get_payload()
    assert isinstance(blocks, list) and len(blocks) >= 2, blocks
    per_msg = blocks[0]
    assert per_msg["Reporting-MTA"] and per_msg["Reporting-MTA"].lower().startswith("dns;"), \
        per_msg.items()
    per_rcpt = {}
    for b in blocks[1:]:
        fr = b["Final-Recipient"]
        assert fr and ";" in fr, b.items()
        atype, addr = [x.strip() for x in fr.split(";", 1)]
        assert atype.lower() == "rfc822", fr
        per_rcpt[addr.lower()] = b
    assert set(per_rcpt) == {f.lower() for f in failed}, (sorted(per_rcpt), failed)
    for addr, b in per_rcpt.items():
        assert (b["Action"] or "").strip().lower() == "failed", b.items()
        st = (b["Status"] or "").strip()
        assert re.fullmatch(r"%s\.\d{1,3}\.\d{1,3}" % status_class, st), (addr, st)
    orig = [p for p in parts if p.get_content_type() in ("text/rfc822-headers", "message/rfc822")]
    assert len(orig) == 1, [p.get_content_type() for p in parts]
    text = orig[0].as_string()
    assert "Subject: test %s" % tok in text, text[:1000]
    assert "Message-ID: <%s@sender.test>" % tok in text, text[:1000]
    return per_rcpt


def no_event(srv, event, **match):
    evs = srv.events(event, **match)
    assert not evs, "unexpected event=%s: %r" % (event, evs)


# ---------------------------------------------------------------- 1. delivery

def test_delivery_plain_tls_pipelining_data_intact(mta, sink, port):
    plain = sink(IP_PLAIN)                          # PIPELINING, no STARTTLS
    tls = sink(IP_TLS, starttls=True)
    nopipe = sink(IP_NOPIPE, pipelining=False)
    srv = mta()

    t1, t2, t3 = token(), token(), token()
    body1 = [".leading dot", "..two dots", ".", " . ", "h\xe9llo w\xf6rld \u2713", "end"]
    m1 = simple_message(t1, extra_headers="Content-Type: text/plain; charset=utf-8\r\n"
                        "Content-Transfer-Encoding: 8bit\r\nMIME-Version: 1.0",
                        body_lines=body1)
    # a large body through TLS: many writes and TLS records
    body2 = [".%05d %s \xe9\xe8" % (i, "x" * 90) for i in range(2500)]
    m2 = simple_message(t2, extra_headers="Content-Type: text/plain; charset=utf-8\r\n"
                        "Content-Transfer-Encoding: 8bit\r\nMIME-Version: 1.0",
                        body_lines=body2)
    m3 = simple_message(t3, body_lines=[".dot", "seven bit"])
    q1 = send(srv, SENDER, ["alice@plain.rd.test"], m1)
    q2 = send(srv, SENDER, ["carol@tls.rd.test"], m2)
    q3 = send(srv, SENDER, ["dave@nopipe.rd.test"], m3)

    d1 = one(srv, "delivered", id=q1)
    d2 = one(srv, "delivered", id=q2)
    d3 = one(srv, "delivered", id=q3)

    # -- plain text, pipelined
    (tx,) = plain.wait_for_transactions(1)
    assert d1["rcpt"] == "alice@plain.rd.test"
    assert d1["relay"] == "mx.plain.rd.test[%s]:%d" % (IP_PLAIN, port), d1
    assert d1["tls"] == "none", d1
    assert d1["reply"].startswith("250"), d1
    assert not tx.tls
    assert tx.mail_from == SENDER and tx.rcpts == ["alice@plain.rd.test"], tx
    assert tx.ehlo_name == HOSTNAME, tx.ehlo_name
    assert tx.session.esmtp, tx.session.commands
    assert tx.pipelined, ("PIPELINING offered but the client waited for each reply: %r"
                          % tx.session.commands)
    # the message arrives byte for byte (after the server's own trace headers)
    assert tx.data.endswith(m1), (tx.data[-400:], m1)
    assert tx.data.startswith(b"Received: "), tx.data[:200]
    assert b"\r\n..leading dot\r\n...two dots\r\n..\r\n . \r\n" in tx.raw_data, tx.raw_data
    assert re.search(rb"(^|\r\n)\.[^.]", tx.raw_data) is None, "unstuffed line in %r" % tx.raw_data
    params = tx.mail_params.upper().split()
    assert "BODY=8BITMIME" in params, tx.mail_params
    size = [p for p in params if p.startswith("SIZE=")]
    assert size and int(size[0][5:]) >= len(m1), tx.mail_params
    assert b"\r\n" in tx.data and re.search(rb"(?<!\r)\n", tx.data) is None, "bare LF sent"

    # -- STARTTLS
    (tx,) = tls.wait_for_transactions(1)
    assert tx.tls and tx.tls_version and tx.tls_version.startswith("TLSv1."), tx
    assert not tx.session.starttls_injection
    assert re.fullmatch(r"TLSv1\.[23]", d2["tls"]), d2
    assert d2["relay"] == "mx.tls.rd.test[%s]:%d" % (IP_TLS, port), d2
    assert tx.ehlo_name == HOSTNAME, "EHLO must be repeated after STARTTLS: %r" % (
        tx.session.commands,)
    cmds = [c.split()[0].upper() for c in tx.session.commands if c]
    assert cmds[:3] == ["EHLO", "STARTTLS", "EHLO"], tx.session.commands
    assert tx.data.endswith(m2), "large message altered through TLS (%d vs %d bytes)" % (
        len(tx.data), len(m2))

    # -- no PIPELINING offered: one command at a time
    (tx,) = nopipe.wait_for_transactions(1)
    assert not tx.pipelined and not tx.session.pipelined, (
        "client pipelined although PIPELINING was not offered: %r" % tx.session.commands)
    assert tx.data.endswith(m3)
    assert "BODY=8BITMIME" not in tx.mail_params.upper(), "7-bit message sent as 8BITMIME"
    assert d3["tls"] == "none"

    for q in (q1, q2, q3):
        removed(srv, q)
    no_event(srv, "deferred")
    no_event(srv, "bounced")
    assert queue_ids(srv) == set()


def test_parallel_delivery(mta, sink):
    """Three messages for three slow destinations are delivered at the same
    time, not one after the other."""
    sinks = [sink(ip) for ip in (IP_PLAIN, IP_NOPIPE, IP_IMPLICIT)]
    for s in sinks:
        s.delay("eom", 2.0)
    srv = mta()
    ids = [send(srv, SENDER, [rcpt], simple_message(token()))
           for rcpt in ("a@plain.rd.test", "b@nopipe.rd.test", "c@implicit.rd.test")]
    for q in ids:
        one(srv, "delivered", id=q, timeout=15)
    txs = [s.wait_for_transactions(1)[0] for s in sinks]
    latest_start = max(t.t_mail for t in txs)
    earliest_end = min(t.t_done for t in txs)
    assert latest_start < earliest_end, (
        "deliveries were serialised: MAIL times %r, end times %r"
        % ([round(t.t_mail, 2) for t in txs], [round(t.t_done, 2) for t in txs]))


# ---------------------------------------------------------------- 2. retry

def test_tempfail_then_retry(mta, sink):
    at_rcpt = sink(IP_RETRY)
    at_rcpt.script("rcpt", TEMPFAIL, first=1)
    at_eom = sink(IP_RETRY2)
    at_eom.script("eom", "452 4.3.1 insufficient system storage", first=1)
    srv = mta()
    t1, t2 = token(), token()
    m1, m2 = simple_message(t1), simple_message(t2)
    q1 = send(srv, SENDER, ["alice@retry.rd.test"], m1)
    q2 = send(srv, SENDER, ["carol@retry2.rd.test"], m2)

    d1 = one(srv, "deferred", id=q1)
    assert d1["rcpt"] == "alice@retry.rd.test", d1
    assert "451" in d1["reason"] and "try later" in d1["reason"], d1
    assert d1.get("attempt") == "1", d1
    assert d1.get("next"), d1
    d2 = one(srv, "deferred", id=q2)
    assert "452" in d2["reason"], d2

    e1 = one(srv, "delivered", id=q1, timeout=15)
    e2 = one(srv, "delivered", id=q2, timeout=15)
    assert e1["rcpt"] == "alice@retry.rd.test" and e2["rcpt"] == "carol@retry2.rd.test"
    removed(srv, q1)
    removed(srv, q2)
    # exactly one accepted copy each; the refused tries left nothing behind
    assert [t.data.endswith(m1) for t in at_rcpt.accepted()] == [True], at_rcpt.transactions
    assert len(at_rcpt.transactions) == 2, at_rcpt.transactions
    assert at_rcpt.transactions[0].rejected and not at_rcpt.transactions[0].rcpts
    assert [t.data.endswith(m2) for t in at_eom.accepted()] == [True], at_eom.transactions
    assert len(at_eom.transactions) == 2, at_eom.transactions
    no_event(srv, "bounced")
    assert bounces(srv) == []


# ---------------------------------------------------------------- 3. per-recipient 5xx

def test_permanent_failure_for_one_recipient(mta, sink):
    s = sink(IP_PERM)
    s.rcpt_replies["nobody@perm.rd.test"] = "550 5.1.1 <nobody@perm.rd.test>: no such user"
    srv = mta()
    t = token()
    m = simple_message(t)
    qid = send(srv, SENDER, ["nobody@perm.rd.test", "alice@perm.rd.test"], m)

    b = one(srv, "bounced", id=qid)
    assert b["rcpt"] == "nobody@perm.rd.test", b
    assert "550" in b["reason"] and "5.1.1" in b["reason"], b
    d = one(srv, "delivered", id=qid)
    assert d["rcpt"] == "alice@perm.rd.test", d
    bq = one(srv, "bounce_queued", id=qid)
    removed(srv, qid)

    (tx,) = s.wait_for_transactions(1)
    assert tx.rcpts == ["alice@perm.rd.test"], tx
    assert tx.data.endswith(m)
    assert [r[0] for r in tx.rejected] == ["nobody@perm.rd.test"], tx.rejected

    (raw,) = wait_bounces(srv, 1)
    fields = check_dsn(raw, ["nobody@perm.rd.test"], t)
    f = fields["nobody@perm.rd.test"]
    assert f["Status"].strip() == "5.1.1", f.items()
    assert "550" in (f["Diagnostic-Code"] or ""), f.items()
    # the refused recipient is never tried again
    assert len(s.transactions) == 1, s.transactions
    assert srv.events("deferred") == []
    # one bounce only
    time.sleep(0.5)                                 # a second bounce would come now
    assert len(bounces(srv)) == 1
    # the log says whom the bounce goes to (last: the checks above come first)
    assert bq["to"] == SENDER, "bounce_queued to= is not the bounce's recipient: %r" % bq


def test_bounce_that_cannot_be_written_keeps_the_message(mta, sink):
    """The bounce cannot be queued (queue/tmp/ is not a directory for a
    moment): the original stays in the queue, and the bounce goes once the
    queue can be written again; never an original removed with no bounce."""
    s = sink(IP_PERM)
    s.rcpt_replies["gone@perm.rd.test"] = "550 5.1.1 <gone@perm.rd.test>: no such user"
    s.delay("rcpt", 1.5)
    srv = mta()
    t = token()
    qid = send(srv, SENDER, ["gone@perm.rd.test"], simple_message(t))
    s.wait_for(lambda: s.sessions, timeout=10, what="the delivery started")
    tmp = srv.data_dir / "queue" / "tmp"
    tmp.rename(tmp.with_name("tmp.away"))
    tmp.write_text("not a directory\n")
    try:
        err = srv.wait_for_log("error", id=qid, timeout=15)[-1]
        assert "cannot queue bounce" in err["reason"] and "kept" in err["reason"], err
        assert (srv.data_dir / "queue" / qid).exists()
        assert srv.events("removed", id=qid) == []
    finally:
        tmp.unlink()
        tmp.with_name("tmp.away").rename(tmp)
    one(srv, "bounce_queued", id=qid)
    removed(srv, qid)
    (raw,) = wait_bounces(srv, 1)
    check_dsn(raw, ["gone@perm.rd.test"], t)


# ---------------------------------------------------------------- 4. MX fallback

def test_dead_primary_mx_falls_back_to_next_preference(mta, sink, port):
    # nothing listens on IP_DEAD (MX 10); MX 20 accepts; MX 30 must not be used
    second = sink(IP_BACKUP2)
    third = sink(IP_BACKUP3)
    srv = mta()
    t = token()
    m = simple_message(t)
    qid = send(srv, SENDER, ["alice@backup.rd.test"], m)
    d = one(srv, "delivered", id=qid)
    assert d["relay"] == "mx2.backup.rd.test[%s]:%d" % (IP_BACKUP2, port), d
    (tx,) = second.wait_for_transactions(1)
    assert tx.data.endswith(m)
    assert third.sessions == [], "MX 30 contacted although MX 20 accepted"
    no_event(srv, "deferred")


def test_tempfail_greeting_falls_back_to_next_mx(mta, sink, port):
    busy = sink(IP_BUSY)
    busy.script("connect", "421 4.3.2 too busy, try another MX")
    second = sink(IP_BACKUP2)
    srv = mta()
    m = simple_message(token())
    qid = send(srv, SENDER, ["alice@busy.rd.test"], m)
    d = one(srv, "delivered", id=qid)
    assert d["relay"] == "mx2.backup.rd.test[%s]:%d" % (IP_BACKUP2, port), d
    assert len(busy.sessions) >= 1, "MX 10 was not tried first"
    (tx,) = second.wait_for_transactions(1)
    assert tx.data.endswith(m)


def test_implicit_mx(mta, sink, port):
    """A domain with an A record and no MX gets mail at that address."""
    s = sink(IP_IMPLICIT)
    srv = mta()
    m = simple_message(token())
    qid = send(srv, SENDER, ["alice@implicit.rd.test"], m)
    d = one(srv, "delivered", id=qid)
    assert "[%s]:%d" % (IP_IMPLICIT, port) in d["relay"], d
    (tx,) = s.wait_for_transactions(1)
    assert tx.data.endswith(m)


# ---------------------------------------------------------------- 5. lifetime

def test_queue_lifetime_expiry_bounces_but_never_to_null_sender(mta, sink):
    s = sink(IP_EXPIRE)
    s.script("rcpt", TEMPFAIL)                      # forever
    srv = mta(queue_lifetime="4s")
    t1, t2 = token(), token()
    q1 = send(srv, SENDER, ["alice@expire.rd.test"], simple_message(t1))
    q2 = send(srv, "", ["carol@expire.rd.test"], simple_message(t2))

    one(srv, "deferred", id=q1)
    b1 = one(srv, "bounced", id=q1, timeout=15)
    assert b1["rcpt"] == "alice@expire.rd.test", b1
    assert "lifetime" in b1["reason"].lower(), b1
    b2 = one(srv, "bounced", id=q2, timeout=15)
    assert "lifetime" in b2["reason"].lower(), b2
    bq = one(srv, "bounce_queued", id=q1)
    removed(srv, q1)
    removed(srv, q2)
    # retried in between (backoff 1s, 2s within 4s): more than one attempt
    attempts = [int(e.get("attempt", 0)) for e in srv.events("deferred", id=q1)]
    assert len(attempts) >= 2 and attempts == sorted(attempts), attempts

    (raw,) = wait_bounces(srv, 1)
    f = check_dsn(raw, ["alice@expire.rd.test"], t1)["alice@expire.rd.test"]
    # RFC 3463 3.5: delivery time expired, not 5.0.0; the diagnostic is
    # the remote's last reply
    assert f["Status"].strip() == "5.4.7", f.items()
    assert f["Diagnostic-Code"].strip() == "smtp; 451 4.3.0 try later", f.items()
    # RFC 3464 2.3.1: no ORCPT was given, so no Original-Recipient
    assert f["Original-Recipient"] is None, f.items()
    # only the headers are attached, and the text says so
    assert b"Its headers are attached below" in raw and b"It is attached" not in raw
    assert t2.encode() not in raw
    # the null sender's message produced no bounce at all
    no_event(srv, "bounce_queued", id=q2)
    assert {r for t in s.transactions for r in t.rcpts + [x[0] for x in t.rejected]} <= {
        "alice@expire.rd.test", "carol@expire.rd.test"}, s.transactions
    assert q2 not in queue_ids(srv) and q1 not in queue_ids(srv)
    # the reason keeps the last error the remote server gave, intact
    for b in (b1, b2):
        assert "451 4.3.0 try later" in b["reason"], "last error lost: %r" % b["reason"]
    assert b"451 4.3.0 try later" in raw, "DSN does not quote the last error"
    assert all(32 <= c < 127 or c in (9, 10, 13) for c in raw), "non-ASCII bytes in the DSN"
    assert bq["to"] == SENDER, "bounce_queued to= is not the bounce's recipient: %r" % bq


def delay_warnings(srv, local="bob"):
    return [raw for raw in srv.messages(local) if b"multipart/report" in raw and
            re.search(rb"^Action: delayed", raw, re.M)]


def test_delay_warning_once_then_delivered(mta, sink):
    s = sink(IP_EXPIRE)
    s.script("rcpt", TEMPFAIL)                     # until the warning went
    srv = mta(delay_warning="2s")
    t1, t2 = token(), token()
    q1 = send(srv, SENDER, ["alice@expire.rd.test"], simple_message(t1))
    q2 = send(srv, "", ["carol@expire.rd.test"], simple_message(t2))

    w = one(srv, "delay_warning_queued", id=q1, timeout=15)
    assert w["to"] == SENDER, w
    (raw,) = wait_until(lambda: delay_warnings(srv) or None, 10, what="the delay warning")
    msg = email.message_from_bytes(raw, policy=email.policy.compat32)
    assert msg["Subject"].startswith("Delayed Mail"), msg["Subject"]
    assert (msg.get_param("report-type") or "").lower() == "delivery-status"
    ds = [p for p in msg.get_payload() if p.get_content_type() == "message/delivery-status"]
    blocks = ds[0].get_payload()
    assert len(blocks) == 2, blocks
    rb = blocks[1]
    assert rb["Final-Recipient"].split(";")[1].strip() == "alice@expire.rd.test", rb.items()
    assert rb["Action"].strip() == "delayed" and rb["Status"].strip() == "4.4.7", rb.items()
    assert rb["Original-Recipient"] is None, rb.items()
    assert "Subject: test %s" % t1 in msg.as_string()

    # a restart does not forget that the warning went
    srv.stop()
    s.clear_script()
    srv.start()
    one(srv, "delivered", id=q1, timeout=20)
    removed(srv, q1, timeout=10)
    one(srv, "delivered", id=q2, timeout=20)
    assert len(srv.events("delay_warning_queued", id=q1)) == 1
    assert len(delay_warnings(srv)) == 1
    # never to the null sender, and no bounce for mail that got through
    no_event(srv, "delay_warning_queued", id=q2)
    no_event(srv, "bounced")
    assert bounces(srv) == delay_warnings(srv)


def test_permanent_failure_of_null_sender_message_makes_no_bounce(mta, sink):
    s = sink(IP_PERM)
    s.script("rcpt", "550 5.1.1 no such user")
    srv = mta()
    qid = send(srv, "", ["nobody@perm.rd.test"], simple_message(token()))
    one(srv, "bounced", id=qid)
    removed(srv, qid)
    no_event(srv, "bounce_queued")
    assert bounces(srv) == []


# ---------------------------------------------------------------- 6. restart

@pytest.mark.parametrize("how", ["sigterm", "sigkill"])
def test_restart_during_retries_loses_nothing(mta, sink, how):
    s = sink(IP_RESTART)
    s.script("rcpt", TEMPFAIL)
    srv = mta(retry_initial="2s", retry_max="2s")
    t = token()
    m = simple_message(t)
    # bob is local (delivered at once), alice remote (deferred): the queue
    # keeps each recipient's state
    qid = send(srv, SENDER, ["bob@example.test", "alice@restart.rd.test"], m)
    one(srv, "deferred", id=qid)
    srv.wait_for_mail("bob", token=t)
    if how == "sigterm":
        assert srv.stop() == 0
    else:
        srv.expect_crash = True
        srv.kill9()
    listing = srv.cli("queue", "list").stdout
    assert qid in queue_ids(srv), listing
    alice = [l for l in listing.splitlines() if "alice@restart.rd.test" in l]
    assert alice and ("451" in alice[0] or "try later" in alice[0]), listing
    s.clear_script()                                # the remote end now accepts
    srv.expect_crash = False
    srv.start()
    one(srv, "delivered", id=qid, rcpt="alice@restart.rd.test", timeout=15)
    removed(srv, qid)
    (tx,) = s.wait_for_transactions(1)
    assert tx.data.endswith(m)
    time.sleep(1.0)                                 # a duplicate would come now
    assert len(s.accepted()) == 1, s.transactions
    assert [e["rcpt"] for e in srv.events("delivered", id=qid)] == [
        "bob@example.test", "alice@restart.rd.test"], srv.events("delivered", id=qid)
    assert len(srv.mail_files("bob")) == 1, "local recipient delivered again after restart"
    assert queue_ids(srv) == set()
    no_event(srv, "bounced")


# ---------------------------------------------------------------- 7. mixed

def test_mixed_local_and_remote_recipients(mta, sink):
    s = sink(IP_MIXED)
    srv = mta()
    t = token()
    m = simple_message(t)
    qid = send(srv, SENDER, ["bob@example.test", "carol@mixed.rd.test"], m)
    (f,) = srv.wait_for_mail("bob", token=t)
    headers, _ = srv_headers(f)
    assert headers[1] == "Delivered-To: bob@example.test", headers[:3]
    (tx,) = s.wait_for_transactions(1)
    assert tx.rcpts == ["carol@mixed.rd.test"], "local recipient sent out: %r" % tx.rcpts
    assert tx.data.endswith(m)
    ev = {e["rcpt"]: e for e in srv.wait_for_log("delivered", count=2, id=qid)}
    assert set(ev) == {"bob@example.test", "carol@mixed.rd.test"}, ev
    assert ev["bob@example.test"]["relay"] == "local", ev
    assert "[%s]" % IP_MIXED in ev["carol@mixed.rd.test"]["relay"], ev
    removed(srv, qid)


def srv_headers(path):
    return split_message(path.read_bytes())


# ---------------------------------------------------------------- 8. relayhost

def test_relayhost_takes_all_remote_mail(mta, sink, port):
    smart = sink(IP_SMARTHOST)
    viamx = sink(IP_VIAMX)
    srv = mta(relayhost="smarthost.rd.test:%d" % port)
    t = token()
    m = simple_message(t)
    # viamx.rd.test has an MX of its own; nxdomain.rd.test does not exist:
    # the smart host takes both, and local mail stays local
    qid = send(srv, SENDER, ["alice@viamx.rd.test", "carol@nxdomain.rd.test",
                             "bob@example.test"], m)
    evs = srv.wait_for_log("delivered", count=3, id=qid)
    by = {e["rcpt"]: e for e in evs}
    for r in ("alice@viamx.rd.test", "carol@nxdomain.rd.test"):
        assert "[%s]:%d" % (IP_SMARTHOST, port) in by[r]["relay"], by[r]
    assert by["bob@example.test"]["relay"] == "local"
    txs = smart.wait_for_transactions(1)
    got = sorted(r for tx in smart.accepted() for r in tx.rcpts)
    assert got == ["alice@viamx.rd.test", "carol@nxdomain.rd.test"], smart.transactions
    assert all(tx.data.endswith(m) for tx in txs)
    assert viamx.sessions == [], "the MX was contacted despite relayhost"
    no_event(srv, "bounced")
    srv.wait_for_mail("bob", token=t)


# ---------------------------------------------------------------- 9. TLS required

def test_tls_required_domain_never_in_plain_text(mta, sink, tmp_path, monkeypatch):
    # SPEC 12: the certificate must verify for the MX name (a CA of the
    # test, trusted through SSL_CERT_FILE; tests/integration/test_tls_required.py
    # has the failures)
    ca = TestCA(tmp_path / "ca")
    monkeypatch.setenv("SSL_CERT_FILE", str(ca.cert))
    cert, key = ca.leaf("mx.tls.rd.test")
    noTLS = sink(IP_TLSREQ)                         # does not offer STARTTLS
    withTLS = sink(IP_TLS, starttls=True, cert=cert, key=key)
    srv = mta(tls_required_domains="tlsreq.rd.test tls.rd.test")
    q1 = send(srv, SENDER, ["alice@tlsreq.rd.test"], simple_message(token()))
    q2 = send(srv, SENDER, ["carol@tls.rd.test"], simple_message(token()))

    d = one(srv, "deferred", id=q1)
    assert "TLS" in d["reason"], d
    assert d["rcpt"] == "alice@tlsreq.rd.test"
    # and again at the retry: still deferred, still no envelope sent
    srv.wait_for_log("deferred", count=2, id=q1, timeout=10)
    ok = one(srv, "delivered", id=q2)
    assert re.fullmatch(r"TLSv1\.[23]", ok["tls"]), ok
    (tx,) = withTLS.wait_for_transactions(1)
    assert tx.tls
    no_event(srv, "delivered", id=q1)
    no_event(srv, "bounced", id=q1)
    assert len(noTLS.sessions) >= 2, noTLS.sessions
    for sess in noTLS.sessions:
        verbs = [c.split()[0].upper() for c in sess.commands if c]
        assert not {"MAIL", "RCPT", "DATA"} & set(verbs), sess.commands
    assert noTLS.transactions == []
    assert q1 in queue_ids(srv)


def test_broken_starttls_opportunistic_falls_back_required_defers(mta, sink):
    """STARTTLS offered but the handshake fails: an opportunistic domain
    gets the mail in plain text, a TLS-required domain does not."""
    s = sink(IP_BADTLS, starttls_broken=True)
    srv = mta(tls_required_domains="badtlsreq.rd.test")
    m = simple_message(token())
    q1 = send(srv, SENDER, ["alice@badtls.rd.test"], m)
    q2 = send(srv, SENDER, ["carol@badtlsreq.rd.test"], simple_message(token()))
    d = one(srv, "delivered", id=q1, timeout=15)
    assert d["tls"] == "none", d
    (tx,) = s.wait_for_transactions(1)
    assert tx.rcpts == ["alice@badtls.rd.test"] and tx.data.endswith(m)
    df = one(srv, "deferred", id=q2)
    assert "TLS" in df["reason"], df
    assert all(r != "carol@badtlsreq.rd.test" for t in s.transactions for r in t.rcpts)
    no_event(srv, "delivered", id=q2)


def test_garbage_right_after_starttls_220_still_falls_back(mta, sink):
    """The server answers 220 to STARTTLS with non-TLS bytes in the same
    write. Those bytes must not be read as SMTP replies of the plain-text
    session (RFC 3207 5: nothing from before the handshake counts): the TLS
    setup failed, and for an opportunistic domain the message goes out in
    plain text on the next connection, as when the handshake itself fails."""
    s = sink(IP_BADTLS, starttls_broken="inject")
    srv = mta()
    m = simple_message(token())
    qid = send(srv, SENDER, ["alice@badtls.rd.test"], m)
    try:
        d = one(srv, "delivered", id=qid, timeout=6)
    except AssertionError:
        evs = srv.events("deferred", id=qid)
        raise AssertionError("not delivered after a failed STARTTLS; deferred as %r"
                             % sorted({e.get("reason") for e in evs}))
    assert d["tls"] == "none", d
    (tx,) = s.wait_for_transactions(1)
    assert tx.data.endswith(m)


# ---------------------------------------------------------------- 10. DNS failures

def test_nxdomain_and_null_mx_bounce_dns_error_defers(mta, sink):
    srv = mta()
    t1, t2, t3 = token(), token(), token()
    q1 = send(srv, SENDER, ["alice@nxdomain.rd.test"], simple_message(t1))
    q2 = send(srv, SENDER, ["carol@nullmx.rd.test"], simple_message(t2))
    q3 = send(srv, SENDER, ["dave@refused.rd.test"], simple_message(t3))

    b1 = one(srv, "bounced", id=q1)
    assert b1["rcpt"] == "alice@nxdomain.rd.test", b1
    b2 = one(srv, "bounced", id=q2)
    assert b2["rcpt"] == "carol@nullmx.rd.test", b2
    # a DNS error (REFUSED) is temporary: deferred, not bounced
    d3 = one(srv, "deferred", id=q3)
    assert d3["rcpt"] == "dave@refused.rd.test", d3
    removed(srv, q1)
    removed(srv, q2)
    no_event(srv, "deferred", id=q1)
    no_event(srv, "deferred", id=q2)
    no_event(srv, "bounced", id=q3)

    raws = wait_bounces(srv, 2)
    by_tok = {}
    for raw in raws:
        for t in (t1, t2, t3):
            if t.encode() in raw:
                by_tok[t] = raw
    assert set(by_tok) == {t1, t2}, "bounces for the wrong messages"
    check_dsn(by_tok[t1], ["alice@nxdomain.rd.test"], t1)
    check_dsn(by_tok[t2], ["carol@nullmx.rd.test"], t2)
    assert q3 in queue_ids(srv)


# ---------------------------------------------------------------- 11. DSN details

def test_dsn_naming_smtputf8_recipient_is_rfc6533(mta, sink):
    """A bounce for jörg@... is a global DSN: message/global-delivery-status,
    `Final-Recipient: utf-8;` with the address in raw UTF-8, a utf-8 text
    part and message/global-headers (RFC 6533)."""
    rcpt = "j\u00f6rg@perm.rd.test"
    s = sink(IP_PERM)
    s.rcpt_replies[rcpt] = "550 5.1.1 no such user"
    srv = mta()
    t = token()
    c = srv.client()
    c.ehlo("client.test")
    c.expect("MAIL FROM:<%s> SMTPUTF8" % SENDER, 250)
    c.expect("RCPT TO:<%s>" % rcpt, 250)
    c.expect("DATA", 354)
    c.send(dot_stuff(simple_message(t)) + b".\r\n")
    qid = queue_id(c.reply())
    c.quit()

    one(srv, "bounced", id=qid)
    (raw,) = wait_bounces(srv, 1)
    types = re.findall(rb"^Content-Type: ([\w/.-]+)", raw, re.M | re.I)
    assert types == [b"multipart/report", b"text/plain", b"message/global-delivery-status",
                     b"message/global-headers"], types
    assert re.search(rb"^Content-Type: text/plain; charset=utf-8\r$", raw, re.M), raw[:1500]
    assert b"charset=us-ascii" not in raw
    enc = rcpt.encode()
    assert b"\r\nFinal-Recipient: utf-8; " + enc + b"\r\n" in raw, raw
    assert b"rfc822; " + enc not in raw
    assert b"\r\n<" + enc + b">: 550 5.1.1 no such user\r\n" in raw, "human part"
    assert b"Original-Recipient" not in raw
    assert ("Subject: test %s" % t).encode() in raw


def test_bounce_to_our_domain_stays_local_never_via_relayhost(mta, sink, port):
    """web@example.test (our domain, no account) sends to a remote address
    that refuses it: the bounce goes to postmaster@example.test's Maildir,
    never to the relayhost (SPEC 6.7)."""
    smart = sink(IP_SMARTHOST)
    smart.rcpt_replies["nobody@viamx.rd.test"] = "550 5.1.1 no such user"
    srv = mta(relayhost="smarthost.rd.test:%d" % port)
    t = token()
    qid = send(srv, "web@example.test", ["nobody@viamx.rd.test"], simple_message(t))
    one(srv, "bounced", id=qid)
    bq = one(srv, "bounce_queued", id=qid)
    assert bq["to"] == "web@example.test", bq
    raws = wait_bounces(srv, 1, local="postmaster")
    assert ("Subject: test %s" % t).encode() in raws[0]
    d = one(srv, "delivered", id=bq["bounce_id"])
    assert d["rcpt"] == "web@example.test" and d["relay"] == "local", d
    # the relay host saw the original only: no transaction from <>
    time.sleep(0.5)
    assert all(tx.mail_from != "" for tx in smart.transactions), smart.transactions
    assert len(smart.transactions) == 1, smart.transactions


# ---------------------------------------------------------------- 12. too many recipients

@pytest.mark.parametrize("ip,pipelining", [(IP_PLAIN, True), (IP_NOPIPE, False)])
def test_too_many_recipients_go_in_the_next_transaction_at_once(mta, sink, ip, pipelining):
    """A server that answers 452 4.5.3 after 2 RCPTs gets the others in
    further transactions on the same connection, not at the next retry
    (RFC 5321 4.5.3.1.10, SPEC 6.7)."""
    domain = "plain.rd.test" if pipelining else "nopipe.rd.test"
    s = sink(ip, pipelining=pipelining)
    s.max_rcpts = 2
    srv = mta(retry_initial="300s", retry_max="300s")
    rcpts = ["r%d@%s" % (i, domain) for i in range(1, 6)]
    t = token()
    m = simple_message(t)
    qid = send(srv, SENDER, rcpts, m)
    evs = srv.wait_for_log("delivered", count=5, id=qid, timeout=15)
    assert sorted(e["rcpt"] for e in evs) == rcpts, evs
    removed(srv, qid)
    no_event(srv, "deferred")
    txs = s.accepted()
    assert sorted(r for tx in txs for r in tx.rcpts) == rcpts, s.transactions
    assert [len(tx.rcpts) for tx in txs] == [2, 2, 1], s.transactions
    assert all(tx.data.endswith(m) for tx in txs)
    # one connection: the next transaction follows at once
    assert len(s.sessions) == 1, s.sessions
    assert [r for _, r in s.transactions[0].rejected] == ["452 4.5.3 Too many recipients"] * 3


def test_452_for_another_reason_is_an_ordinary_deferral(mta, sink):
    """452 4.3.1 (out of storage) at RCPT is no "too many recipients": that
    recipient waits for the next retry; the others are delivered."""
    s = sink(IP_PLAIN)
    s.rcpt_replies["full@plain.rd.test"] = "452 4.3.1 insufficient system storage"
    srv = mta(retry_initial="300s", retry_max="300s")
    qid = send(srv, SENDER, ["a@plain.rd.test", "full@plain.rd.test"], simple_message(token()))
    d = one(srv, "deferred", id=qid)
    assert d["rcpt"] == "full@plain.rd.test" and "4.3.1" in d["reason"], d
    one(srv, "delivered", id=qid)
    time.sleep(0.5)
    assert len(s.transactions) == 1, s.transactions


# ---------------------------------------------------------------- 13. MAIL refused

@pytest.mark.parametrize("ip,pipelining", [(IP_PLAIN, True), (IP_NOPIPE, False)])
def test_mail_from_refused_ends_the_transaction_cleanly(mta, sink, ip, pipelining):
    """A 5xx to MAIL FROM bounces every recipient with that reply; a 4xx
    defers them and the next try delivers. Pipelined, the RCPT and DATA
    replies that still come are read (not taken for the recipients' own)
    and the session ends with QUIT, the message never sent."""
    domain = "plain.rd.test" if pipelining else "nopipe.rd.test"
    s = sink(ip, pipelining=pipelining)
    s.script("mail", "553 5.7.1 sender refused by policy", first=1)
    s.script("mail", "451 4.7.1 greylisted, come back later", first=2)
    srv = mta(retry_initial="1s", retry_max="1s")
    t = token()
    m = simple_message(t)
    rcpts = ["a@%s" % domain, "b@%s" % domain]
    qid = send(srv, SENDER, rcpts, m)
    evs = srv.wait_for_log("bounced", count=2, id=qid)
    assert sorted(e["rcpt"] for e in evs) == rcpts, evs
    assert all("553 5.7.1 sender refused" in e["reason"] for e in evs), evs
    removed(srv, qid)
    (raw,) = wait_bounces(srv, 1)
    fields = check_dsn(raw, rcpts, t)
    assert all(f["Status"].strip() == "5.7.1" for f in fields.values()), fields
    (sess,) = s.sessions
    cmds = [c.split(" ", 1)[0].upper() for c in sess.commands if c]
    mail = cmds.index("MAIL")
    expected = ["MAIL", "RCPT", "RCPT", "DATA", "QUIT"] if pipelining else ["MAIL", "QUIT"]
    assert cmds[mail:] == expected, sess.commands
    assert s.accepted() == []

    # the second message: 451 at MAIL (rule 2 of the script) defers, the
    # next try goes through
    t2 = token()
    m2 = simple_message(t2)
    q2 = send(srv, SENDER, rcpts, m2)
    d = one(srv, "deferred", id=q2)
    assert "451 4.7.1 greylisted" in d["reason"], d
    evs = srv.wait_for_log("delivered", count=2, id=q2, timeout=15)
    assert sorted(e["rcpt"] for e in evs) == rcpts, evs
    (tx,) = s.accepted()
    assert tx.data.endswith(m2) and sorted(tx.rcpts) == rcpts, tx


def _refuse_mail_and_close(ip, port, seen, stop):
    """A server that offers PIPELINING, answers the pipelined MAIL with 550
    and closes before reading the rest (some do, after a policy refusal)."""
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((ip, port))
    ls.listen(4)
    ls.settimeout(0.2)
    try:
        for _ in range(300):                    # 60 s at most
            if stop.is_set():
                return
            try:
                c, _ = ls.accept()
            except socket.timeout:
                continue
            with c:
                c.settimeout(5)
                f = c.makefile("rb")
                c.sendall(b"220 refuser ESMTP\r\n")
                f.readline()                    # EHLO
                c.sendall(b"250-refuser\r\n250 PIPELINING\r\n")
                line = f.readline()
                seen.append(line)
                c.sendall(b"550 5.7.1 sender refused by policy\r\n")
                f.close()
                c.shutdown(socket.SHUT_RDWR)    # closed now, the rest unread
    finally:
        ls.close()


def test_refused_pipelined_mail_then_close_bounces_never_next_mx(mta, sink, port):
    """MX 10 refuses the pipelined MAIL with 550 and drops the connection
    before the RCPT and DATA replies: the 550 is the result (a bounce), and
    MX 20 is never asked to take a message MX 10 refused."""
    import threading
    seen, stop = [], threading.Event()
    th = threading.Thread(target=_refuse_mail_and_close, args=(IP_BUSY, port, seen, stop),
                          daemon=True)
    th.start()
    second = sink(IP_BACKUP2)
    try:
        srv = mta()
        t = token()
        qid = send(srv, SENDER, ["alice@busy.rd.test"], simple_message(t))
        b = one(srv, "bounced", id=qid)
        assert "550 5.7.1 sender refused" in b["reason"], b
        removed(srv, qid)
        assert seen and seen[0].startswith(b"MAIL FROM:"), seen
        time.sleep(0.5)
        assert second.sessions == [], "MX 20 was tried after MX 10 refused the MAIL"
    finally:
        stop.set()
        th.join(5)
