"""Several nodes, one policy (SPEC 10, issue 14 item 3): postern nodes that
name the same Redis (`state_backend = redis://HOST:PORT[/DB]`) share rate
windows, AUTH lockouts, holds, bounce ratios, alert de-duplication,
statistics and remembered bounces; limits are atomic across nodes; when
Redis goes away each node keeps working on local state and says so
(event=state_backend status=down, the state_backend alert), and comes back
on its own (status=up). Every log line carries node=NAME.

Each test starts its own redis-server (Debian's) on loopback with a private
configuration and port: no persistence, so a restart loses what it held,
as a crashed Redis without AOF does. The system Redis is never touched.
"""

import base64
import json
import os
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from conftest import PASSWORD, SMTPClient, dot_stuff, free_port, queue_id, token, wait_until

BOB = "bob@example.test"
CAROL = "carol@example.test"
REDIS_SERVER = "/usr/bin/redis-server"

pytestmark = pytest.mark.skipif(not os.path.exists(REDIS_SERVER),
                                reason="redis-server is not installed (scripts/deps)")


class Redis:
    """A private redis-server on 127.0.0.1, and a minimal RESP client."""

    def __init__(self, directory, password=None):
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.password = password
        self.proc = None
        lines = ["port %d" % self.port, "bind 127.0.0.1", "protected-mode yes",
                 'save ""', "appendonly no", "daemonize no", "dir %s" % self.dir,
                 "logfile %s" % (self.dir / "redis.log"), "databases 4"]
        if password:
            lines.append("requirepass %s" % password)
        self.conf = self.dir / "redis.conf"
        self.conf.write_text("\n".join(lines) + "\n")

    @property
    def url(self):
        return "redis://127.0.0.1:%d/1" % self.port

    def start(self):
        self.proc = subprocess.Popen([REDIS_SERVER, str(self.conf)], stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     start_new_session=True)
        wait_until(lambda: self._ping(), 10, interval=0.05, what="redis-server on %d" % self.port)
        return self

    def _ping(self):
        if self.proc.poll() is not None:
            raise AssertionError("redis-server exited: %s" %
                                 (self.dir / "redis.log").read_text(errors="replace")[-2000:])
        try:
            return self.cmd("PING") == "PONG"
        except OSError:
            return False

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def cmd(self, *args, db=1):
        """Runs one command (after AUTH and SELECT db); returns the reply."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as s:
            f = s.makefile("rb")
            pre = []
            if self.password:
                pre.append(("AUTH", self.password))
            pre.append(("SELECT", str(db)))
            for c in pre + [args]:
                s.sendall(b"*%d\r\n" % len(c) + b"".join(
                    b"$%d\r\n%s\r\n" % (len(str(a).encode()), str(a).encode()) for a in c))
            out = None
            for _ in pre + [args]:
                out = self._read(f)
            return out

    def _read(self, f):
        line = f.readline()
        if not line:
            raise OSError("redis closed the connection")
        t, rest = line[:1], line[1:-2].decode()
        if t == b"+":
            return rest
        if t == b"-":
            return RuntimeError(rest)
        if t == b":":
            return int(rest)
        if t == b"$":
            n = int(rest)
            if n < 0:
                return None
            data = f.read(n + 2)
            return data[:-2].decode()
        if t == b"*":
            n = int(rest)
            return None if n < 0 else [self._read(f) for _ in range(n)]
        raise OSError("bad RESP line %r" % line)


@pytest.fixture
def redis(tmp_path):
    servers = []

    def make(password=None):
        r = Redis(tmp_path / ("redis%d" % len(servers)), password=password)
        servers.append(r)
        return r.start()
    yield make
    for r in servers:
        r.kill()


def make_node(make_server, r, name, extra=None, users=("bob", "carol")):
    port = free_port()
    cfg = {"listen_submission": "127.0.0.1:%d" % port, "state_backend": r.url,
           "node_name": name, "max_connections_per_ip": "200", "max_connections": "400"}
    if r.password:
        cfg["state_password"] = r.password
    cfg.update(extra or {})
    srv = make_server(tls=True, users=users, config=cfg)
    srv.sub_port = port
    srv.wait_for_log("state_backend", status="up")
    return srv


def login(srv, user=BOB, password=PASSWORD, source=None, expect=235):
    c = SMTPClient(srv.sub_port, source=source)
    assert c.reply().code == 220
    c.ehlo()
    c.starttls()
    c.ehlo()
    r = c.cmd("AUTH PLAIN " + base64.b64encode(("\0%s\0%s" % (user, password)).encode()).decode())
    assert r.code == expect, r
    return c


def bob_message(t):
    return ("From: <%s>\r\nTo: <%s>\r\nSubject: shared %s\r\n"
            "Date: Sat, 28 Nov 2026 00:00:00 +0000\r\nMessage-ID: <%s@example.test>\r\n"
            "\r\nhello %s\r\n" % (BOB, CAROL, t, t, t)).encode()


def send(srv, t, rcpts=(CAROL,)):
    """bob sends one message; the queue id (or an assertion)."""
    c = login(srv)
    try:
        return queue_id(c.send_mail(BOB, list(rcpts), bob_message(t)))
    finally:
        c.quit()


# ---------------------------------------------------------------- limits

def test_message_limit_is_shared_and_atomic(make_server, redis):
    """Two nodes, one window: user_max_messages 5/1h lets exactly five
    MAIL commands pass over both nodes, even when 16 race for them at the
    same instant (the check and the count are one Lua script)."""
    r = redis()
    a = make_node(make_server, r, "node-a", {"user_max_messages": "5/1h"})
    b = make_node(make_server, r, "node-b", {"user_max_messages": "5/1h"})
    clients = [login(a if i % 2 else b) for i in range(16)]
    go = threading.Barrier(len(clients))
    codes = [None] * len(clients)

    def attempt(i):
        go.wait(timeout=30)
        codes[i] = clients[i].cmd("MAIL FROM:<%s>" % BOB).code
    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(len(clients))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    for c in clients:
        c.close()
    assert sorted(codes) == [250] * 5 + [450] * 11, codes
    # both nodes took part in the race and refused with the limit's reply
    assert a.events("ratelimit") or b.events("ratelimit")
    # the window is Redis's: after the race a third look still says full
    c = login(a)
    assert c.cmd("MAIL FROM:<%s>" % BOB).code == 450
    c.quit()


def test_recipient_limit_is_shared(make_server, redis):
    r = redis()
    a = make_node(make_server, r, "node-a", {"user_max_recipients": "3/1h"})
    b = make_node(make_server, r, "node-b", {"user_max_recipients": "3/1h"})
    c = login(a)
    assert c.cmd("MAIL FROM:<%s>" % BOB).code == 250
    assert c.cmd("RCPT TO:<%s>" % CAROL).code == 250
    assert c.cmd("RCPT TO:<x1@remote.example>").code == 250
    c.quit()
    c = login(b)
    assert c.cmd("MAIL FROM:<%s>" % BOB).code == 250
    assert c.cmd("RCPT TO:<x2@remote.example>").code == 250
    r4 = c.cmd("RCPT TO:<x3@remote.example>")
    assert r4.code == 450 and "recipients" in r4.text, r4
    c.quit()
    b.wait_for_log("ratelimit", user=BOB, kind="recipients")


def test_pipelined_commands_wait_in_order(make_server, redis):
    """MAIL, RCPTs and DATA pipelined in one packet: each command that asks
    Redis waits, and its line is run again with the answer; the replies
    come in order and the message is accepted once."""
    r = redis()
    a = make_node(make_server, r, "node-a")
    c = login(a)
    t = token()
    body = bob_message(t)
    c.send(("MAIL FROM:<%s>\r\nRCPT TO:<%s>\r\nRCPT TO:<%s>\r\nDATA\r\n"
            % (BOB, CAROL, BOB)).encode())
    assert [x.code for x in c.replies(4)] == [250, 250, 250, 354]
    c.send(dot_stuff(body) + b".\r\n")
    qid = queue_id(c.reply())
    c.quit()
    a.wait_for_mail("carol", token=t)
    assert len(a.events("accepted", id=qid)) == 1
    # the window counted one message and two recipients, not more
    assert int(r.cmd("ZCARD", "postern:w:rl:messages:%s" % BOB)) == 1
    assert int(r.cmd("ZCARD", "postern:w:rl:recipients:%s" % BOB)) == 2


# ---------------------------------------------------------------- lockouts

def test_auth_failures_and_lockout_are_shared(make_server, redis):
    r = redis()
    extra = {"auth_max_failures": "3/10m", "auth_lockout": "10m"}
    a = make_node(make_server, r, "node-a", extra)
    b = make_node(make_server, r, "node-b", extra)
    src = "127.0.0.7"
    for srv in (a, a, b):       # two failures on a, the third on b
        c = login(srv, password="wrong password", source=src, expect=535)
        c.quit()
    b.wait_for_log("auth_lockout", client=src)
    # locked out on a too, even with the right password
    c = login(a, source=src, expect=454)
    c.quit()
    a.wait_for_log("reject", reason="auth_lockout", client=src)
    # another address is not
    c = login(a, source="127.0.0.8")
    c.quit()


# ---------------------------------------------------------------- outage

def test_redis_killed_and_restarted_under_load(make_server, redis):
    """Redis dies while mail flows: the node logs status=down and raises
    the state_backend alert once, keeps accepting on local state (limits
    per node), loses nothing it accepted, and shares again by itself
    (status=up) when Redis is back on its port."""
    r = redis()
    a = make_node(make_server, r, "node-a", {"user_max_messages": "1000/1h"})
    accepted, errors = [], []
    stop = threading.Event()

    def load():
        for _ in range(400):
            if stop.is_set():
                return
            t = token()
            try:
                accepted.append((send(a, t), t))
            except (AssertionError, OSError) as e:   # a refusal is not a loss
                errors.append(repr(e))
    th = threading.Thread(target=load)
    th.start()
    try:
        wait_until(lambda: len(accepted) >= 5, 30, what="mail flowing")
        r.kill()
        a.wait_for_log("state_backend", status="down", timeout=10)
        a.wait_for_log("alert", kind="state_backend", timeout=10)
        n = len(accepted)
        wait_until(lambda: len(accepted) >= n + 5, 30, what="mail flowing without Redis")
        r.start()
        a.wait_for_log("state_backend", status="up", count=2, timeout=15)
        n = len(accepted)
        wait_until(lambda: len(accepted) >= n + 5, 30, what="mail flowing after Redis came back")
    finally:
        stop.set()
        th.join(120)
    assert not errors, errors[:5]
    # one down and one alert for the one outage
    assert len(a.events("state_backend", status="down")) == 1
    assert len(a.events("alert", kind="state_backend")) == 1
    # nothing accepted is lost
    for qid, t in accepted:
        a.wait_for_mail("carol", token=t, timeout=30)
    # and the windows are Redis's again
    wait_until(lambda: r.cmd("EXISTS", "postern:w:rl:messages:%s" % BOB) == 1, 10,
               what="the message window back in Redis")


def test_a_hung_redis_costs_a_command_one_second_at_most(make_server, redis):
    """Redis stops answering (SIGSTOP: the connection stays open): a MAIL
    waiting for it is answered from local state once STATE_TIMEOUT (1 s)
    passes, the node says status=down, and shares again after SIGCONT."""
    r = redis()
    a = make_node(make_server, r, "node-a", {"user_max_messages": "50/1h"})
    c = login(a)
    r.proc.send_signal(signal.SIGSTOP)
    try:
        t0 = time.monotonic()
        assert c.cmd("MAIL FROM:<%s>" % BOB, timeout=10).code == 250
        assert time.monotonic() - t0 < 5
        a.wait_for_log("state_backend", status="down", timeout=5)
        c.cmd("RSET")
        t0 = time.monotonic()        # down now: no wait at all
        assert c.cmd("MAIL FROM:<%s>" % BOB, timeout=10).code == 250
        assert time.monotonic() - t0 < 1
    finally:
        r.proc.send_signal(signal.SIGCONT)
    c.quit()
    a.wait_for_log("state_backend", status="up", count=2, timeout=15)


def test_redis_unreachable_at_start_then_limits_per_node(make_server, redis):
    """No Redis when the node starts: down from the first attempt, limits
    still apply on this node alone; Redis appears: up."""
    r = redis()
    r.kill()
    port = free_port()
    a = make_server(tls=True, users=("bob", "carol"),
                    config={"listen_submission": "127.0.0.1:%d" % port, "state_backend": r.url,
                            "node_name": "lonely", "user_max_messages": "2/1h"})
    a.sub_port = port
    a.wait_for_log("state_backend", status="down")
    a.wait_for_log("alert", kind="state_backend")
    c = login(a)
    for want in (250, 250, 450):
        assert c.cmd("MAIL FROM:<%s>" % BOB).code == want
        c.cmd("RSET")
    c.quit()
    r.start()
    a.wait_for_log("state_backend", status="up", timeout=15)


def test_password_and_db(make_server, redis):
    """state_password is sent with AUTH and never logged; the DB of the
    URL is the one written."""
    r = redis(password="redis-s3cret-pw")
    a = make_node(make_server, r, "node-a", {"user_max_messages": "9/1h"})
    c = login(a)
    assert c.cmd("MAIL FROM:<%s>" % BOB).code == 250
    c.quit()
    assert r.cmd("ZCARD", "postern:w:rl:messages:%s" % BOB, db=1) == 1
    assert r.cmd("EXISTS", "postern:w:rl:messages:%s" % BOB, db=0) == 0
    assert "redis-s3cret-pw" not in a.log_path.read_text()
    assert "redis-s3cret-pw" not in a.stderr_text()


def test_wrong_password_is_down_with_the_reason(make_server, redis):
    r = redis(password="the-right-one")
    port = free_port()
    a = make_server(tls=True, config={"listen_submission": "127.0.0.1:%d" % port,
                                      "state_backend": r.url, "state_password": "a-wrong-one",
                                      "node_name": "n1"})
    ev = a.wait_for_log("state_backend", status="down")[-1]
    assert "AUTH" in ev["reason"], ev
    assert "a-wrong-one" not in a.log_path.read_text()


# ---------------------------------------------------------------- logs

def test_every_log_line_names_the_node(make_server, redis):
    r = redis()
    a = make_node(make_server, r, "mx-1.example")
    send(a, token())
    a.cli("user", "hold", BOB)
    lines = [l for l in a.log_lines() if l.strip()]
    assert len(lines) > 20
    bad = [l for l in lines if " node=mx-1.example" not in l]
    assert not bad, bad[:5]


def test_local_backend_logs_no_node(make_server):
    srv = make_server(config={"node_name": "mx-1"})
    assert not [l for l in srv.log_lines() if "node=" in l]


# ---------------------------------------------------------------- holds

def held_on(srv):
    return BOB in srv.cli("user", "held").stdout


def test_holds_across_nodes_and_restarts(make_server, redis):
    """A hold made on one node applies on every node within 10 s; a
    release made on one node frees what every node kept, even a node that
    was stopped at the time; holds survive a Redis restart (the nodes push
    their copies back) and reach a node that joins later."""
    r = redis()
    a = make_node(make_server, r, "node-a")
    b = make_node(make_server, r, "node-b")
    a.cli("user", "hold", BOB, "--reason", "phished")
    wait_until(lambda: held_on(b), 10, interval=0.2, what="the hold on node-b")
    # b keeps bob's new mail
    t1 = token()
    q1 = send(b, t1)
    b.wait_for_log("held", id=q1)
    # b stops; the release is made on a meanwhile
    b.stop()
    a.cli("user", "release", BOB)
    a.wait_for_log("release", user=BOB)
    # b comes back: the later release wins over its copy, its kept mail goes
    b.start()
    b.wait_for_log("released", user=BOB, timeout=15)
    b.wait_for_mail("carol", token=t1, timeout=15)
    assert not held_on(b)
    # a signal-free hold again, then Redis loses everything
    b.cli("user", "hold", BOB, "--reason", "again")
    wait_until(lambda: held_on(a), 10, interval=0.2, what="the hold on node-a")
    r.kill()
    a.wait_for_log("state_backend", status="down")
    r.start()
    a.wait_for_log("state_backend", status="up", count=2, timeout=15)
    b.wait_for_log("state_backend", status="up", count=2, timeout=15)
    wait_until(lambda: r.cmd("HEXISTS", "postern:holds", BOB) == 1, 10,
               what="the hold pushed back to the new Redis")
    # a node that joins now learns it
    c = make_node(make_server, r, "node-c")
    wait_until(lambda: held_on(c), 10, interval=0.2, what="the hold on node-c")
    t2 = token()
    q2 = send(c, t2)
    c.wait_for_log("held", id=q2)
    # released on c: a and b (which kept nothing since) and c agree
    c.cli("user", "release", BOB)
    c.wait_for_mail("carol", token=t2, timeout=15)
    wait_until(lambda: not held_on(a) and not held_on(b), 10, interval=0.2,
               what="the release on node-a and node-b")


def test_signal_hold_on_one_node_keeps_mail_on_the_other(make_server, redis):
    """The rate limit trips on node-a; node-b holds bob's mail within 10 s,
    and a release there frees node-a's kept message too."""
    r = redis()
    extra = {"user_max_messages": "2/1h"}
    a = make_node(make_server, r, "node-a", extra)
    b = make_node(make_server, r, "node-b", extra)
    send(a, token())
    send(b, token())
    c = login(a)
    assert c.cmd("MAIL FROM:<%s>" % BOB).code == 450
    c.quit()
    a.wait_for_log("hold", user=BOB, reason="ratelimit")
    wait_until(lambda: held_on(b), 10, interval=0.2, what="the hold on node-b")
    # (the window is full for both nodes: raise it on a to keep one there)
    a.write_config(user_max_messages="10/1h")
    a.reload()
    t = token()
    q = send(a, t)
    a.wait_for_log("held", id=q)
    b.cli("user", "release", BOB)
    a.wait_for_log("released", user=BOB, timeout=15)
    a.wait_for_mail("carol", token=t, timeout=15)


# ---------------------------------------------------------------- statistics

def stats_json(srv):
    r = srv.cli("stats", "--json")
    return json.loads(r.stdout)


def test_stats_on_any_node_show_the_sum(make_server, redis):
    r = redis()
    a = make_node(make_server, r, "node-a")
    b = make_node(make_server, r, "node-b")
    for _ in range(3):
        send(a, token())
    for _ in range(2):
        send(b, token())
    c = SMTPClient(b.port)      # and a rejection on b
    c.reply()
    c.ehlo()
    assert c.cmd("MAIL FROM:<x@remote.example>").code == 250
    assert c.cmd("RCPT TO:<nobody@example.test>").code == 550
    c.quit()

    def summed(srv):
        j = stats_json(srv)
        return j if j["accepted"] == 5 and j["rejected"] >= 1 else None
    for srv in (a, b):
        j = wait_until(lambda: summed(srv), 5, interval=0.3, what="the sum on %s" % srv.dir)
        assert set(j["nodes"]) == {"node-a", "node-b"}, j["nodes"]
        assert j["nodes"]["node-a"]["accepted"] == 3
        assert j["nodes"]["node-b"]["accepted"] == 2
        assert j["nodes"]["node-b"]["rejected"] >= 1 and j["nodes"]["node-a"]["rejected"] == 0
        assert j["sent_by_account"].get(BOB) == 5, j
    text = a.cli("stats").stdout
    assert "2 nodes" in text and "node-a" in text and "node-b" in text, text
    # Redis restarted empty: the nodes push their counts again
    r.kill()
    r.start()
    a.wait_for_log("state_backend", status="up", count=2, timeout=15)
    b.wait_for_log("state_backend", status="up", count=2, timeout=15)
    wait_until(lambda: summed(a), 10, interval=0.5, what="the sums after a Redis restart")
    # a node that stops right after accepting leaves its whole count
    send(b, token())
    b.stop()
    wait_until(lambda: stats_json(a)["accepted"] == 6, 5, interval=0.3,
               what="node-b's last message in the sum")
    # Redis gone: this node's own figures, said so
    r.kill()
    out = a.cli("stats", "--json")
    assert json.loads(out.stdout)["accepted"] == 3
    assert "this node" in out.stderr
    assert "nodes" not in json.loads(out.stdout)


# ---------------------------------------------------------------- alerts

def alert_mails(srv, kind):
    return [f for f in srv.mail_files("postmaster")
            if ("[postern alert] %s" % kind).encode() in f.read_bytes()]


def test_an_alert_is_mailed_once_for_all_nodes(make_server, redis):
    """bob's mail scores as spam on both nodes (thresholds set below any
    score): each node refuses and logs its alert, one mail goes out."""
    r = redis()
    extra = {"score_junk": "-100", "score_reject": "-50"}
    a = make_node(make_server, r, "node-a", extra)
    b = make_node(make_server, r, "node-b", extra)
    for srv in (a, b):
        c = login(srv)
        assert c.cmd("MAIL FROM:<%s>" % BOB).code == 250
        assert c.cmd("RCPT TO:<%s>" % CAROL).code == 250
        assert c.cmd("DATA").code == 354
        c.send(dot_stuff(bob_message(token())) + b".\r\n")
        assert c.reply().code == 550
        c.quit()
        srv.wait_for_log("alert", kind="outbound_spam", user=BOB)
    # which node claims first depends on the timers of two loaded
    # processes: one of them mails it, never both
    both = lambda: alert_mails(a, "outbound_spam") + alert_mails(b, "outbound_spam")
    wait_until(both, 10, what="the alert mail on one node")
    time.sleep(2)       # the other node's claim (every 250 ms) had time to mail it
    assert len(both()) == 1, both()


# ---------------------------------------------------------------- remembered bounces

def test_a_bounce_remembered_on_one_node_is_refused_on_the_others(make_server, redis):
    from smtpsink import SMTPSink
    sink_ip = "127.0.1.221"
    sink = SMTPSink(sink_ip, free_port(sink_ip)).start()
    sink.rcpt_replies["gone@remote.test"] = "550 5.1.1 <gone@remote.test>: no such user"
    try:
        r = redis()
        extra = {"relayhost": "%s:%d" % (sink_ip, sink.port)}
        a = make_node(make_server, r, "node-a", extra)
        b = make_node(make_server, r, "node-b", extra)
        c = login(a)
        qid = queue_id(c.send_mail(BOB, ["gone@remote.test"], bob_message(token())))
        c.quit()
        a.wait_for_log("bounced", id=qid)
        a.wait_for_log("suppressed", rcpt="gone@remote.test")

        def refused_on(srv):
            c = login(srv)
            try:
                assert c.cmd("MAIL FROM:<%s>" % BOB).code == 250
                rr = c.cmd("RCPT TO:<gone@remote.test>")
                return rr.code == 550 and rr.enhanced == "5.1.1"
            finally:
                c.quit()
        wait_until(lambda: refused_on(b), 5, interval=0.5, what="node-b refusing the address")
        # remembered by node-b itself: a restart of b without Redis keeps it
        b.stop()
        r.kill()
        b.start()
        assert refused_on(b)
        # and a node that joins later gets it from Redis
        r.start()
        c_node = make_node(make_server, r, "node-c", extra)
        wait_until(lambda: refused_on(c_node), 10, interval=0.5, what="node-c refusing it")
    finally:
        sink.stop()


# ---------------------------------------------------------------- learned opinions

def test_learned_opinions_reach_every_node(make_server, redis):
    """carol moves a message into Junk on node-a (postern learn); node-b
    files the sender's next message to her in Junk within seconds, and a
    node that joins later knows it too."""
    r = redis()
    extra = {"score_junk": "1.0"}
    a = make_node(make_server, r, "node-a", extra)
    b = make_node(make_server, r, "node-b", extra)
    sender = "news@promo.test"
    body = ("From: News <%s>\r\nTo: <%s>\r\nSubject: offer\r\n"
            "Date: Sat, 28 Nov 2026 00:00:00 +0000\r\nMessage-ID: <%s@promo.test>\r\n"
            "\r\nbuy\r\n" % (sender, CAROL, token()))
    a.cli("learn", "spam", "--user", CAROL, stdin=body)
    wait_until(lambda: sender in b.cli("learn", "list").stdout, 12, interval=0.5,
               what="the opinion on node-b")

    def inbound(srv):
        t = token()
        c = srv.client()
        c.ehlo("client.test")
        msg = ("From: News <%s>\r\nTo: <%s>\r\nSubject: more %s\r\n"
               "Date: Sat, 28 Nov 2026 00:00:00 +0000\r\nMessage-ID: <%s@promo.test>\r\n"
               "\r\nbuy %s\r\n" % (sender, CAROL, t, t, t)).encode()
        qid = queue_id(c.send_mail(sender, [CAROL], msg))
        c.quit()
        return srv.wait_for_log("accepted", id=qid)[0]
    ev = inbound(b)
    assert ev["verdict"] == "junk" and "LEARNED_SPAM" in ev["symbols"], ev
    c_node = make_node(make_server, r, "node-c", extra)
    wait_until(lambda: sender in c_node.cli("learn", "list").stdout, 10, interval=0.5,
               what="the opinion on node-c")
    # carol changes her mind on node-c: ham wins everywhere (later)
    time.sleep(1.1)
    c_node.cli("learn", "ham", "--user", CAROL, stdin=body)
    wait_until(lambda: " ham " in [l for l in a.cli("learn", "list").stdout.splitlines()
                                   if sender in l][0], 12, interval=0.5,
               what="the later opinion on node-a")
