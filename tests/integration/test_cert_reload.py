"""Certificates renewed elsewhere (certbot) are picked up by SIGHUP (SPEC 9).

postern starts as root with `user = nobody`; the certificate and key live
in a root-only folder, the key mode 0600 as certbot leaves them. After
privileges are dropped the server cannot open the key any more: the key
reader process (lib/keyreader.c) reads it for the reload. A reload whose
new certificate is broken keeps the old certificate, applies the rest of
the configuration and raises the `config` alert.

Needs root (to start as root and drop to `nobody`); skipped otherwise.
"""

import os
import pwd
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

import pytest

from conftest import HOSTNAME, Server, wait_until

RUN_AS = "nobody"


def make_pair(folder, serial):
    """A self-signed certificate with the given serial and its key, both
    root's, the key 0600 (certbot's defaults)."""
    cert, key = folder / "fullchain.pem", folder / "privkey.pem"
    tmp_cert, tmp_key = folder / "new-cert.pem", folder / "new-key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj",
         "/CN=" + HOSTNAME, "-days", "2", "-set_serial", str(serial),
         "-keyout", str(tmp_key), "-out", str(tmp_cert)],
        check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)
    os.chmod(tmp_key, 0o600)
    os.rename(tmp_cert, cert)
    os.rename(tmp_key, key)
    return cert, key


def served_serial(srv):
    """The serial number (int) of the certificate offered after STARTTLS."""
    c = srv.client()
    c.ehlo()
    c.starttls()
    der = c.sock.getpeercert(binary_form=True)
    c.quit()
    out = subprocess.run(["openssl", "x509", "-inform", "DER", "-noout", "-serial"],
                         input=der, capture_output=True, check=True, timeout=30).stdout
    return int(out.decode().strip().split("=", 1)[1], 16)


def ehlo_size(srv):
    c = srv.client()
    r = c.ehlo()
    c.quit()
    for line in r.texts[1:]:
        if line.upper().startswith("SIZE"):
            return int(line.split()[1])
    return None


@pytest.fixture
def certbot_server():
    if os.geteuid() != 0:
        pytest.skip("needs root: the server starts as root and drops to %s" % RUN_AS)
    try:
        pwd.getpwnam(RUN_AS)
    except KeyError:
        pytest.skip("no system user %s" % RUN_AS)
    # Not under pytest's tmp_path (mode 0700 parents): the server, once
    # nobody, must still read its configuration, as in production.
    top = Path(tempfile.mkdtemp(prefix="postern-certreload-"))
    os.chmod(top, 0o711)
    live = top / "live"
    live.mkdir(mode=0o700)	# like /etc/letsencrypt/live: root only
    cert, key = make_pair(live, 0x1111)
    srv = Server(top / "postern", users=(),
                 config={"user": RUN_AS, "tls_cert": str(cert), "tls_key": str(key)})
    os.chmod(srv.dir, 0o755)
    try:
        srv.start()
        yield srv, live
    finally:
        try:
            srv.teardown()
        finally:
            shutil.rmtree(top, ignore_errors=True)


def test_sighup_reads_root_only_renewed_key(certbot_server):
    srv, live = certbot_server
    assert srv.events("privileges", user=RUN_AS), "privileges were not dropped"
    assert served_serial(srv) == 0x1111
    # the server itself can no longer read the key
    assert srv.proc.pid and pwd.getpwuid(
        os.stat("/proc/%d" % srv.proc.pid).st_uid).pw_name == RUN_AS

    make_pair(live, 0x2222)
    srv.reload()
    assert served_serial(srv) == 0x2222
    assert not srv.events("alert", kind="config"), srv.events("alert")
    assert srv.events("certificate", serial="2222")


def test_broken_certificate_keeps_old_one_and_applies_the_rest(certbot_server):
    srv, live = certbot_server
    assert served_serial(srv) == 0x1111
    before = ehlo_size(srv)
    assert before is not None

    # a renewal gone wrong: the certificate file is not PEM any more, and
    # an unrelated setting changes in the same reload
    (live / "fullchain.pem").write_text("not a certificate\n")
    srv.write_config(max_message_size="10M")
    srv.reload()
    alerts = srv.wait_for_log("alert", kind="config")
    assert "certificate" in alerts[-1].get("reason", ""), alerts
    # the old certificate still serves, the new size applies
    assert served_serial(srv) == 0x1111
    assert ehlo_size(srv) == 10 * 1024 * 1024 != before

    # the next good renewal is taken
    make_pair(live, 0x3333)
    srv.reload()
    assert served_serial(srv) == 0x3333


def test_reload_with_bad_configuration_raises_config_alert(certbot_server):
    srv, _ = certbot_server
    with open(srv.conf, "a") as f:
        f.write("no_such_key = 1\n")
    srv.signal(signal.SIGHUP)
    srv.wait_for_log("alert", kind="config")
    # still serving with the running configuration and certificate
    assert served_serial(srv) == 0x1111
    assert srv.alive()
