"""Connection limits, idle timeout, message size."""

import socket
import time
import uuid

import pytest

import conftest
from conftest import token, dot_stuff, queue_id, simple_message, wait_until



# -- connections ----------------------------------------------------------

def open_session(srv, source="127.0.0.1"):
    c = srv.client(source=source)
    assert c.banner.code == 220, c.banner
    return c


def test_max_connections_per_ip(make_server):
    srv = make_server(config={"max_connections_per_ip": 2})
    # (the readiness probe's session may still be counted for a moment)
    srv.wait_for_log("disconnect")
    a = open_session(srv)
    b = open_session(srv)
    c = srv.client(read_banner=False)
    r = c.reply()
    assert r.code == 421, "third session from one IP: %r" % r
    assert c.read_eof(timeout=5) == b""
    c.close()
    srv.wait_for_log("reject", stage="connect")
    # Another address is not affected.
    d = open_session(srv, source="127.0.0.3")
    d.ehlo()
    d.quit()
    # The first two still work.
    a.ehlo()
    b.ehlo()
    # Closing one frees a slot (bounded retry: the server sees the close
    # asynchronously).
    a.quit()

    def third_ok():
        c = srv.client(read_banner=False)
        ok = False
        try:
            ok = c.reply().code == 220
            return ok and c
        except (OSError, conftest.SMTPError):
            return False
        finally:
            if not ok:
                c.close()
    e = wait_until(third_ok, 10, interval=0.1, what="a free slot after a QUIT")
    e.ehlo()
    e.quit()
    b.quit()


def test_max_connections_total_closes_longest_idle(make_server):
    """At max_connections a new client is served: the session idle the
    longest gets 421 4.7.0 and is closed (SPEC 2)."""
    srv = make_server(config={"max_connections": 3, "max_connections_per_ip": 10})
    srv.wait_for_log("disconnect")
    held = []
    for i in range(3):
        held.append(open_session(srv, source="127.0.0.%d" % (10 + i)))
        time.sleep(0.2)     # distinct idle ages: the first is the oldest
    held[1].ehlo()          # activity: .11 is now the youngest
    held[2].ehlo()
    c = srv.client(source="127.0.0.20", read_banner=False)
    r = c.reply()
    assert r.code == 220, r
    c.ehlo()
    c.quit()
    r = held[0].reply(timeout=5)
    assert r.code == 421 and r.enhanced == "4.7.0", r
    assert held[0].read_eof(timeout=5) == b""
    srv.wait_for_log("reject", reason="idle_closed", client="127.0.0.10")
    for h in held[1:]:
        h.cmd("NOOP")
        h.quit()
    held[0].close()


def test_idle_timeout_421(make_server):
    srv = make_server(config={"smtp_timeout": "2s"})
    c = srv.client()
    c.ehlo()
    t0 = time.monotonic()
    r = c.reply(timeout=20)
    assert r.code == 421 and r.enhanced == "4.4.2", r
    assert c.read_eof(timeout=5) == b""
    # Not before the timeout (lower bound only: no speed assertion).
    assert time.monotonic() - t0 >= 1.5
    c.close()


def test_idle_timeout_in_data_delivers_nothing(make_server):
    srv = make_server(config={"smtp_timeout": "2s"})
    t = token()
    c = srv.client()
    c.ehlo()
    c.expect("MAIL FROM:<alice@sender.test>", 250)
    c.expect("RCPT TO:<bob@example.test>", 250)
    c.expect("DATA", 354)
    c.send(b"Subject: " + t.encode() + b"\r\n\r\nhalf a message\r\n")
    r = c.reply(timeout=20)
    assert r.code == 421 and r.enhanced == "4.4.2", r
    c.read_eof(timeout=5)
    c.close()
    # Server still fine; nothing delivered.
    c = srv.client()
    c.ehlo()
    c.quit()
    srv.settle()
    assert srv.all_delivered_files() == []


def test_idle_timeout_inside_bdat_chunk(make_server):
    """A client that announces a chunk and stops sending is timed out too."""
    srv = make_server(config={"smtp_timeout": "2s"})
    c = srv.client()
    c.ehlo()
    c.expect("MAIL FROM:<alice@sender.test>", 250)
    c.expect("RCPT TO:<bob@example.test>", 250)
    c.send(b"BDAT 1000 LAST\r\nSubject: only a few bytes\r\n")
    data = c.read_eof(timeout=20)
    assert data.startswith(b"421 4.4.2"), data
    c.close()
    srv.settle()
    assert srv.all_delivered_files() == []


def test_slow_but_active_client_not_timed_out(make_server):
    """The timeout is for idleness: a client that keeps talking survives."""
    srv = make_server(config={"smtp_timeout": "2s"})
    c = srv.client()
    c.ehlo()
    for _ in range(4):
        time.sleep(1.0)
        c.expect("NOOP", 250)
    c.quit()


# -- SIZE -------------------------------------------------------------------

@pytest.fixture(scope="module")
def small_server(tmp_path_factory):
    srv = conftest.Server(tmp_path_factory.mktemp("small"), config={"max_message_size": "10K"})
    srv.start()
    yield srv
    srv.teardown()


def test_size_advertised(small_server):
    c = small_server.client()
    ehlo = c.ehlo()
    assert "SIZE 10240" in ehlo.lines[1:] or any(
        l[4:] == "SIZE 10240" for l in ehlo.lines), ehlo
    c.quit()


def test_mail_size_param_over_limit_552(small_server):
    c = small_server.client()
    c.ehlo()
    r = c.cmd("MAIL FROM:<alice@sender.test> SIZE=20000")
    assert r.code == 552 and r.enhanced == "5.3.4", r
    # Within the limit it is accepted.
    r = c.cmd("MAIL FROM:<alice@sender.test> SIZE=5000")
    assert r.code == 250, r
    c.quit()


def test_data_over_limit_552_nothing_delivered(small_server):
    srv = small_server
    t = token()
    body = simple_message(t, body_lines=["x" * 70] * 300)  # ~21 KB
    c = srv.client()
    c.ehlo()
    c.expect("MAIL FROM:<alice@sender.test>", 250)
    c.expect("RCPT TO:<bob@example.test>", 250)
    c.expect("DATA", 354)
    c.send(dot_stuff(body) + b".\r\n")
    r = c.reply()
    assert r.code == 552 and r.enhanced == "5.3.4", r
    # The session goes on: a small message still passes.
    t2 = token()
    queue_id(c.send_mail("alice@sender.test", ["bob@example.test"], simple_message(t2)))
    c.quit()
    srv.wait_for_mail("bob", token=t2)
    srv.settle()
    for f in srv.all_delivered_files():
        assert t.encode() not in f.read_bytes(), "oversized message delivered: %s" % f


def test_data_under_limit_accepted(small_server):
    srv = small_server
    t = token()
    body = simple_message(t, body_lines=["y" * 70] * 100)  # ~7 KB
    c = srv.client()
    c.ehlo()
    queue_id(c.send_mail("alice@sender.test", ["bob@example.test"], body))
    c.quit()
    srv.wait_for_mail("bob", token=t)


def test_bdat_over_limit_552(small_server):
    srv = small_server
    t = token()
    chunk = simple_message(t, body_lines=["z" * 70] * 100)  # ~7 KB
    c = srv.client()
    c.ehlo()
    c.expect("MAIL FROM:<alice@sender.test>", 250)
    c.expect("RCPT TO:<bob@example.test>", 250)
    c.send(b"BDAT %d\r\n" % len(chunk) + chunk)
    r1 = c.reply()
    c.send(b"BDAT %d LAST\r\n" % len(chunk) + chunk)
    r2 = c.reply()
    assert r1.code in (250, 552), r1
    assert r2.code == 552 and r2.enhanced == "5.3.4", (r1, r2)
    c.expect("RSET", 250)
    c.expect("NOOP", 250)
    c.quit()
    srv.settle()
    for f in srv.all_delivered_files():
        assert t.encode() not in f.read_bytes(), "oversized BDAT message delivered: %s" % f


def test_oversized_data_does_not_grow_memory_unbounded(small_server):
    """5 MB into a 10K-limit server: refused at the end, server alive."""
    srv = small_server
    c = srv.client(timeout=30)
    c.ehlo()
    c.expect("MAIL FROM:<alice@sender.test>", 250)
    c.expect("RCPT TO:<bob@example.test>", 250)
    c.expect("DATA", 354)
    line = b"w" * 998 + b"\r\n"
    try:
        for _ in range(5 * 1024):
            c.send(line)
        c.send(b".\r\n")
        r = c.reply(timeout=30)
        assert r.code == 552, r
    except (ConnectionResetError, BrokenPipeError, conftest.SMTPError):
        pass  # dropping a client that overflows is acceptable too
    c.close()
    assert srv.alive()
    c = srv.client()
    c.ehlo()
    c.quit()


def test_max_recipients(make_server):
    srv = make_server(config={"max_recipients": 5})
    c = srv.client()
    c.ehlo()
    c.expect("MAIL FROM:<alice@sender.test>", 250)
    blob = b"".join(b"RCPT TO:<bob+%d@example.test>\r\n" % i for i in range(7))
    c.send(blob)
    rs = c.replies(7)
    codes = [r.code for r in rs]
    assert codes[:5] == [250] * 5, rs
    assert all(x in (452, 552) for x in codes[5:]), rs
    c.quit()
