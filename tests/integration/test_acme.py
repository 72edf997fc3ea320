"""Certificates from an ACME CA (SPEC 9, RFC 8555), against a real Pebble.

Pebble (Debian package `pebble`) runs on loopback with its own TLS
certificate, which postern trusts through `acme_ca_file`. Validation is
real http-01: Pebble resolves the server's hostname through the tests'
FakeDNS (`-dnsserver`), which answers 127.0.0.1, and fetches
/.well-known/acme-challenge/TOKEN from postern's `acme_http_listen`
(Pebble's `httpPort`). PEBBLE_VA_NOSLEEP only removes Pebble's random
waits; nonces are still rejected now and then (Pebble's default 5%),
which the client must retry.
"""

import os
import shutil
import socket
import ssl
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from conftest import HOSTNAME, SLOW, Server, fake_dns, free_port, wait_until

PEBBLE = shutil.which("pebble") or "/usr/bin/pebble"


def connects(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
        return True
    except OSError:
        return False


class Pebble:
    def __init__(self, directory, http_port):
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port, self.mport = free_port(), free_port()
        self.cert, self.key = self.dir / "pebble-cert.pem", self.dir / "pebble-key.pem"
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
             "ec_paramgen_curve:P-256", "-nodes", "-subj", "/CN=pebble", "-days", "30",
             "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
             "-keyout", str(self.key), "-out", str(self.cert)],
            check=True, capture_output=True, timeout=60)
        conf = self.dir / "pebble.json"
        conf.write_text(
            '{"pebble": {"listenAddress": "127.0.0.1:%d", "managementListenAddress": '
            '"127.0.0.1:%d", "certificate": "%s", "privateKey": "%s", "httpPort": %d, '
            '"tlsPort": %d, "ocspResponderURL": "", "externalAccountBindingRequired": false}}'
            % (self.port, self.mport, self.cert, self.key, http_port, free_port()))
        env = dict(os.environ, PEBBLE_VA_NOSLEEP="1")
        self.log = open(self.dir / "pebble.log", "wb")
        self.proc = subprocess.Popen(
            [PEBBLE, "-config", str(conf), "-dnsserver", "127.0.0.1:%d" % fake_dns().port,
             "-strict", "false"],
            stdout=self.log, stderr=self.log, stdin=subprocess.DEVNULL, env=env,
            start_new_session=True)
        wait_until(lambda: self.proc.poll() is None and connects(self.port), 30,
                   what="pebble on port %d" % self.port)

    @property
    def directory(self):
        return "https://127.0.0.1:%d/dir" % self.port

    def root(self):
        """The PEM of the root that signs what Pebble issues."""
        ctx = ssl.create_default_context(cafile=str(self.cert))
        with urllib.request.urlopen("https://127.0.0.1:%d/roots/0" % self.mport,
                                    context=ctx, timeout=10) as r:
            return r.read().decode()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.log.close()


@pytest.fixture
def acme_env(tmp_path):
    if not os.access(PEBBLE, os.X_OK):
        pytest.skip("pebble is not installed (scripts/deps installs it)")
    dns = fake_dns()
    key = (HOSTNAME, 1)
    with dns.lock:
        dns.records[key] = ["127.0.0.1"]
    http_port = free_port()
    pebble = Pebble(tmp_path / "pebble", http_port)
    servers = []

    def make(extra=None, start=True):
        cfg = {
            "acme_email": "admin@example.test",
            "acme_directory": pebble.directory,
            "acme_http_listen": "127.0.0.1:%d" % http_port,
            "acme_ca_file": str(pebble.cert),
            "listen_submission": "127.0.0.1:%d" % free_port(),
            "listen_submissions": "127.0.0.1:%d" % free_port(),
        }
        cfg.update(extra or {})
        srv = Server(tmp_path / ("srv%d" % len(servers)), config=cfg)
        servers.append(srv)
        if start:
            srv.start()
        return srv

    try:
        yield make, pebble
    finally:
        errors = []
        for srv in servers:
            try:
                srv.teardown()
            except AssertionError as e:
                errors.append(str(e))
        pebble.stop()
        with dns.lock:
            dns.records.pop(key, None)
        assert not errors, "\n".join(errors)


def port_of(srv, key):
    return int(srv.config_dict()[key].rsplit(":", 1)[1])


def ehlo_keywords(srv):
    c = srv.client()
    r = c.ehlo()
    c.quit()
    return [l.split()[0].upper() for l in r.texts[1:] if l.strip()]


def verified_starttls(srv, root_pem):
    """STARTTLS on port 25 with the chain verified against Pebble's root
    and the host name checked; returns the peer certificate (dict)."""
    ctx = ssl.create_default_context(cadata=root_pem)
    c = srv.client()
    c.ehlo()
    c.starttls(ctx)
    cert = c.sock.getpeercert()
    c.quit()
    return cert


def test_certificate_issued_with_real_http01_and_submission_opens(acme_env):
    make, pebble = acme_env
    srv = make()
    sub, subs = port_of(srv, "listen_submission"), port_of(srv, "listen_submissions")
    issued = srv.wait_for_log("acme", status="issued", timeout=90)[0]
    assert issued["name"] == HOSTNAME
    # Pebble fetched the key authorization from us: real http-01
    served = srv.events("acme_challenge", status="200")
    assert served, srv.events("acme_challenge")

    # STARTTLS now offered on 25, and the submission ports open, no restart
    assert "STARTTLS" in ehlo_keywords(srv)
    wait_until(lambda: connects(sub) and connects(subs), 10, what="submission ports")
    c = srv.client()
    c.sock.close()
    from conftest import SMTPClient
    s = SMTPClient(sub)
    assert s.reply().code == 220
    s.quit()

    root = pebble.root()
    cert = verified_starttls(srv, root)
    names = [v for k, v in cert.get("subjectAltName", ()) if k == "DNS"]
    assert HOSTNAME in names, cert
    # implicit TLS on 465 with the same certificate
    ctx = ssl.create_default_context(cadata=root)
    with socket.create_connection(("127.0.0.1", subs), timeout=10) as raw:
        with ctx.wrap_socket(raw, server_hostname=HOSTNAME) as tls:
            assert tls.recv(100).startswith(b"220")

    acme = srv.data_dir / "acme"
    assert (acme / "cert.pem").read_text().count("BEGIN CERTIFICATE") >= 2
    assert os.stat(acme / "key.pem").st_mode & 0o077 == 0
    assert os.stat(acme / "account.key").st_mode & 0o077 == 0

    # a restart uses the kept certificate: no new order
    serial = issued["serial"]
    srv.stop()
    srv.start()
    loaded = srv.wait_for_log("acme", status="loaded", timeout=20)
    assert loaded[-1]["serial"] == serial
    assert "STARTTLS" in ehlo_keywords(srv)
    assert not [e for e in srv.events("acme", since_start=True)
                if e.get("status") == "ordering"]


def test_expired_certificate_is_renewed_without_restart(acme_env):
    make, pebble = acme_env
    srv = make(start=False)
    acme = srv.data_dir / "acme"
    acme.mkdir(parents=True, exist_ok=True)
    # a certificate whose lifetime is over, as a renewal would find it
    ca = acme / "ca"
    ca.mkdir()
    (ca / "index.txt").write_text("")
    (ca / "openssl.cnf").write_text(
        "[ca]\ndefault_ca = d\n[d]\ndatabase = %s/index.txt\nnew_certs_dir = %s\n"
        "serial = %s/serial\ndefault_md = sha256\npolicy = p\nunique_subject = no\n"
        "[p]\ncommonName = supplied\n" % (ca, ca, ca))
    (ca / "serial").write_text("0ABC\n")
    subprocess.run(["openssl", "req", "-new", "-newkey", "rsa:2048", "-nodes", "-subj",
                    "/CN=" + HOSTNAME, "-keyout", str(acme / "key.pem"),
                    "-out", str(ca / "req.pem")], check=True, capture_output=True, timeout=60)
    subprocess.run(["openssl", "ca", "-batch", "-config", str(ca / "openssl.cnf"),
                    "-selfsign", "-keyfile", str(acme / "key.pem"), "-in", str(ca / "req.pem"),
                    "-startdate", "20200101000000Z", "-enddate", "20200401000000Z",
                    "-out", str(acme / "cert.pem")], check=True, capture_output=True, timeout=60)
    srv.start()
    loaded = srv.wait_for_log("acme", status="loaded", timeout=20)[0]
    assert loaded["serial"] == "0ABC"
    issued = srv.wait_for_log("acme", status="issued", timeout=90)[0]
    assert issued["serial"] != "0ABC"
    cert = verified_starttls(srv, pebble.root())
    assert cert["notAfter"] and "2020" not in cert["notAfter"]


def test_ca_down_port25_serves_without_starttls_and_alerts(acme_env, tmp_path):
    make, _ = acme_env
    srv = make({"acme_directory": "https://127.0.0.1:%d/dir" % free_port()})
    r = srv.cli("check-config")
    assert r.returncode == 0, r.stdout + r.stderr
    # port 25 opened at once, without STARTTLS; submission waits
    assert "STARTTLS" not in ehlo_keywords(srv)
    assert not connects(port_of(srv, "listen_submission"))
    assert not connects(port_of(srv, "listen_submissions"))
    failed = srv.wait_for_log("acme", status="failed", timeout=30)[0]
    assert "directory" in failed["reason"], failed
    assert int(failed["retry_in"].rstrip("s")) > 0
    alert = srv.wait_for_log("alert", kind="certificate", timeout=10)[0]
    assert alert["name"] == HOSTNAME
    assert srv.alive()


def test_ca_refusal_is_logged_with_its_problem_detail(acme_env):
    make, _ = acme_env
    # a name the CA cannot resolve: Pebble's validation fails and says why
    srv = make({"hostname": "unknown-host.example.test"})
    failed = srv.wait_for_log("acme", status="failed", timeout=90)[0]
    assert "urn:ietf:params:acme:error:" in failed["reason"], failed
    assert "unknown-host.example.test" in failed["reason"], failed
    srv.wait_for_log("alert", kind="certificate", timeout=10)
    assert "STARTTLS" not in ehlo_keywords(srv)
