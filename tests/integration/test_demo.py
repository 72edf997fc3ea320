"""What `make run` shows a newcomer (issue 13 item 7): the relay
self-test's sessions stay out of the terminal (one summary line there, the
details in the log file), and a machine without any DNS gets one clear
warning instead of blocklist alerts. Recursion goes to a private root on
loopback (dns_root_hints), so no packet leaves the machine."""

import socket

from conftest import Server, wait_until


def blackhole_root(tmp_path):
    """Root hints naming a loopback address where nothing answers."""
    hole = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    hole.bind(("127.0.0.198", 0))       # swallows queries, never answers
    port = hole.getsockname()[1]
    hints = tmp_path / "root.hints"
    hints.write_text(".  3600000 IN NS a.root.test.\n"
                     "a.root.test. 3600000 IN A 127.0.0.198\n")
    return hole, port, hints


def test_offline_machine_gets_one_warning_not_dnsbl_alerts(tmp_path):
    hole, port, hints = blackhole_root(tmp_path)
    # unbound's root hints cannot carry a port: the queries go to
    # 127.0.0.198:53, where nothing listens either (still loopback only).
    s = Server(tmp_path / "srv", config={"dns_servers": None,
                                          "dns_root_hints": str(hints),
                                          "dnsbl_timeout": "1s"})
    s.start()
    try:
        ev = s.wait_for_log("dnsbl_health", count=2, timeout=20)
        assert all(e.get("status") in ("timeout", "servfail") for e in ev), ev
        warnings = [e for e in s.events("warning") if "offline" in e.get("reason", "")]
        assert len(warnings) == 1, s.events("warning")
        assert not [e for e in s.events("alert") if e.get("kind") == "dnsbl"], s.events("alert")
        # mail still flows, without waiting for lookups
        c = s.client(source="127.0.0.42", timeout=5)
        c.expect("EHLO client.test", 250)
        c.expect("MAIL FROM:<alice@remote.test>", 250)
        c.expect("RCPT TO:<bob@example.test>", 250)
        c.quit()
    finally:
        s.teardown()
        hole.close()


def test_selftest_sessions_stay_out_of_the_terminal(tmp_path):
    s = Server(tmp_path)
    s.start()
    try:
        s.wait_for_log("relaytest")
        s.stop()
        err = s.stderr_text()
        assert "event=relaytest" in err, err[-2000:]
        assert "client=127.0.0.253" not in err, [l for l in err.splitlines()
                                                 if "127.0.0.253" in l][:3]
        # the log file keeps every line
        log = s.log_path.read_text()
        assert "event=connect client=127.0.0.253" in log
    finally:
        s.teardown()
