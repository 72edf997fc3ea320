"""Remembered bounces (SPEC 10, issue 14 item 5): a remote address that
answered 5xx "no such user" is refused at RCPT at once for queue_lifetime
when an account sends to it again (550 5.1.1), counts as a failed
recipient of that account, and is remembered across a restart; other
permanent refusals are not remembered."""

import base64
import uuid

import pytest

from conftest import token, PASSWORD, SMTPClient, free_port, queue_id
from smtpsink import SMTPSink

BOB = "bob@example.test"
SINK_IP = "127.0.1.220"



def login(srv, user=BOB):
    c = SMTPClient(srv.sub_port)
    assert c.reply().code == 220
    c.ehlo()
    c.starttls()
    c.ehlo()
    r = c.cmd("AUTH PLAIN " + base64.b64encode(("\0%s\0%s" % (user, PASSWORD)).encode()).decode())
    assert r.code == 235, r
    return c


def message(t, to):
    return ("From: <%s>\r\nTo: <%s>\r\nSubject: s %s\r\n"
            "Date: Sat, 28 Nov 2026 00:00:00 +0000\r\nMessage-ID: <%s@example.test>\r\n"
            "\r\nhello %s\r\n" % (BOB, to, t, t, t)).encode()


@pytest.fixture
def sink():
    s = SMTPSink(SINK_IP, free_port(SINK_IP)).start()
    s.rcpt_replies["gone@remote.test"] = "550 5.1.1 <gone@remote.test>: no such user"
    s.rcpt_replies["policy@remote.test"] = "550 5.7.1 refused by local policy"
    s.rcpt_replies["plain@remote.test"] = "550 Recipient address rejected: User unknown"
    yield s
    s.stop()


@pytest.fixture
def ssrv(make_server, sink):
    port = free_port()
    srv = make_server(tls=True, users=("bob",), config={
        "listen_submission": "127.0.0.1:%d" % port,
        "relayhost": "%s:%d" % (SINK_IP, sink.port),
        "user_max_failed_recipients": "1/1h"})
    srv.sub_port = port
    return srv


def test_no_such_user_is_remembered_and_refused_at_rcpt(ssrv, sink):
    srv = ssrv
    for rcpt in ("gone@remote.test", "policy@remote.test", "plain@remote.test"):
        c = login(srv)
        qid = queue_id(c.send_mail(BOB, [rcpt], message(token(), rcpt)))
        c.quit()
        srv.wait_for_log("bounced", id=qid)
    srv.wait_for_log("suppressed", rcpt="gone@remote.test")
    srv.wait_for_log("suppressed", rcpt="plain@remote.test")
    assert not srv.events("suppressed", rcpt="policy@remote.test")
    before = len(sink.transactions)
    c = login(srv)
    c.expect("MAIL FROM:<%s>" % BOB, 250)
    r = c.cmd("RCPT TO:<GONE@remote.test>")
    assert r.code == 550 and r.enhanced == "5.1.1", r
    # a policy refusal is no "unknown user": still tried
    assert c.cmd("RCPT TO:<policy@remote.test>").code == 250
    c.quit()
    srv.wait_for_log("reject", reason="suppressed", stage="rcpt")
    assert len(sink.transactions) == before, "the remembered address was contacted"
    # it counts as the account's failed recipient: the second one holds it
    c = login(srv)
    c.expect("MAIL FROM:<%s>" % BOB, 250)
    assert c.cmd("RCPT TO:<plain@remote.test>").code == 550
    c.quit()
    srv.wait_for_log("hold", user=BOB, reason="failed_recipients")
    # remembered across a restart
    srv.stop()
    srv.start()
    c = login(srv)
    c.expect("MAIL FROM:<%s>" % BOB, 250)
    assert c.cmd("RCPT TO:<gone@remote.test>").code == 550
    c.quit()


def test_expired_memory_lets_mail_through(make_server, sink):
    port = free_port()
    srv = make_server(tls=True, users=("bob",), config={
        "listen_submission": "127.0.0.1:%d" % port,
        "relayhost": "%s:%d" % (SINK_IP, sink.port),
        "queue_lifetime": "2s"})
    srv.sub_port = port
    c = login(srv)
    qid = queue_id(c.send_mail(BOB, ["gone@remote.test"], message(token(), "gone@remote.test")))
    c.quit()
    srv.wait_for_log("suppressed", rcpt="gone@remote.test")
    import time
    time.sleep(2.5)
    c = login(srv)
    c.expect("MAIL FROM:<%s>" % BOB, 250)
    assert c.cmd("RCPT TO:<gone@remote.test>").code == 250
    c.quit()
