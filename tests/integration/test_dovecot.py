"""Dovecot serves postern's Maildirs with postern's accounts (SPEC 6.2, 6.7).

A real `postern serve` delivers one clean message (INBOX) and one that
scores as junk (`.Junk`); then a real Dovecot 2.3 from Debian's
dovecot-imapd package, configured from contrib/dovecot/dovecot.conf with
only its paths, ports and uid/gid changed for the test, serves them over
IMAP on loopback: the account's postern password logs in (after STARTTLS,
as the shipped configuration requires), INBOX holds the clean message,
Junk the junk one, and a wrong password is refused.

Dovecot runs in the foreground (`dovecot -F -c CONF`) in its own process
group and is stopped by PID at teardown. postern runs with `user = nobody`
(Dovecot refuses to open mail as root), so data_dir belongs to nobody and
Dovecot's mail processes run as nobody too, as they would as `postern` in
production. The test is skipped only when Dovecot cannot run here at all:
not installed, not root (its master must start as root), or the system
users it needs are missing.
"""

import contextlib
import grp
import imaplib
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import pytest

from conftest import (token, DOMAIN, PASSWORD, POSTERN_BIN, REPO, SLOW, Server, free_port,
                      insecure_tls_context, make_cert, queue_id, wait_until)

CONTRIB_CONF = REPO / "contrib" / "dovecot" / "dovecot.conf"
CONTRIB_LMTP = REPO / "contrib" / "dovecot" / "lmtp.conf"
CONTRIB_LEARN = REPO / "contrib" / "dovecot" / "learn.conf"
ACCOUNT = "bob@" + DOMAIN
# The system user postern drops to in this test (stands for `postern`).
MAIL_USER = "nobody"


def find_dovecot():
    for cand in (shutil.which("dovecot"), "/usr/sbin/dovecot"):
        if cand and os.access(cand, os.X_OK):
            return cand
    return None


def dovecot_unavailable():
    """A reason to skip, or None when Dovecot can run here."""
    if find_dovecot() is None:
        return "dovecot is not installed (scripts/deps installs dovecot-imapd)"
    if os.geteuid() != 0:
        return "Dovecot's master process must start as root to drop to the mail uid"
    for user in ("dovecot", "dovenull", MAIL_USER):
        try:
            pwd.getpwnam(user)
        except KeyError:
            return "system user %r missing (dovecot-core creates dovecot and dovenull)" % user
    return None


def render_config(template, subs, extra, source=CONTRIB_CONF):
    """contrib/dovecot/dovecot.conf with each `old` replaced by `new`.

    Every `old` (a regular expression; `new` may use its groups) must occur
    exactly once (or the count given as a third item), so that an edit of
    the contrib file that this test no longer matches fails here instead of
    testing something else. `extra` lines are appended (top-level settings only).
    """
    text = template
    for sub in subs:
        old, new, want = sub if len(sub) == 3 else sub + (1,)
        n = len(re.findall(old, text, flags=re.M))
        assert n == want, "pattern %r occurs %d times in %s, expected %d" % (
            old, n, source, want)
        text = re.sub(old, lambda m, new=new: m.expand(new), text, flags=re.M)
    return text + "\n## --- test overrides ---\n" + "\n".join(extra) + "\n"


class RemoteIMAP4(imaplib.IMAP4):
    """IMAP4 from 127.0.0.3: a client address other than the server's."""

    def _create_socket(self, timeout):
        return socket.create_connection((self.host, self.port), timeout,
                                        source_address=("127.0.0.3", 0))


class Dovecot:
    """One `dovecot -F` master process with its own base_dir and log."""

    def __init__(self, directory, data_dir, cert, key, lmtp=False, learn_conf=None):
        self.dir = Path(directory)
        self.conf = self.dir / "dovecot.conf"
        self.base_dir = self.dir / "run"
        self.state_dir = self.dir / "state"
        self.log = self.dir / "dovecot.log"
        self.stderr = self.dir / "dovecot-stderr.log"
        self.port = free_port()
        self.proc = None
        st = os.stat(data_dir)
        self.uid, self.gid = st.st_uid, st.st_gid
        group = grp.getgrgid(self.gid).gr_name
        self.state_dir.mkdir(parents=True, exist_ok=True)
        subs = [
            (r"^listen = .*$", "listen = 127.0.0.1"),
            (r"^ssl_cert = </etc/postern/fullchain\.pem$", "ssl_cert = <%s" % cert),
            (r"^ssl_key = </etc/postern/privkey\.pem$", "ssl_key = <%s" % key),
            (r"^(\s*)port = 143$", r"\g<1>port = %d" % self.port),
            # No implicit-TLS listener in the test (one free port is enough).
            (r"^(\s*)port = 993$", r"\g<1>port = 0"),
            # postern's data_dir (passdb and userdb read the same users
            # file) and the user that owns it, MAIL_USER here.
            (r"/var/lib/postern/users", str(Path(data_dir) / "users"), 2),
            (r"/var/lib/postern/mail/%d/%n", str(Path(data_dir) / "mail") + "/%d/%n"),
            (r"^mail_uid = postern$", "mail_uid = %d" % self.uid),
            (r"^mail_gid = postern$", "mail_gid = %d" % self.gid),
            (r"^(\s*)extra_groups = postern$", r"\g<1>extra_groups = %s" % group),
        ]
        extra = [
            "base_dir = %s" % self.base_dir,
            "state_dir = %s" % self.state_dir,
            "log_path = %s" % self.log,
            "instance_name = postern-test-%d" % self.port,
            # No doubt left in the log when something fails.
            "auth_debug = yes",
            "mail_debug = yes",
        ]
        if "asan" in str(POSTERN_BIN):
            # postern-learn runs under imap's address-space limit (256M by
            # default), too small for an ASan binary's shadow memory
            extra.append("default_vsz_limit = 0")
        if lmtp:
            # contrib/dovecot/lmtp.conf where dovecot.conf's !include is
            user = pwd.getpwuid(self.uid).pw_name
            lsubs = [
                (r"/var/lib/postern/sieve/", str(Path(data_dir) / "sieve") + "/", 2),
                (r"^(\s*)user = postern$", r"\g<1>user = %s" % user),
                (r"^(\s*)group = postern$", r"\g<1>group = %s" % group),
                (r"postmaster@example\.org", "postmaster@" + DOMAIN),
            ]
            self.lmtp_socket = self.base_dir / "lmtp"
            lmtp_text = render_config(CONTRIB_LMTP.read_text(), lsubs, [], CONTRIB_LMTP)
            lmtp_text = lmtp_text.split("\n## --- test overrides ---")[0]
            subs.append((r"^#!include lmtp\.conf$", lmtp_text.replace("\\", "\\\\")))
        self.compile = []
        if learn_conf:
            # contrib/dovecot/learn.conf with its scripts installed under
            # the test directory, compiled as the install steps say
            sieve_dir, pipe_dir = self.dir / "sieve", self.dir / "sieve-pipe"
            sieve_dir.mkdir(parents=True, exist_ok=True)
            pipe_dir.mkdir(parents=True, exist_ok=True)
            for name in ("learn-spam.sieve", "learn-ham.sieve"):
                shutil.copy(REPO / "contrib" / "dovecot" / name, sieve_dir / name)
                self.compile.append(sieve_dir / name)
            script = (REPO / "contrib" / "dovecot" / "postern-learn").read_text()
            n = script.count("/usr/local/bin/postern") + script.count("/etc/postern/postern.conf")
            assert n == 2, script
            script = script.replace("/usr/local/bin/postern", str(POSTERN_BIN)).replace(
                "/etc/postern/postern.conf", str(learn_conf))
            (pipe_dir / "postern-learn").write_text(script)
            os.chmod(pipe_dir / "postern-learn", 0o755)
            for p in (self.dir, sieve_dir, pipe_dir):
                os.chmod(p, 0o755)
            learn_subs = [
                (r"^(\s*sieve_pipe_bin_dir = )/etc/dovecot/sieve-pipe$", r"\g<1>%s" % pipe_dir),
                (r"^(\s*imapsieve_mailbox\d_before = file:)/etc/dovecot/sieve/",
                 r"\g<1>%s/" % sieve_dir, 2),
            ]
            learn_text = render_config(CONTRIB_LEARN.read_text(), learn_subs, [], CONTRIB_LEARN)
            learn_text = learn_text.split("\n## --- test overrides ---")[0]
            subs.append((r"^#!include learn\.conf$", learn_text.replace("\\", "\\\\")))
        text = render_config(CONTRIB_CONF.read_text(), subs, extra)
        # Nothing of the production paths is left outside comments.
        settings = [l for l in text.splitlines() if not l.lstrip().startswith("#")]
        left = [l for l in settings if "/var/lib/postern" in l or "/etc/postern" in l]
        assert not left, "untemplated production paths: %r" % left
        self.conf.write_text(text)
        # compiled with the configuration that enables their extensions
        for script in self.compile:
            r = subprocess.run(["sievec", "-c", str(self.conf), str(script)],
                               capture_output=True, text=True, timeout=30)
            assert r.returncode == 0, r.stderr

    def log_text(self):
        out = []
        for f in (self.log, self.stderr):
            try:
                out.append("== %s ==\n%s" % (f.name, f.read_text(errors="replace")[-6000:]))
            except OSError:
                pass
        return "\n".join(out)

    def check_config(self):
        r = subprocess.run(["doveconf", "-n", "-c", str(self.conf)], capture_output=True,
                           text=True, timeout=30)
        assert r.returncode == 0, "doveconf rejects the configuration:\n%s%s" % (r.stdout,
                                                                                 r.stderr)

    def start(self, timeout=20):
        errf = open(self.stderr, "wb")
        try:
            self.proc = subprocess.Popen([find_dovecot(), "-F", "-c", str(self.conf)],
                                         stdin=subprocess.DEVNULL, stdout=errf, stderr=errf,
                                         start_new_session=True)
        finally:
            errf.close()

        def listening():
            if self.proc.poll() is not None:
                raise AssertionError("dovecot exited %s at start:\n%s"
                                     % (self.proc.returncode, self.log_text()))
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                    s.settimeout(5 * SLOW)
                    return s.recv(200).startswith(b"* OK")
            except OSError:
                return False
        wait_until(listening, timeout, interval=0.1, what="dovecot on port %d" % self.port)

    def stop(self, timeout=15):
        """SIGTERM to the master, SIGKILL to its group after timeout;
        returns the exit status (None when SIGKILL was needed)."""
        if self.proc is None:
            return None
        if self.proc.poll() is not None:
            return self.proc.returncode
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout * SLOW)
        except subprocess.TimeoutExpired:
            # Our own process group (start_new_session): the master and
            # whatever children it left.
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait(10)
            return None

    def run_checks(self, fn, *args):
        """Starts Dovecot, runs fn(*args) with Dovecot's log attached to
        any failure, and stops it: it must exit cleanly, no error logged."""
        try:
            self.start()
            try:
                fn(*args)
            except AssertionError as e:
                raise AssertionError("%s\n%s" % (e, self.log_text())) from None
            except (imaplib.IMAP4.error, OSError, pytest.fail.Exception) as e:
                raise AssertionError("IMAP error %r\n%s" % (e, self.log_text())) from None
        finally:
            rc = self.stop()
        assert rc == 0, "dovecot exited %r at SIGTERM\n%s" % (rc, self.log_text())
        bad = [l for l in self.log.read_text(errors="replace").splitlines()
               if re.search(r"\b(Error|Fatal|Panic):", l)]
        assert not bad, "errors in Dovecot's log:\n%s" % "\n".join(bad)

    @contextlib.contextmanager
    def mailbox(self, user=ACCOUNT, password=PASSWORD):
        """An IMAP session logged in (after STARTTLS), logged out and
        closed at the end."""
        imap = self.imap()
        try:
            typ, _ = imap.login(user, password)
            assert typ == "OK"
            yield imap
            imap.logout()
        finally:
            try:
                imap.shutdown()
            except OSError:
                pass

    def imap(self):
        c = imaplib.IMAP4("127.0.0.1", self.port, timeout=30 * SLOW)
        c.starttls(ssl_context=insecure_tls_context())
        return c



def clean_message(t):
    return ("From: Alice <alice@sender.test>\r\n"
            "To: <bob@example.test>\r\n"
            "Subject: clean %s\r\n"
            "Date: Sat, 28 Nov 2026 00:00:00 +0000\r\n"
            "Message-ID: <%s@sender.test>\r\n"
            "\r\n"
            "hello %s\r\n" % (t, t, t)).encode()


def junk_message(t):
    # No Date (MISSING_DATE 1.0) and no Message-ID (MISSING_MESSAGE_ID 0.5):
    # 1.5 >= score_junk 0.4 -> .Junk, far below score_reject.
    return ("From: Alice <alice@sender.test>\r\n"
            "To: <bob@example.test>\r\n"
            "Subject: junk %s\r\n"
            "\r\n"
            "hello %s\r\n" % (t, t)).encode()


def deliver(srv, body):
    c = srv.client()
    c.ehlo("client.test")
    final = c.send_mail("alice@sender.test", [ACCOUNT], body)
    c.quit()
    assert final.code == 250, final
    return final


def select_count(imap, mailbox):
    typ, data = imap.select(mailbox)
    assert typ == "OK", (mailbox, typ, data)
    return int(data[0])


def find_subject(imap, text):
    """UIDs of the selected mailbox's messages whose Subject contains text."""
    typ, data = imap.uid("SEARCH", None, "SUBJECT", '"%s"' % text)
    assert typ == "OK", (typ, data)
    return data[0].split()


def fetch(imap, uid):
    typ, data = imap.uid("FETCH", uid, "(BODY.PEEK[])")
    assert typ == "OK", (typ, data)
    return data[0][1]


@pytest.fixture
def dovecot_env():
    reason = dovecot_unavailable()
    if reason:
        pytest.skip(reason)
    # Not under pytest's tmp_path: its parents are mode 0700, and Dovecot's
    # auth process (user "dovecot", postern's group as an extra group) must
    # traverse to <data_dir>/users exactly as in production.
    top = Path(tempfile.mkdtemp(prefix="postern-dovecot-"))
    os.chmod(top, 0o711)
    # Dovecot never runs mail processes as root ("Mail access not allowed
    # for root"), so postern drops to an unprivileged user here as in
    # production (`user =`): data_dir then belongs to that user, and
    # Dovecot's mail_uid/mail_gid are the same.
    srv = Server(top / "postern", config={"score_junk": "0.4", "user": MAIL_USER},
                 users=("bob",))
    try:
        srv.start()
        yield srv, top
    finally:
        try:
            srv.teardown()
        finally:
            shutil.rmtree(top, ignore_errors=True)


def test_dovecot_reads_postern_maildirs(dovecot_env):
    srv, top = dovecot_env
    t_clean, t_junk, t_late = token(), token(), token()

    # postern delivers: one clean message to INBOX, one junk one to .Junk.
    deliver(srv, clean_message(t_clean))
    deliver(srv, junk_message(t_junk))
    srv.wait_for_mail("bob", token=t_clean)
    srv.wait_for_mail("bob", token=t_junk, folder=".Junk")
    assert not [f for f in srv.mail_files("bob") if t_junk.encode() in f.read_bytes()], \
        "the junk message is in INBOX too"

    cert, key = make_cert(top)
    dove = Dovecot(top / "dovecot", srv.data_dir, cert, key)
    dove.check_config()
    dove.run_checks(_check_imap, srv, dove, t_clean, t_junk, t_late)


def _check_imap(srv, dove, t_clean, t_junk, t_late):
    # No login before TLS (ssl = required), as the contrib file promises.
    # Dovecot counts a client whose address is the server's own as secured,
    # so this one connects from another loopback address.
    plain = RemoteIMAP4("127.0.0.1", dove.port, timeout=30 * SLOW)
    try:
        assert "LOGINDISABLED" in plain.capabilities, plain.capabilities
        assert "STARTTLS" in plain.capabilities, plain.capabilities
        with pytest.raises(imaplib.IMAP4.error):
            plain.login(ACCOUNT, PASSWORD)
    finally:
        plain.shutdown()

    # The password postern hashed ({ARGON2ID}) opens the mailbox; the
    # login is case-insensitive like postern's.
    with dove.mailbox(ACCOUNT.upper()) as imap:
        # Junk is listed, with its special-use flag.
        typ, boxes = imap.list()
        assert typ == "OK", boxes
        junk_lines = [b for b in boxes if b and b.rstrip().endswith(b"Junk")]
        assert junk_lines, boxes
        assert b"\\Junk" in junk_lines[0], junk_lines

        # INBOX: the clean message, intact, with postern's headers.
        assert select_count(imap, "INBOX") == 1
        uids = find_subject(imap, "clean " + t_clean)
        assert len(uids) == 1, uids
        raw = fetch(imap, uids[0])
        assert b"Message-ID: <%s@sender.test>" % t_clean.encode() in raw
        assert b"hello " + t_clean.encode() in raw
        assert re.search(rb"^X-Spam-Status: No\b", raw, re.M), raw[:800]
        assert not find_subject(imap, t_junk)

        # Junk: the junk message, with its verdict.
        assert select_count(imap, "Junk") == 1
        uids = find_subject(imap, "junk " + t_junk)
        assert len(uids) == 1, uids
        raw = fetch(imap, uids[0])
        assert b"hello " + t_junk.encode() in raw
        assert re.search(rb"^X-Spam-Status: Yes\b", raw, re.M), raw[:800]

        # postern keeps delivering into a Maildir that Dovecot has indexed,
        # and Dovecot sees the new message.
        deliver(srv, clean_message(t_late))
        srv.wait_for_mail("bob", token=t_late)
        assert select_count(imap, "INBOX") == 2
        assert len(find_subject(imap, "clean " + t_late)) == 1

    # A wrong password and an unknown account are refused (last: Dovecot
    # delays further logins from an address after failures).
    bad = dove.imap()
    try:
        with pytest.raises(imaplib.IMAP4.error):
            bad.login(ACCOUNT, PASSWORD + "x")
        with pytest.raises(imaplib.IMAP4.error):
            bad.login("nobody@" + DOMAIN, PASSWORD)
    finally:
        bad.shutdown()
    assert "Password mismatch" in dove.log.read_text(errors="replace")

    # Dovecot ran as postern's uid: everything it created or moved in the
    # Maildir belongs to the data_dir's owner, as postern's own files do.
    home = srv.maildir("bob")
    wrong = [(str(p), p.lstat().st_uid, p.lstat().st_gid) for p in [home] + list(home.rglob("*"))
             if (p.lstat().st_uid, p.lstat().st_gid) != (dove.uid, dove.gid)]
    assert not wrong, "files not owned by %d:%d: %r" % (dove.uid, dove.gid, wrong)
    # Dovecot indexed the mailbox in place (proof that it used this Maildir).
    assert any(p.name.startswith("dovecot") for p in home.iterdir()), list(home.iterdir())


SIEVE_SCRIPT = """require ["fileinto", "mailbox"];
# the user's own rule: list mail into a folder of its own
if header :contains "List-Id" "lists.sender.test" {
  fileinto :create "Lists";
  stop;
}
"""


def list_message(t):
    return ("From: List <list@sender.test>\r\n"
            "To: <bob@example.test>\r\n"
            "List-Id: <news.lists.sender.test>\r\n"
            "Subject: list %s\r\n"
            "Date: Sat, 28 Nov 2026 00:00:00 +0000\r\n"
            "Message-ID: <%s@sender.test>\r\n"
            "\r\n"
            "hello %s\r\n" % (t, t, t)).encode()


def test_dovecot_lmtp_delivery_with_sieve(dovecot_env):
    """local_delivery = lmtp: Dovecot's LMTP (contrib/dovecot/lmtp.conf)
    stores postern's INBOX/Junk decision and runs the user's Sieve script."""
    srv, top = dovecot_env
    cert, key = make_cert(top)
    dove = Dovecot(top / "dovecot", srv.data_dir, cert, key, lmtp=True)
    dove.check_config()
    # bob's Sieve script, where lmtp.conf looks for it, owned like the data
    sieve_dir = srv.data_dir / "sieve" / DOMAIN / "bob"
    sieve_dir.mkdir(parents=True)
    (sieve_dir / "active.sieve").write_text(SIEVE_SCRIPT)
    for p in (srv.data_dir / "sieve", sieve_dir.parent, sieve_dir, sieve_dir / "active.sieve"):
        os.chown(p, dove.uid, dove.gid)

    def check():
        srv.stop()
        srv.write_config(local_delivery="lmtp:unix:%s" % dove.lmtp_socket)
        srv.start()
        _check_lmtp(srv, dove)
    dove.run_checks(check)


def _check_lmtp(srv, dove):
    t_clean, t_junk, t_list = token(), token(), token()
    for body in (clean_message(t_clean), junk_message(t_junk), list_message(t_list)):
        qid = queue_id(deliver(srv, body))
        ev = srv.wait_for_log("delivered", id=qid, timeout=20)[0]
        # delivered by Dovecot, which answered for this recipient
        assert ev["relay"] == "local" and ev["lmtp"] == "unix:%s" % dove.lmtp_socket, ev
        assert ev["reply"].startswith("250 2.0.0"), ev
    assert "lmtp(bob@example.test)" in dove.log.read_text(errors="replace")

    with dove.mailbox() as imap:
        assert select_count(imap, "INBOX") == 1
        raw = fetch(imap, find_subject(imap, "clean " + t_clean)[0])
        assert re.search(rb"^X-Spam-Status: No\b", raw, re.M), raw[:800]
        # Dovecot adds the envelope headers a delivery agent adds
        assert raw.startswith(b"Return-Path: <alice@sender.test>"), raw[:300]
        assert re.search(rb"^Delivered-To: bob@example\.test", raw, re.M), raw[:600]

        assert select_count(imap, "Junk") == 1
        raw = fetch(imap, find_subject(imap, "junk " + t_junk)[0])
        assert re.search(rb"^X-Spam-Status: Yes\b", raw, re.M), raw[:800]

        # the user's Sieve rule ran
        assert select_count(imap, "Lists") == 1
        assert len(find_subject(imap, "list " + t_list)) == 1
    # and the files are where SPEC 6.7 says, owned by postern's user
    home = srv.maildir("bob")
    assert len(list((home / "new").iterdir())) + len(list((home / "cur").iterdir())) == 1
    assert list((home / ".Junk").rglob("*")), "no .Junk Maildir"
    wrong = [str(p) for p in [home] + list(home.rglob("*")) if p.lstat().st_uid != dove.uid]
    assert not wrong, wrong


def learned_lines(srv):
    try:
        return (srv.data_dir / "learned").read_text().splitlines()
    except FileNotFoundError:
        return []


def test_dovecot_junk_moves_teach_postern(dovecot_env):
    """contrib/dovecot/learn.conf: moving a message into Junk runs
    `postern learn spam` (IMAPSieve), the sender's next message goes to
    Junk on its own; moving one out of Junk runs `postern learn ham`;
    deleting from Junk (to Trash) teaches nothing."""
    srv, top = dovecot_env
    cert, key = make_cert(top)
    dove = Dovecot(top / "dovecot", srv.data_dir, cert, key, learn_conf=srv.conf)
    dove.check_config()
    t1 = token()
    deliver(srv, clean_message(t1))
    srv.wait_for_mail("bob", token=t1)
    dove.run_checks(_check_learning, srv, dove, t1)


def _move(imap, folder, subject, dest):
    select_count(imap, folder)
    uids = find_subject(imap, subject)
    assert len(uids) == 1, (folder, subject, uids)
    typ, data = imap.uid("MOVE", uids[0], dest)
    assert typ == "OK", (typ, data)


def _check_learning(srv, dove, t1):
    with dove.mailbox() as imap:
        # bob moves alice's message into Junk: spam
        _move(imap, "INBOX", "clean " + t1, "Junk")
        wait_until(lambda: any(re.match(r"^bob@example\.test alice@sender\.test spam \d+$", l)
                               for l in learned_lines(srv)),
                   15 * SLOW, what="postern learn spam run by IMAPSieve")
        # alice's next message, clean as the first: Junk by itself
        t2 = token()
        qid = queue_id(deliver(srv, clean_message(t2)))
        ev = srv.wait_for_log("accepted", id=qid)[0]
        assert ev["verdict"] == "junk" and "LEARNED_SPAM" in ev["symbols"], ev
        srv.wait_for_mail("bob", token=t2, folder=".Junk")
        # bob moves it back out of Junk: ham, replacing the spam opinion
        _move(imap, "Junk", "clean " + t2, "INBOX")
        wait_until(lambda: [l.split()[2] for l in learned_lines(srv)] == ["ham"],
                   15 * SLOW, what="postern learn ham run by IMAPSieve")
        # deleting junk (Junk -> Trash) teaches nothing
        _move(imap, "Junk", "clean " + t1, "Trash")
        time.sleep(1.0)
        assert [l.split()[2] for l in learned_lines(srv)] == ["ham"], learned_lines(srv)
    # written as postern's user, like everything under data_dir
    st = (srv.data_dir / "learned").stat()
    assert (st.st_uid, st.st_gid) == (dove.uid, dove.gid)
