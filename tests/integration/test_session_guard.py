"""What a client cannot do to a session (issue 19, SPEC 2 and 3):

* trickle DATA or BDAT to hold a slot: the transfer has a deadline of
  smtp_timeout plus the octets so far at smtp_min_data_rate (421 4.4.2);
* fill max_connections with slow sessions: the longest-idle one is closed
  (421 4.7.0) so that an honest client is served;
* smuggle commands into an AUTH exchange with a too-long line: the
  exchange ends with 500 5.5.6 and the next line is a command again;
* send a message without a header section (554 5.6.0);
* and a full disk during DATA is said as such (452 4.3.1, "no space").
"""

import base64
import os
import socket
import subprocess
import time
import uuid

import pytest

from conftest import token, SMTPClient, free_port, queue_id, simple_message, wait_until

BOB = "bob@example.test"



def start_data(c, t=None):
    c.ehlo()
    c.expect("MAIL FROM:<alice@sender.test>", 250)
    c.expect("RCPT TO:<%s>" % BOB, 250)
    c.expect("DATA", 354)


def trickle_until_reply(c, limit_s, step_s=0.5):
    """Sends one octet every step_s until the server answers or closes;
    returns (reply or None, seconds). Bounded by limit_s."""
    t0 = time.monotonic()
    payload = b"Subject: slow\r\n\r\n" + b"x" * 200
    i = 0
    while time.monotonic() - t0 < limit_s and i < len(payload):
        try:
            c.send(payload[i:i + 1])
        except OSError:
            break
        i += 1
        c.sock.settimeout(step_s)
        try:
            data = c.sock.recv(4096)
        except socket.timeout:
            continue
        except OSError:
            break
        c.sock.settimeout(5)
        c.buf += data
        return c.reply(timeout=5), time.monotonic() - t0
    return None, time.monotonic() - t0


def test_trickled_data_is_cut_off(make_server):
    srv = make_server(config={"smtp_timeout": "3s"})
    c = srv.client()
    start_data(c)
    r, took = trickle_until_reply(c, limit_s=20)
    assert r is not None, "a 2 octet/s DATA ran %.0fs without being cut off" % took
    assert r.code == 421 and r.enhanced == "4.4.2", r
    assert took >= 2.5, "cut off before smtp_timeout: %.1fs" % took
    assert c.read_eof(timeout=5) == b""
    c.close()
    srv.wait_for_log("reject", reason="slow_transfer", stage="data")
    assert srv.all_delivered_files() == []


def test_trickled_bdat_is_cut_off(make_server):
    srv = make_server(config={"smtp_timeout": "3s"})
    c = srv.client()
    c.ehlo()
    c.expect("MAIL FROM:<alice@sender.test>", 250)
    c.expect("RCPT TO:<%s>" % BOB, 250)
    c.send(b"BDAT 500 LAST\r\n")
    r, took = trickle_until_reply(c, limit_s=20)
    assert r is not None, "a trickled BDAT ran %.0fs without being cut off" % took
    assert r.code == 421 and r.enhanced == "4.4.2", r
    c.close()


def test_fast_big_message_is_not_cut_off(make_server):
    """The deadline grows with what was received: a large message sent at
    a steady honest pace over longer than smtp_timeout gets its 250."""
    srv = make_server(config={"smtp_timeout": "2s", "smtp_min_data_rate": "100000"})
    t = token()
    c = srv.client()
    start_data(c)
    msg = simple_message(t, body_lines=["y" * 998] * 1500)     # 1.5 MB
    chunk = 150000
    for off in range(0, len(msg), chunk):
        c.send(msg[off:off + chunk])
        time.sleep(0.3)     # 4 s in all, at 500 KB/s: above the rate
    c.send(b".\r\n")
    queue_id(c.reply(timeout=30))
    c.quit()
    srv.wait_for_mail("bob", token=t)


def test_slow_clients_cannot_keep_an_honest_one_out(make_server):
    srv = make_server(config={"max_connections": 4, "max_connections_per_ip": 20,
                              "smtp_timeout": "60s"})
    srv.wait_for_log("disconnect")
    slow = []
    for i in range(4):
        c = srv.client(source="127.0.0.%d" % (30 + i))
        start_data(c)
        c.send(b"Subject: slow\r\n")
        slow.append(c)
        time.sleep(0.1)
    t = token()
    honest = srv.client(source="127.0.0.40", read_banner=False)
    r = honest.reply()
    assert r.code == 220, "honest client refused while slow sessions hold every slot: %r" % r
    honest.ehlo()
    queue_id(honest.send_mail("alice@sender.test", [BOB], simple_message(t)))
    honest.quit()
    srv.wait_for_mail("bob", token=t)
    closed = srv.wait_for_log("reject", reason="idle_closed")
    assert closed, "no session closed to make room"
    for c in slow:
        c.close()


def _auth_server(make_server):
    srv = make_server(tls=True, config={"listen_submission": "127.0.0.1:%d" % free_port()})
    srv.sub_port = int(srv.extra["listen_submission"].rsplit(":", 1)[1])
    return srv


def test_long_line_ends_auth_exchange(make_server):
    srv = _auth_server(make_server)
    c = SMTPClient(srv.sub_port)
    assert c.reply().code == 220
    c.ehlo()
    c.starttls()
    c.ehlo()
    r = c.cmd("AUTH LOGIN")
    assert r.code == 334, r
    c.send(b"A" * 65536 + b"\r\n")
    r = c.reply()
    assert r.code == 500 and r.enhanced == "5.5.6", r
    # The exchange is over: NOOP is a command, not the user name.
    r = c.cmd("NOOP")
    assert r.code == 250, r
    r = c.cmd("NOOP")
    assert r.code == 250, r
    # and AUTH works again from the start
    r = c.cmd("AUTH LOGIN")
    assert r.code == 334, r
    r = c.cmd("*")
    assert r.code == 501, r
    c.quit()


def test_long_line_in_auth_plain_exchange(make_server):
    srv = _auth_server(make_server)
    c = SMTPClient(srv.sub_port)
    assert c.reply().code == 220
    c.ehlo()
    c.starttls()
    c.ehlo()
    r = c.cmd("AUTH PLAIN")
    assert r.code == 334, r
    c.send(base64.b64encode(b"x" * 3000) + b"\r\n")
    r = c.reply()
    assert r.code == 500 and r.enhanced == "5.5.6", r
    assert c.cmd("NOOP").code == 250
    c.quit()


@pytest.mark.parametrize("how", ["data_dot", "bdat0", "body_only", "empty_line_first"])
def test_message_without_header_section_refused(server, how):
    c = server.client()
    c.ehlo()
    c.expect("MAIL FROM:<alice@sender.test>", 250)
    c.expect("RCPT TO:<%s>" % BOB, 250)
    if how == "bdat0":
        c.send(b"BDAT 0 LAST\r\n")
    else:
        c.expect("DATA", 354)
        body = {"data_dot": b"", "body_only": b"hello world\r\n",
                "empty_line_first": b"\r\nSubject: not a header\r\n"}[how]
        c.send(body + b".\r\n")
    r = c.reply()
    assert r.code == 554 and r.enhanced == "5.6.0", r
    # The session goes on.
    t = token()
    queue_id(c.send_mail("alice@sender.test", [BOB], simple_message(t)))
    c.quit()
    server.wait_for_mail("bob", token=t)


def test_header_only_message_accepted(server):
    c = server.client()
    c.ehlo()
    c.expect("MAIL FROM:<alice@sender.test>", 250)
    c.expect("RCPT TO:<%s>" % BOB, 250)
    c.send(b"BDAT 20 LAST\r\nSubject: only this\r\n")
    r = c.reply()
    assert r.code == 250, r
    c.quit()


def test_disk_full_during_data(make_server, tmp_path):
    if os.geteuid() != 0:
        pytest.skip("needs root to mount a small tmpfs")
    srv = make_server(start=False)
    qdir = srv.data_dir / "queue"
    qdir.mkdir(parents=True, exist_ok=True)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=512k", "tmpfs", str(qdir)],
                       capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip("cannot mount tmpfs: %s" % r.stderr.strip())
    try:
        srv.start()
        c = srv.client()
        start_data(c)
        msg = simple_message(token(), body_lines=["z" * 998] * 1000)    # ~1 MB
        c.send(msg + b".\r\n")
        r = c.reply(timeout=30)
        assert r.code == 452 and r.enhanced == "4.3.1", r
        c.quit()
        ev = srv.wait_for_log("error")
        reasons = [e.get("reason", "") for e in srv.events("error")]
        assert any("no space left" in x for x in reasons), reasons
        assert not any("queue read failed" in x for x in reasons), reasons
        srv.stop()
    finally:
        subprocess.run(["umount", "-l", str(qdir)], capture_output=True)
