"""Local delivery through LMTP (`local_delivery = lmtp:...`), SPEC 6.7.

postern hands local mail to an LMTP agent (Dovecot in production) instead
of writing Maildirs itself. These tests put tests/integration/smtpsink.py
in LMTP mode behind a unix socket or a loopback TCP port and check the
client side of RFC 2033: LHLO, one RCPT per mailbox (LOCAL+Junk@DOMAIN for
mail filed as junk), the scan headers in the data, one result per
recipient after the data (a 4xx for one recipient defers only that one,
a 5xx bounces it), and nothing lost while the agent is down. The real
Dovecot LMTP path is in test_dovecot.py.
"""

import uuid

import pytest

from conftest import token, DOMAIN, free_port, queue_id, simple_message, wait_until
from smtpsink import SMTPSink



def junk_message(t):
    # No Date and no Message-ID: 1.5 >= score_junk 0.4 (see test_dovecot.py)
    return ("From: Alice <alice@sender.test>\r\nTo: <bob@example.test>\r\n"
            "Subject: junk %s\r\n\r\nhello %s\r\n" % (t, t)).encode()


@pytest.fixture
def lmtp_env(make_server, tmp_path):
    """A postern delivering to an LMTP sink on a unix socket."""
    sock = tmp_path / "lmtp.sock"
    sink = SMTPSink(None, None, lmtp=True, unix_path=sock).start()
    srv = make_server(users=("bob", "carol"), config={
        "local_delivery": "lmtp:unix:%s" % sock,
        "score_junk": "0.4",
        "retry_initial": "1s",
        "retry_max": "2s",
    })
    try:
        yield srv, sink, sock
    finally:
        sink.stop()


def send(srv, rcpts, body, sender="alice@sender.test"):
    c = srv.client()
    c.ehlo()
    qid = queue_id(c.send_mail(sender, rcpts, body))
    c.quit()
    return qid


def test_lmtp_delivery_clean_and_junk(lmtp_env):
    srv, sink, sock = lmtp_env
    t1, t2 = token(), token()
    q1 = send(srv, ["bob@example.test"], simple_message(t1))
    tx = sink.wait_for_transactions(1, timeout=10)[0]
    assert tx.session.commands[0].startswith("LHLO "), tx.session.commands
    assert tx.mail_from == "alice@sender.test"
    assert tx.rcpts == ["bob@example.test"]
    assert t1.encode() in tx.data
    # the scan's verdict goes with the message; Return-Path and
    # Delivered-To are the agent's to add, not postern's
    assert b"X-Spam-Status: No" in tx.data
    assert b"Return-Path:" not in tx.data.split(b"\r\n\r\n", 1)[0]
    ev = srv.wait_for_log("delivered", id=q1)[0]
    assert ev["relay"] == "local" and ev["lmtp"] == "unix:%s" % sock, ev
    assert ev["reply"].startswith("250"), ev
    # nothing written into a Maildir by postern itself
    assert not srv.maildir("bob").exists()

    q2 = send(srv, ["bob@example.test"], junk_message(t2))
    txs = sink.wait_for_transactions(2, timeout=10)
    assert txs[1].rcpts == ["bob+Junk@example.test"], txs[1]
    assert b"X-Spam-Status: Yes" in txs[1].data
    srv.wait_for_log("delivered", id=q2)
    srv.settle()


def test_lmtp_per_recipient_results(lmtp_env):
    srv, sink, _ = lmtp_env
    t = token()
    # carol's mailbox is full for now: only she is retried
    sink.lmtp_replies["carol@example.test"] = "452 4.2.2 Mailbox is full"
    qid = send(srv, ["bob@example.test", "carol@example.test"], simple_message(t))
    tx = sink.wait_for_transactions(1, timeout=10)[0]
    assert tx.rcpts == ["bob@example.test", "carol@example.test"]
    assert [r[:3] for _, r in tx.lmtp_results] == ["250", "452"], tx.lmtp_results
    srv.wait_for_log("delivered", id=qid, rcpt="bob@example.test")
    d = srv.wait_for_log("deferred", id=qid, rcpt="carol@example.test")[0]
    assert d["relay"] == "local" and "Mailbox is full" in d["reason"], d
    del sink.lmtp_replies["carol@example.test"]
    srv.wait_for_log("delivered", id=qid, rcpt="carol@example.test", timeout=15)
    txs = sink.wait_for_transactions(2, timeout=10)
    assert txs[1].rcpts == ["carol@example.test"], txs   # bob not delivered twice
    srv.wait_for_log("removed", id=qid)
    assert len(srv.events("delivered", id=qid, rcpt="bob@example.test")) == 1


def test_lmtp_permanent_failure_bounces(lmtp_env):
    srv, sink, _ = lmtp_env
    t = token()
    sink.lmtp_replies["carol@example.test"] = "552 5.2.2 Quota exceeded (mailbox for user is full)"
    # the sender is bob (local): the bounce comes back to him by LMTP too
    qid = send(srv, ["carol@example.test"], simple_message(t), sender="bob@example.test")
    b = srv.wait_for_log("bounced", id=qid)[0]
    assert b["relay"] == "local" and "Quota exceeded" in b["reason"], b
    srv.wait_for_log("removed", id=qid)

    def bounce_delivered():
        return [x for x in sink.accepted() if x.mail_from == "" and
                x.rcpts == ["bob@example.test"]]
    bounces = wait_until(bounce_delivered, 10, what="the bounce delivered to bob by LMTP")
    assert b"Quota exceeded" in bounces[0].data


def test_lmtp_agent_down_nothing_lost(make_server, tmp_path):
    sock = tmp_path / "later.sock"
    srv = make_server(config={"local_delivery": "lmtp:unix:%s" % sock,
                              "retry_initial": "1s", "retry_max": "1s"})
    t = token()
    qid = send(srv, ["bob@example.test"], simple_message(t))
    d = srv.wait_for_log("deferred", id=qid)[0]
    assert d["relay"] == "local", d
    # the agent comes back: the retry delivers, once
    sink = SMTPSink(None, None, lmtp=True, unix_path=sock).start()
    try:
        tx = sink.wait_for_transactions(1, timeout=15)[0]
        assert t.encode() in tx.data
        srv.wait_for_log("delivered", id=qid)
        srv.wait_for_log("removed", id=qid)
    finally:
        sink.stop()


def test_lmtp_over_tcp_and_aliases(make_server):
    port = free_port()
    sink = SMTPSink("127.0.0.1", port, lmtp=True).start()
    try:
        srv = make_server(users=("bob", "carol"),
                          config={"local_delivery": "lmtp:127.0.0.1:%d" % port})
        srv.add_alias("team@example.test", "bob@example.test")
        srv.add_alias("team@example.test", "carol@example.test")
        srv.reload()
        t = token()
        qid = send(srv, ["team@example.test"], simple_message(t))
        tx = sink.wait_for_transactions(1, timeout=10)[0]
        # one RCPT per mailbox of the alias
        assert sorted(tx.rcpts) == ["bob@example.test", "carol@example.test"], tx
        ev = srv.wait_for_log("delivered", id=qid)[0]
        assert ev["lmtp"].endswith("[127.0.0.1]:%d" % port), ev
        assert srv.events("local_delivery", via="lmtp", port=str(port))
    finally:
        sink.stop()


@pytest.mark.parametrize("value", ["lmtp:", "lmtp:unix:", "smtp:127.0.0.1:24",
                                   "lmtp:127.0.0.1", "lmtp:unix:/" + "x" * 120])
def test_local_delivery_bad_values(make_server, value):
    srv = make_server(start=False)
    srv.write_config(local_delivery=value)
    r = srv.cli("check-config", check=False)
    assert r.returncode == 1, (value, r.stdout, r.stderr)
    assert "local_delivery" in r.stderr, r.stderr


def test_local_delivery_change_needs_restart(lmtp_env, tmp_path):
    srv, sink, sock = lmtp_env
    other = tmp_path / "other.sock"
    srv.write_config(local_delivery="lmtp:unix:%s" % other)
    srv.reload()
    w = srv.wait_for_log("warning")
    assert any("local_delivery changed" in e.get("reason", "") for e in w), w
    # still delivered where it was: a reload never strands queued mail
    t = token()
    qid = send(srv, ["bob@example.test"], simple_message(t))
    tx = sink.wait_for_transactions(1, timeout=10)[0]
    assert t.encode() in tx.data
    srv.wait_for_log("delivered", id=qid)
    # after a restart, the new agent
    sink2 = SMTPSink(None, None, lmtp=True, unix_path=other).start()
    try:
        srv.stop()
        srv.start()
        t2 = token()
        send(srv, ["bob@example.test"], simple_message(t2))
        assert t2.encode() in sink2.wait_for_transactions(1, timeout=10)[0].data
    finally:
        sink2.stop()
