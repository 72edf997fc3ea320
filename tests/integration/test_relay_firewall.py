"""Never an open relay (SPEC 6.3) and the egress firewall (SPEC 6.6):
`postern relaytest` against postern (nothing relays, also with
trusted_networks covering the tester, thanks to the self-test's secret
EHLO) and against an open relay (exit 1); the self-test at start; the
nftables rules of `postern firewall` accepted by `nft -c`."""

import os
import shutil
import socket
import subprocess
import threading

import pytest

from conftest import POSTERN_BIN, Server, wait_until


def run(*args, timeout=120):
    return subprocess.run([POSTERN_BIN] + list(args), capture_output=True, text=True,
                          timeout=timeout)


def test_relaytest_against_postern_finds_no_relay(tmp_path):
    s = Server(tmp_path, tls=True, config={"listen_submission": "127.0.0.1:%d" % _port(),
                                           "listen_submissions": "127.0.0.1:%d" % _port()})
    s.start()
    try:
        r = run("relaytest", "127.0.0.1:%d" % s.port, "--to", "victim@example.com")
        assert r.returncode == 0, r.stdout + r.stderr
        lines = [l for l in r.stdout.splitlines() if l.startswith(("refused", "RELAYED", "error"))]
        assert len(lines) >= 20, r.stdout
        assert not [l for l in lines if l.startswith("RELAYED")]
        # the battery the server ran on itself after start
        e = wait_until(lambda: s.events("relaytest"), 30, what="self-test result")[-1]
        assert e["relayed"] == "0" and int(e["attempts"]) >= 60, e
    finally:
        s.teardown()


def _port():
    with socket.socket() as so:
        so.bind(("127.0.0.1", 0))
        return so.getsockname()[1]


def test_self_test_is_never_trusted(tmp_path):
    # trusted_networks covers loopback: real clients there may relay, the
    # self-test must not, and the server keeps running.
    s = Server(tmp_path, config={"trusted_networks": "127.0.0.0/8"})
    s.start()
    try:
        e = wait_until(lambda: s.events("relaytest"), 30, what="self-test result")[-1]
        assert e["relayed"] == "0", e
        assert s.alive()
    finally:
        s.teardown()


class OpenRelay(threading.Thread):
    """An SMTP server that accepts every recipient (a misconfigured MTA)."""

    def __init__(self):
        super().__init__(daemon=True)
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.5)
        self.port = self.sock.getsockname()[1]
        self.stop = False

    def run(self):
        for _ in range(10000):
            if self.stop:
                return
            try:
                c, _ = self.sock.accept()
            except socket.timeout:
                continue
            c.settimeout(5)
            f = c.makefile("rb")
            c.sendall(b"220 open.example ESMTP\r\n")
            for _ in range(50):
                line = f.readline()
                if not line:
                    break
                verb = line[:4].upper()
                if verb == b"QUIT":
                    c.sendall(b"221 bye\r\n")
                    break
                c.sendall(b"250-open.example\r\n250 OK\r\n" if verb == b"EHLO" else b"250 OK\r\n")
            c.close()


def test_relaytest_detects_an_open_relay():
    relay = OpenRelay()
    relay.start()
    try:
        r = run("relaytest", "127.0.0.1:%d" % relay.port)
        assert r.returncode == 1, r.stdout + r.stderr
        assert "RELAYED" in r.stdout and "OPEN RELAY" in r.stdout
    finally:
        relay.stop = True
        relay.join(5)


def test_relaytest_cannot_run():
    r = run("relaytest", "127.0.0.1:%d" % _port())
    assert r.returncode == 2, r.stdout + r.stderr
    assert r.stderr.strip()


def test_firewall_rules_accepted_by_nft(tmp_path):
    s = Server(tmp_path, config={"user": "nobody"}, users=())
    r = run("firewall", "-c", str(s.conf))
    assert r.returncode == 0, r.stderr
    assert "dport 25" in r.stdout and "skuid" in r.stdout and "drop" in r.stdout
    nft = shutil.which("nft") or "/usr/sbin/nft"
    if not os.path.exists(nft):
        pytest.skip("nft is not installed (scripts/deps installs nftables)")
    trivial = tmp_path / "trivial.nft"
    trivial.write_text("table inet postern_probe { }\n")
    if subprocess.run([nft, "-c", "-f", str(trivial)], capture_output=True).returncode != 0:
        pytest.skip("nft -c refuses even a trivial ruleset here (no netlink in this sandbox)")
    rules = tmp_path / "rules.nft"
    rules.write_text(r.stdout)
    c = subprocess.run([nft, "-c", "-f", str(rules)], capture_output=True, text=True)
    assert c.returncode == 0, c.stderr
