"""`postern sendmail` (SPEC 6.5): settings from POSTERN_SENDMAIL_CONF,
authenticated submission over verified TLS, X-Postern-Origin, -t/-i/-f,
Bcc removed, sysexits codes, and the link named `sendmail`."""

import os
import subprocess

import pytest

from conftest import PASSWORD, POSTERN_BIN, Server


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    d = tmp_path_factory.mktemp("sendmail")
    # sendmail verifies the certificate: an IP in `server` is matched
    # against the IP SANs (SPEC 6.5)
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                    "-subj", "/CN=mx.example.test", "-days", "2",
                    "-addext", "subjectAltName=DNS:mx.example.test,IP:127.0.0.1",
                    "-keyout", str(d / "key.pem"), "-out", str(d / "cert.pem")],
                   check=True, capture_output=True, timeout=60)
    s = Server(d, tls=True, config={"listen_submission": "127.0.0.1:%d" % _port()})
    s.start()
    yield s
    s.teardown()


def _port():
    import socket
    with socket.socket() as so:
        so.bind(("127.0.0.1", 0))
        return so.getsockname()[1]


def submission_port(server):
    return int(server.config_dict()["listen_submission"].rsplit(":", 1)[1])


def run_sendmail(server, tmp_path, args, message, conf=None, env_extra=None, argv0=None):
    conf_path = tmp_path / "sendmail.conf"
    conf_path.write_text(conf if conf is not None else
                         "server = 127.0.0.1:%d\nuser = bob@example.test\npassword = %s\n"
                         % (submission_port(server), PASSWORD))
    env = dict(os.environ, POSTERN_SENDMAIL_CONF=str(conf_path),
               SSL_CERT_FILE=str(server.dir / "cert.pem"))
    env.update(env_extra or {})
    cmd = [argv0 or POSTERN_BIN] + ([] if argv0 else ["sendmail"]) + args
    return subprocess.run(cmd, input=message, capture_output=True, env=env, timeout=60,
                          cwd=str(tmp_path))


def test_submits_with_origin_header(server, tmp_path):
    r = run_sendmail(server, tmp_path, ["-i", "bob@example.test"],
                     b"Subject: from a script\n\nsendmail-token-1\n.not the end\n",
                     env_extra={"SCRIPT_FILENAME": "/var/www/contact.php"})
    assert r.returncode == 0, r.stderr
    files = server.wait_for_mail("bob", token="sendmail-token-1")
    text = files[0].read_text()
    assert "X-Postern-Origin: uid=%d " % os.getuid() in text
    assert "script=/var/www/contact.php" in text and "cwd=%s" % tmp_path in text
    assert "(authenticated as bob@example.test)" in text and "with ESMTPSA" in text
    assert "\n.not the end" in text  # -i: a dot line is data
    e = [e for e in server.events("accepted") if e.get("user") == "bob@example.test"]
    assert e


def test_dash_t_reads_recipients_and_drops_bcc(server, tmp_path):
    r = run_sendmail(server, tmp_path, ["-t", "-f", "bob@example.test"],
                     b"To: Bob <bob@example.test>\nBcc: postmaster@example.test\n"
                     b"Subject: t\n\nsendmail-token-2\n")
    assert r.returncode == 0, r.stderr
    for box in ("bob", "postmaster"):
        files = server.wait_for_mail(box, token="sendmail-token-2")
        assert "Bcc:" not in files[0].read_text()


def test_dot_line_ends_input_without_i(server, tmp_path):
    r = run_sendmail(server, tmp_path, ["bob@example.test"],
                     b"Subject: dot\n\nsendmail-token-3\n.\nnot sent\n")
    assert r.returncode == 0, r.stderr
    text = server.wait_for_mail("bob", token="sendmail-token-3")[0].read_text()
    assert "not sent" not in text


def test_link_named_sendmail(server, tmp_path):
    link = tmp_path / "sendmail"
    link.symlink_to(POSTERN_BIN)
    r = run_sendmail(server, tmp_path, ["-oi", "bob@example.test"],
                     b"Subject: link\n\nsendmail-token-4\n", argv0=str(link))
    assert r.returncode == 0, r.stderr
    server.wait_for_mail("bob", token="sendmail-token-4")


def test_wrong_password_is_ex_noperm(server, tmp_path):
    conf = "server = 127.0.0.1:%d\nuser = bob@example.test\npassword = wrong-password-123\n" \
        % submission_port(server)
    r = run_sendmail(server, tmp_path, ["bob@example.test"], b"Subject: x\n\nx\n", conf=conf)
    assert r.returncode == 77, (r.returncode, r.stderr)
    assert b"authentication" in r.stderr


def test_untrusted_certificate_is_ex_tempfail(server, tmp_path):
    env = {"SSL_CERT_FILE": "/nonexistent"}
    r = run_sendmail(server, tmp_path, ["bob@example.test"], b"Subject: x\n\nx\n", env_extra=env)
    assert r.returncode == 75, (r.returncode, r.stderr)
    assert b"certificate" in r.stderr


def test_unreachable_server_is_ex_tempfail(server, tmp_path):
    conf = "server = 127.0.0.1:%d\nuser = bob@example.test\npassword = x\n" % _port()
    r = run_sendmail(server, tmp_path, ["bob@example.test"], b"Subject: x\n\nx\n", conf=conf)
    assert r.returncode == 75, (r.returncode, r.stderr)


def test_bad_settings_are_ex_config(server, tmp_path):
    r = run_sendmail(server, tmp_path, ["bob@example.test"], b"x\n", conf="bogus = 1\n")
    assert r.returncode == 78 and b"unknown key" in r.stderr, r.stderr
    r = run_sendmail(server, tmp_path, ["bob@example.test"], b"x\n",
                     conf="server = 192.0.2.1:25\nuser = a@b\npassword = x\ntls = no\n")
    assert r.returncode == 78, r.stderr


def test_no_recipient_is_ex_usage(server, tmp_path):
    r = run_sendmail(server, tmp_path, [], b"Subject: x\n\nx\n")
    assert r.returncode == 64, r.stderr


def test_sender_not_owned_is_refused(server, tmp_path):
    r = run_sendmail(server, tmp_path, ["-f", "mallory@example.test", "bob@example.test"],
                     b"Subject: x\n\nx\n")
    assert r.returncode == 77, (r.returncode, r.stderr)
