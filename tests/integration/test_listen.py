"""Listeners as lists, IPv6 and dual stack (SPEC 2 and 9).

Every listen_* key takes a space-separated list of HOST:PORT ([ADDR]:PORT
for IPv6) and the server binds each one; [::] is a single dual-stack
socket whose IPv4 clients are seen as IPv4 (not ::ffff:a.b.c.d); two
listeners on one address are a check-config error naming both lines.
Only loopback addresses are connected to; the dual-stack test binds [::]
on a free high port for the few seconds it runs.
"""

import re
import socket
import subprocess
import uuid

import pytest

from conftest import POSTERN_BIN, SLOW, SMTPClient, free_port, insecure_tls_context, \
    queue_id, simple_message


def have_ipv6_loopback():
    """True when this machine can listen and connect on ::1."""
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


needs_ipv6 = pytest.mark.skipif(not have_ipv6_loopback(),
                                reason="this machine has no IPv6 loopback (::1)")


def free_port6():
    """A TCP port free right now on both 127.0.0.1 and ::1."""
    for _ in range(50):
        port = free_port()
        try:
            with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
                s.bind(("::1", port))
            return port
        except OSError:
            continue
    raise AssertionError("no port free on both 127.0.0.1 and ::1")


class SMTPClient6(SMTPClient):
    """The conftest client over IPv6."""

    def __init__(self, port, host="::1", timeout=10):
        self.timeout = timeout * SLOW
        self.sock = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect((host, port))
        self.buf = b""
        self.closed = False
        self.banner = None


def connect(host, port, source=None):
    c = SMTPClient6(port, host) if ":" in host else SMTPClient(port, host, source=source)
    c.banner = c.reply()
    assert c.banner.code == 220, (host, port, c.banner)
    return c


def listen_events(srv):
    return [(e.get("address"), e.get("role")) for e in srv.events("listen", since_start=True)]


@needs_ipv6
def test_every_address_of_a_list_is_served(make_server):
    """listen_smtp = 127.0.0.1:P 127.0.0.2:Q [::1]:P: three listeners, each
    one answers, and mail sent over IPv6 is delivered with the IPv6 client
    address in the log."""
    srv = make_server(start=False)
    srv.port = free_port6()     # the port start() waits for on 127.0.0.1
    other = free_port("127.0.0.2")
    srv.write_config(listen_smtp="127.0.0.1:%d 127.0.0.2:%d [::1]:%d"
                     % (srv.port, other, srv.port))
    srv.start()
    evs = listen_events(srv)
    assert ("127.0.0.1:%d" % srv.port, "smtp") in evs, evs
    assert ("127.0.0.2:%d" % other, "smtp") in evs, evs
    assert ("[::1]:%d" % srv.port, "smtp") in evs, evs

    connect("127.0.0.2", other).quit()
    token = uuid.uuid4().hex
    c = connect("::1", srv.port)
    c.ehlo()
    queue_id(c.send_mail("alice@sender.test", ["bob@example.test"], simple_message(token)))
    c.quit()
    srv.wait_for_mail("bob", token=token)
    assert srv.events("connect", client="::1"), srv.events("connect")


@needs_ipv6
def test_dual_stack_wildcard_sees_ipv4_clients_as_ipv4(make_server):
    """[::]:P takes IPv4 and IPv6 on one socket; an IPv4 client is logged
    and limited by its IPv4 address, not as ::ffff:127.0.0.7."""
    srv = make_server(start=False)
    port = free_port6()
    srv.port = port
    srv.write_config(listen_smtp="[::]:%d" % port, max_connections_per_ip=1)
    srv.start()
    assert listen_events(srv) == [("[::]:%d" % port, "smtp")], listen_events(srv)

    c = connect("127.0.0.1", port, source="127.0.0.7")
    srv.wait_for_log("connect", client="127.0.0.7")
    assert not [e for e in srv.events("connect") if "ffff" in e.get("client", "")], \
        srv.events("connect")
    # the per-IP limit counts the IPv4 address: a second session from it is refused
    c2 = SMTPClient(port, "127.0.0.1", source="127.0.0.7")
    r = c2.reply()
    assert r.code == 421, r
    c2.close()
    c.quit()

    c6 = connect("::1", port)
    c6.ehlo()
    c6.quit()
    srv.wait_for_log("connect", client="::1")


@needs_ipv6
def test_submission_lists_with_tls(make_server):
    """listen_submission and listen_submissions take lists too: STARTTLS on
    each 587-role address, implicit TLS on each 465-role address."""
    p587, p465 = free_port6(), free_port6()
    srv = make_server(tls=True, config={
        "listen_submission": "127.0.0.1:%d [::1]:%d" % (p587, p587),
        "listen_submissions": "127.0.0.1:%d [::1]:%d" % (p465, p465),
    })
    evs = listen_events(srv)
    for addr in ("127.0.0.1:%d" % p587, "[::1]:%d" % p587):
        assert (addr, "submission") in evs, evs
    for addr in ("127.0.0.1:%d" % p465, "[::1]:%d" % p465):
        assert (addr, "submissions") in evs, evs
    for host in ("127.0.0.1", "::1"):
        c = connect(host, p587)
        assert "STARTTLS" in c.ehlo().text
        c.starttls()
        assert "AUTH" in c.ehlo().text
        c.quit()
        c = SMTPClient6(p465, host) if ":" in host else SMTPClient(p465, host)
        c.wrap_tls(insecure_tls_context())
        c.banner = c.reply()
        assert c.banner.code == 220, c.banner
        assert "AUTH" in c.ehlo().text
        c.quit()


def write_conf(tmp_path, lines):
    conf = tmp_path / "listen.conf"
    conf.write_text("\n".join(["domains = example.test", "data_dir = var"] + lines) + "\n")
    return conf


@pytest.mark.parametrize("lines,bad_line,what", [
    # the same address twice in one list
    (["listen_smtp = 127.0.0.1:2525 [::1]:2525 127.0.0.1:2525"], 3,
     r"listen_smtp: 127\.0\.0\.1:2525 .*listen_smtp 127\.0\.0\.1:2525 \(this line\)"),
    # in two lists
    (["listen_smtp = 127.0.0.1:2525 [::1]:2525", "listen_submissions = off",
      "listen_submission = [::2]:2525 [::1]:2525"], 5,
     r"listen_submission: \[::1\]:2525 .*listen_smtp \[::1\]:2525 \(line 3\)"),
    # metrics_listen on a listener's address
    (["listen_smtp = 127.0.0.1:2525 [::1]:2526", "metrics_listen = [::1]:2526"], 4,
     r"metrics_listen: \[::1\]:2526 .*listen_smtp \[::1\]:2526 \(line 3\)"),
    # a dual-stack wildcard covers every address of its port
    (["listen_smtp = [::]:2525", "listen_submission = 127.0.0.1:2525"], 4,
     r"listen_submission: 127\.0\.0\.1:2525 .*listen_smtp \[::\]:2525 \(line 3\)"),
], ids=["one-list", "two-lists", "metrics", "wildcard"])
def test_two_listeners_on_one_address_refused(tmp_path, lines, bad_line, what):
    conf = write_conf(tmp_path, lines)
    r = subprocess.run([POSTERN_BIN, "check-config", "-c", str(conf)], capture_output=True,
                       text=True, timeout=10 * SLOW)
    assert r.returncode == 1, (r.returncode, r.stderr)
    m = re.search(r"listen\.conf:%d: (.*)" % bad_line, r.stderr)
    assert m and re.search(what, m.group(1)), r.stderr
    # and serve refuses it before binding anything
    p = subprocess.run([POSTERN_BIN, "serve", "-c", str(conf)], capture_output=True,
                       text=True, timeout=20 * SLOW, stdin=subprocess.DEVNULL)
    assert p.returncode > 0 and "listen.conf:%d:" % bad_line in p.stderr, p.stderr


def test_lists_and_ipv6_accepted_by_check_config(tmp_path):
    conf = write_conf(tmp_path, [
        "listen_smtp = 192.0.2.1:25 [2001:db8::1]:25",
        "listen_submission = [::]:587",
        "listen_submissions = off",
        "metrics_listen = 127.0.0.1:9100",
    ])
    r = subprocess.run([POSTERN_BIN, "check-config", "-c", str(conf)], capture_output=True,
                       text=True, timeout=10 * SLOW)
    assert r.returncode == 0, r.stderr
