"""check-config, bad configurations, SIGHUP reload, SIGTERM, CLI basics."""

import re
import signal
import subprocess
import time
import uuid

import pytest

import conftest
from conftest import token, POSTERN_BIN, SLOW, Server, queue_id, simple_message



def run(*args, stdin=None, timeout=30):
    return subprocess.run([POSTERN_BIN] + list(args), input=stdin, capture_output=True,
                          text=True, timeout=timeout * SLOW)


def write(path, lines):
    path.write_text("\n".join(lines) + "\n")
    return path


def test_check_config_ok(tmp_path):
    srv = Server(tmp_path / "ok", users=())
    r = run("check-config", "-c", str(srv.conf))
    assert r.returncode == 0, r.stderr


def test_check_config_reports_every_problem_with_file_line(tmp_path):
    conf = write(tmp_path / "bad.conf", [
        "# a comment",
        "hostname = mx.example.test",
        "domains = example.test",
        "no_such_key = 1",                 # line 4
        "",
        "smtp_timeout = 5 parsecs",        # line 6
        "listen_smtp = 127.0.0.1:2525",
        "max_message_size = 10Q",          # line 8
    ])
    r = run("check-config", "-c", str(conf))
    assert r.returncode == 1, (r.returncode, r.stdout, r.stderr)
    err = r.stderr
    assert re.search(r"bad\.conf:4: .*no_such_key", err), err
    assert re.search(r"bad\.conf:6: .*smtp_timeout", err), err
    assert re.search(r"bad\.conf:8: .*max_message_size", err), err
    # Each problem on its own line, in "file:line: reason" form.
    probs = [l for l in err.splitlines() if re.search(r"bad\.conf:\d+: \S", l)]
    assert len(probs) >= 3, err


def test_check_config_other_errors(tmp_path):
    cases = {
        "noeq.conf": (["domains = example.test", "this line has no equals sign"], 2),
        "port.conf": (["domains = example.test", "listen_smtp = 127.0.0.1:99999"], 2),
        "cidr.conf": (["domains = example.test", "trusted_networks = 10.0.0.0/33"], 2),
        "rate.conf": (["domains = example.test", "user_max_messages = lots"], 2),
    }
    for name, (lines, bad_line) in cases.items():
        conf = write(tmp_path / name, lines)
        r = run("check-config", "-c", str(conf))
        assert r.returncode == 1, (name, r.returncode, r.stderr)
        assert re.search(re.escape(name) + r":%d: \S" % bad_line, r.stderr), (name, r.stderr)


def test_check_config_missing_domains(tmp_path):
    conf = write(tmp_path / "nodom.conf", ["hostname = mx.example.test"])
    r = run("check-config", "-c", str(conf))
    assert r.returncode == 1, r.stderr
    assert "domains" in r.stderr, r.stderr


def test_check_config_missing_file(tmp_path):
    r = run("check-config", "-c", str(tmp_path / "nope.conf"))
    assert r.returncode == 1, (r.returncode, r.stderr)
    assert "nope.conf" in r.stderr


def test_serve_bad_config_exits_nonzero(tmp_path):
    conf = write(tmp_path / "bad.conf", [
        "domains = example.test",
        "data_dir = var",
        "listen_smtp = 127.0.0.1:%d" % conftest.free_port(),
        "listen_submission = off",
        "listen_submissions = off",
        "bogus = yes",
    ])
    p = subprocess.run([POSTERN_BIN, "serve", "-c", str(conf)], capture_output=True,
                       text=True, timeout=20 * SLOW, stdin=subprocess.DEVNULL)
    assert p.returncode != 0 and p.returncode > 0, (p.returncode, p.stderr)
    assert "bad.conf:6" in p.stderr, p.stderr


def test_serve_port_in_use_exits_nonzero(tmp_path):
    import socket
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen(1)
    port = holder.getsockname()[1]
    try:
        srv = Server(tmp_path / "busy", users=(), config={"listen_smtp": "127.0.0.1:%d" % port})
        p = subprocess.run([POSTERN_BIN, "serve", "-c", str(srv.conf)], capture_output=True,
                           text=True, timeout=20 * SLOW, stdin=subprocess.DEVNULL)
        assert p.returncode > 0, (p.returncode, p.stderr)
    finally:
        holder.close()


def test_version_and_help():
    r = run("--version")
    assert r.returncode == 0 and re.match(r"postern \d+\.\d+", r.stdout), r
    r = run("help")
    assert r.returncode == 0 and "serve" in r.stdout and "check-config" in r.stdout, r
    r = run("no-such-command")
    assert r.returncode != 0


@pytest.mark.parametrize("password", [
    "password",            # shorter than 12
    "123456789012",        # common / trivially guessable
    "aaaaaaaaaaaaaaa",     # zxcvbn: repeated character
    "carol-Xy7pQ2mZw9",    # contains the local part
], ids=["short", "common", "repeat", "localpart"])
def test_weak_password_refused(tmp_path, password):
    """SPEC 1 / 6.2: a weak password makes `user add` exit 1 with the reason."""
    srv = Server(tmp_path / "pw", users=())
    r = srv.cli("user", "add", "carol@example.test", "--password-stdin",
                stdin=password + "\n", check=False)
    assert r.returncode == 1, "weak password %r accepted: %r" % (password, r.stdout + r.stderr)
    assert r.stderr.strip() or r.stdout.strip(), "no reason given for the weak password"
    r = srv.cli("user", "list", check=False)
    assert "carol@example.test" not in r.stdout


def test_strong_password_accepted(tmp_path):
    srv = Server(tmp_path / "pw", users=())
    r = srv.cli("user", "add", "carol@example.test", "--password-stdin",
                stdin=conftest.PASSWORD + "\n", check=False)
    assert r.returncode == 0, r.stdout + r.stderr


def test_sighup_reload(make_server):
    srv = make_server(users=("bob",))
    # Before: carol unknown, sales unknown, big messages allowed.
    c = srv.client()
    ehlo = c.ehlo()
    assert "SIZE 52428800" in ehlo.text, ehlo
    c.expect("MAIL FROM:<alice@sender.test>", 250)
    r = c.cmd("RCPT TO:<carol@example.test>")
    assert r.code == 550, r
    c.quit()

    srv.add_user("carol@example.test")
    srv.add_alias("sales@example.test", "carol@example.test")
    srv.write_config(max_message_size="10K")
    srv.reload()
    assert srv.alive()

    t1, t2 = token(), token()
    c = srv.client()
    ehlo = c.ehlo()
    assert "SIZE 10240" in ehlo.text, ehlo
    r = c.cmd("MAIL FROM:<alice@sender.test> SIZE=20000")
    assert r.code == 552, r
    queue_id(c.send_mail("alice@sender.test", ["carol@example.test"], simple_message(t1)))
    queue_id(c.send_mail("alice@sender.test", ["sales@example.test"], simple_message(t2)))
    # An oversized DATA is now refused.
    c.expect("MAIL FROM:<alice@sender.test>", 250)
    c.expect("RCPT TO:<bob@example.test>", 250)
    c.expect("DATA", 354)
    c.send(simple_message(token(), body_lines=["q" * 70] * 300) + b".\r\n")
    r = c.reply()
    assert r.code == 552, r
    c.quit()
    srv.wait_for_mail("carol", token=t1)
    srv.wait_for_mail("carol", token=t2)

    # Removing the alias and reloading makes it unknown again.
    srv.cli("alias", "del", "sales@example.test")
    srv.reload()
    c = srv.client()
    c.ehlo()
    c.expect("MAIL FROM:<alice@sender.test>", 250)
    r = c.cmd("RCPT TO:<sales@example.test>")
    assert r.code == 550, r
    c.quit()

    # SIGTERM: clean exit 0.
    rc = srv.stop()
    assert rc == 0, rc
    srv.wait_for_log("stop")


def test_sighup_with_broken_config_keeps_serving(make_server):
    """A reload that fails keeps the old configuration and keeps serving."""
    srv = make_server()
    good = srv.conf.read_text()
    srv.conf.write_text(good + "this_key_does_not_exist = 1\n")
    srv.signal(signal.SIGHUP)
    srv.wait_for_log("error", since_start=True)
    assert not srv.events("reload", since_start=True), "broken config was loaded"
    assert srv.alive(), srv.stderr_text()
    t = token()
    c = srv.client()
    c.ehlo()
    queue_id(c.send_mail("alice@sender.test", ["bob@example.test"], simple_message(t)))
    c.quit()
    srv.wait_for_mail("bob", token=t)
    srv.conf.write_text(good)


def test_sigterm_during_session(make_server):
    """SIGTERM with an open session: the server exits 0 within a bound, the
    client sees 421 or a close; an acknowledged message is delivered after
    restart."""
    srv = make_server()
    t = token()
    c = srv.client()
    c.ehlo()
    queue_id(c.send_mail("alice@sender.test", ["bob@example.test"], simple_message(t)))
    rc = srv.stop()
    assert rc == 0, rc
    try:
        data = c.read_eof(timeout=5)
        assert data == b"" or data.startswith(b"421"), data
    finally:
        c.close()
    srv.start()
    srv.wait_for_mail("bob", token=t)


def test_queue_list_cli(make_server):
    srv = make_server()
    r = srv.cli("queue", "list")
    assert r.returncode == 0


def test_sighup_storm_under_load(make_server):
    """Reloads while sessions and deliveries run: nothing lost, no crash
    (the configuration swap must not free what another thread still reads)."""
    import threading
    srv = make_server(users=("bob",), config={"max_connections_per_ip": 100})
    run_id = token()[:8]
    n_threads, per_thread = 6, 20
    errors, acked = [], []
    lock = threading.Lock()

    def worker(i):
        try:
            c = srv.client()
            c.ehlo()
            for k in range(per_thread):
                tok = "%s-%d-%d" % (run_id, i, k)
                queue_id(c.send_mail("alice@sender.test", ["bob@example.test"],
                                     simple_message(tok)))
                with lock:
                    acked.append(tok)
            c.quit()
        except Exception as e:  # noqa: BLE001
            errors.append(repr(e))

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(n_threads)]
    for t in threads:
        t.start()
    for _ in range(200):
        if not any(t.is_alive() for t in threads):
            break
        srv.signal(signal.SIGHUP)
        time.sleep(0.01)
    for t in threads:
        t.join(60 * SLOW)
    assert srv.alive(), srv.stderr_text()[-4000:]
    assert not errors, errors[:5]
    assert len(acked) == n_threads * per_thread
    srv.wait_for_mail("bob", count=len(acked), timeout=30)
    srv.signal(signal.SIGHUP)
    srv.wait_for_log("reload")
    assert srv.alive()


# -- SPEC 2: ranges, keys given twice, listeners, non-regular files ----------

# (lines after "domains = example.test", the line number of the error, what
# the message must name). Each is a mistake check-config used to accept.
MISTAKES = {
    "twice": (["hostname = a.example.test", "max_connections = 10",
               "hostname = b.example.test"], 4, r"hostname.*lines 2 and 4"),
    "score_twice": (["score.URL_DBL_SPAM = 7", "score.URL_DBL_SPAM = 8"], 3,
                    r"score\.URL_DBL_SPAM.*lines 2 and 3"),
    "ratio_high": (["alert_bounce_ratio = 1.5"], 2, r"alert_bounce_ratio.*out of range"),
    "ratio_negative": (["alert_bounce_ratio = -0.2"], 2, r"alert_bounce_ratio.*out of range"),
    "lifetime_zero": (["queue_lifetime = 0s"], 2, r"queue_lifetime.*out of range"),
    "rate_zero": (["user_max_messages = 0/1h"], 2, r"user_max_messages.*out of range"),
    "size_overflow": (["max_message_size = 9223372036854775807"], 2,
                      r"max_message_size.*out of range"),
    # overflowing their C type: said to be out of range, not malformed
    "size_wraps": (["max_message_size = 99999999999999999999999"], 2,
                   r"max_message_size.*out of range"),
    "count_overflow": (["max_connections = 4294967296"], 2, r"max_connections.*out of range"),
    "two_listeners": (["listen_smtp = 127.0.0.1:2525", "listen_submissions = off",
                       "listen_submission = 127.0.0.1:2525"], 4,
                      r"listen_submission.*127\.0\.0\.1:2525.*listen_smtp.*line 2"),
    "metrics_on_listener": (["listen_smtp = 127.0.0.1:2525", "metrics_listen = 127.0.0.1:2525"],
                            3, r"metrics_listen.*listen_smtp.*line 2"),
}


def check_config_quickly(conf):
    """check-config on conf, which must answer within a second (SPEC 2: a
    mistake is reported, never waited on)."""
    t0 = time.monotonic()
    r = run("check-config", "-c", str(conf), timeout=10)
    return r, time.monotonic() - t0


@pytest.mark.parametrize("case", sorted(MISTAKES))
def test_check_config_refuses_mistake_with_file_line(tmp_path, case):
    lines, bad_line, what = MISTAKES[case]
    conf = write(tmp_path / (case + ".conf"), ["domains = example.test"] + lines)
    r, took = check_config_quickly(conf)
    assert r.returncode == 1, (case, r.returncode, r.stdout, r.stderr)
    assert took < 1.0 * SLOW, (case, took)
    m = re.search(re.escape(case) + r"\.conf:%d: (.*)" % bad_line, r.stderr)
    assert m and re.search(what, m.group(1)), (case, r.stderr)


def test_check_config_ranges_keep_good_values(tmp_path):
    """The edges of each range are accepted, floats and negative weights too."""
    conf = write(tmp_path / "edges.conf", [
        "domains = example.test",
        "alert_bounce_ratio = 1",
        "queue_lifetime = 1s",
        "user_max_messages = 1/1s",
        "max_message_size = 1T",
        "score_junk = 4.5",
        "score_reject = 12.25",
        "score.RCVD_IN_PBL = -1.5",
        "listen_smtp = 127.0.0.1:2525",
        "listen_submission = 127.0.0.2:2525",
        "listen_submissions = off",
        "metrics_listen = 127.0.0.1:9100",
    ])
    r, _ = check_config_quickly(conf)
    assert r.returncode == 0, r.stderr


def test_huge_max_message_size_refused_by_serve(tmp_path):
    """max_message_size = 2^63-1 used to start a server where min_free_space
    (1.5x) wrapped and every MAIL got 452: now serve refuses the file."""
    conf = write(tmp_path / "huge.conf", [
        "domains = example.test",
        "data_dir = var",
        "listen_smtp = 127.0.0.1:%d" % conftest.free_port(),
        "listen_submission = off",
        "listen_submissions = off",
        "max_message_size = 9223372036854775807",
    ])
    p = subprocess.run([POSTERN_BIN, "serve", "-c", str(conf)], capture_output=True,
                       text=True, timeout=20 * SLOW, stdin=subprocess.DEVNULL)
    assert p.returncode > 0, (p.returncode, p.stderr)
    assert "huge.conf:6: max_message_size" in p.stderr, p.stderr


@pytest.mark.parametrize("argv", [
    ["check-config"], ["serve"], ["queue", "list"], ["user", "list"], ["stats"],
], ids=lambda a: "-".join(a))
def test_fifo_config_refused_without_blocking(tmp_path, argv):
    """A FIFO (or anything not a regular file) as the configuration is
    refused at once: opening a FIFO for reading used to wait for a writer
    forever."""
    import os
    fifo = tmp_path / "fifo.conf"
    os.mkfifo(fifo)
    t0 = time.monotonic()
    try:
        p = subprocess.run([POSTERN_BIN] + argv + ["-c", str(fifo)], capture_output=True,
                           text=True, timeout=10 * SLOW, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        pytest.fail("postern %s blocked on a FIFO configuration" % " ".join(argv))
    took = time.monotonic() - t0
    assert p.returncode > 0, (p.returncode, p.stderr)
    assert took < 1.0 * SLOW, took
    assert "fifo.conf" in p.stderr and "regular file" in p.stderr, p.stderr
