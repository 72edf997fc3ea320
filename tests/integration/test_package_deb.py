"""The Debian package itself (SPEC 9, issue 13 item 1): `make deb` run in a
copy of the committed tree (`git archive HEAD` into a temporary directory,
so nothing is written next to the checkout), then the .deb inspected:
every file SPEC 9 lists, the conffiles, the maintainer scripts' user and
sendmail/mailq alternatives, lintian without errors.

Installing it needs a throwaway root. This is the CI machine itself (CI
runs as root, CI=true), not a debootstrap chroot: a chroot fetches and
unpacks a Debian base and the package's libraries from a mirror on every
run (minutes, past this file's two), and no systemd runs in a chroot, so
it could only start the server the way this test does. A developer's
`make test` (without CI=true, or not root) skips that part and never
installs a package on their host. On CI: `apt-get install
./postern_*.deb`, the postern user, /var/lib/postern, `systemd-analyze
verify` of the installed unit, the installed `/usr/sbin/postern serve`
started by hand (systemd is not PID 1 in the container CI runs in, so
`systemctl start` cannot run it) on a configuration
written by the installed `postern quickstart` in a temporary directory,
one message over SMTP delivered, then `apt-get purge` and nothing of the
package left but what README.Debian says purge keeps (the postern user,
which the test then removes when it did not exist before). A failure on
the way purges the package all the same; a run killed before it leaves
MARKER, and the next run purges first.

It runs in its turn inside the integration suite (tests/run_all.py runs
unit, fuzz and integration one after the other, pytest one file after
the other), about 1.5 minutes: the package's compile in the background,
beside the timing-sensitive tests on two cores, would slow them.
"""

import fcntl
import grp
import os
import pwd
import re
import shutil
import signal
import stat
import subprocess
import tarfile
import tempfile
import time
from pathlib import Path

import pytest

from conftest import REPO, SMTPClient, fake_dns, free_port, simple_message, token, wait_until
from test_package import FILES as INSTALL_FILES

BUILD_TIMEOUT = 600		# SPEC 9: make deb within 10 minutes
APT_TIMEOUT = 300
# A package left installed by a run that was killed before its purge: the
# next run purges it. A postern installed any other way is not ours to
# remove: the install test is skipped.
MARKER = Path("/var/tmp/postern-test-package-deb.installed")
LOCK = "/run/lock/postern-test-package-deb.lock"

# SPEC 9 and README.Debian: path in the package -> mode
SHIPPED = {
    "usr/sbin/postern": 0o755,
    "etc/postern/postern.conf": 0o644,
    "lib/systemd/system/postern.service": 0o644,
    "etc/logrotate.d/postern": 0o644,
    "etc/fail2ban/filter.d/postern.conf": 0o644,
    "etc/fail2ban/jail.d/postern.conf": 0o644,
    "usr/share/man/man8/postern.8.gz": 0o644,
    "usr/share/man/man5/postern.conf.5.gz": 0o644,
    "usr/share/doc/postern/README.Debian.gz": 0o644,
    "usr/share/doc/postern/copyright": 0o644,
}
CONFFILES = {"/etc/postern/postern.conf", "/etc/postern/firewall.nft",
             "/etc/logrotate.d/postern", "/etc/fail2ban/filter.d/postern.conf",
             "/etc/fail2ban/jail.d/postern.conf"}
ADDRESS = "alice@example.test"


def say(request, text):
    """One line on the terminal as the suite runs (the timings)."""
    tr = request.config.pluginmanager.get_plugin("terminalreporter")
    capman = request.config.pluginmanager.get_plugin("capturemanager")
    if tr is None or capman is None:
        return
    with capman.global_and_fixture_disabled():
        if getattr(tr._tw, "width_of_current_line", 0):
            tr.write("\n")		# after the progress dots of -q
        tr.write_line("[package] " + text)


def run(argv, timeout, **kw):
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL, **kw)


def copy_tree(dest):
    """The committed tree (HEAD) into dest; without git, the working tree
    without build directories."""
    if (REPO / ".git").exists() and shutil.which("git"):
        with tempfile.TemporaryFile() as tar:
            r = subprocess.run(["git", "-C", str(REPO), "archive", "--format=tar", "HEAD"],
                               stdout=tar, stderr=subprocess.PIPE, timeout=120)
            if r.returncode == 0:
                tar.seek(0)
                with tarfile.open(fileobj=tar) as t:
                    t.extractall(str(dest))
                return "HEAD " + run(["git", "-C", str(REPO), "rev-parse", "--short",
                                      "HEAD"], 30).stdout.strip()

    def ignore(d, names):
        top = Path(d) == REPO
        return [n for n in names if n in (".git", "__pycache__", ".pytest_cache")
                or (top and (n.startswith("build") or n == "run"))]
    shutil.copytree(str(REPO), str(dest), ignore=ignore, symlinks=True)
    return "working tree"


@pytest.fixture(scope="module")
def deb(request, tmp_path_factory):
    """make deb in a copy of the tree; returns the path of postern_*.deb."""
    work = tmp_path_factory.mktemp("deb")
    src = work / "postern"
    src.mkdir()
    what = copy_tree(src)
    # make deb sets DEB_BUILD_OPTIONS=nocheck (the suite is this one)
    env = {k: v for k, v in os.environ.items() if k != "DEB_BUILD_OPTIONS"}
    env["LC_ALL"] = "C.UTF-8"
    t0 = time.monotonic()
    try:
        r = run(["make", "--no-print-directory", "deb"], BUILD_TIMEOUT, cwd=str(src), env=env)
    except subprocess.TimeoutExpired:
        pytest.fail("make deb took more than %d s" % BUILD_TIMEOUT)
    took = time.monotonic() - t0
    assert r.returncode == 0, "make deb failed:\n" + (r.stdout + r.stderr)[-8000:]
    debs = sorted(work.glob("postern_*.deb"))
    assert len(debs) == 1, "make deb wrote %s in %s" % ([p.name for p in work.iterdir()], work)
    # dpkg-buildpackage writes next to the tree it builds, never elsewhere
    assert not list(src.glob("*.deb"))
    say(request, "make deb of %s: %s in %.0f s" % (what, debs[0].name, took))
    return debs[0]


def deb_contents(path):
    """dpkg-deb -c -> {path without leading "./": (type char, mode, owner)}"""
    r = run(["dpkg-deb", "-c", str(path)], 60)
    assert r.returncode == 0, r.stderr
    out = {}
    for line in r.stdout.splitlines():
        f = line.split()
        perms, owner, name = f[0], f[1], f[5]
        mode = 0
        for i, c in enumerate(perms[1:10]):
            if c != "-":
                mode |= 1 << (8 - i)
        out[name[2:].rstrip("/")] = (perms[0], mode, owner)
    return out


def deb_control(path, dest):
    r = run(["dpkg-deb", "-e", str(path), str(dest)], 60)
    assert r.returncode == 0, r.stderr
    return dest


def test_deb_ships_every_file(deb, tmp_path):
    files = deb_contents(deb)
    for rel, mode in SHIPPED.items():
        assert rel in files, "the package lacks /%s: %s" % (rel, sorted(files))
        kind, m, owner = files[rel]
        assert kind == "-" and m == mode and owner == "root/root", (rel, files[rel])
    # what `make install` lays out (tests/integration/test_package.py) is
    # what the package ships, man pages compressed
    for rel in INSTALL_FILES:
        name = rel + ".gz" if "/man/" in rel else rel
        assert name in files, "make install installs /%s, the package does not" % rel
    assert "var/lib/postern" in files and files["var/lib/postern"][0] == "d"
    # nothing of the build or of a developer's tree
    assert not [p for p in files if p.startswith(("usr/local", "build", "tmp", "root"))], files

    ctl = deb_control(deb, tmp_path / "DEBIAN")
    conffiles = set((ctl / "conffiles").read_text().split())
    assert conffiles == CONFFILES, conffiles
    control = (ctl / "control").read_text()
    assert re.search(r"^Package: postern$", control, re.M)
    depends = re.search(r"^Depends: (.*)$", control, re.M).group(1)
    assert "adduser" in depends and "libevent" in depends, depends
    # SPEC 9: the version is the binary's
    version = re.search(r"^Version: (.*)$", control, re.M).group(1)
    root = tmp_path / "root"
    r = run(["dpkg-deb", "-x", str(deb), str(root)], 60)
    assert r.returncode == 0, r.stderr
    r = run([str(root / "usr/sbin/postern"), "--version"], 30)
    assert r.stdout.strip() == "postern " + version, (r.stdout, r.stderr, version)

    # maintainer scripts: the user, the data directory, the alternatives
    postinst = (ctl / "postinst").read_text()
    assert re.search(r"adduser --system --group .*postern", postinst.replace("\\\n", " "))
    assert "chmod 0750 /var/lib/postern" in postinst
    assert re.search(r"update-alternatives --install /usr/sbin/sendmail sendmail "
                     r"/usr/sbin/postern \d+\s*\\?\s*--slave /usr/bin/mailq mailq "
                     r"/usr/sbin/postern", postinst), postinst
    prerm = (ctl / "prerm").read_text()
    assert "update-alternatives --remove sendmail /usr/sbin/postern" in prerm, prerm
    for script in ("postinst", "prerm", "postrm"):
        r = run(["sh", "-n", str(ctl / script)], 30)
        assert r.returncode == 0, (script, r.stderr)


def test_lintian_finds_no_errors(deb, request):
    if shutil.which("lintian") is None:
        pytest.skip("lintian is not installed (scripts/deps installs it)")
    t0 = time.monotonic()
    r = run(["lintian", "--fail-on", "error", "--tag-display-limit", "0", str(deb)], 300)
    took = time.monotonic() - t0
    tags = [l for l in r.stdout.splitlines() if re.match(r"^[EWIPXO]: ", l)]
    say(request, "lintian in %.0f s: %d error(s), %d warning(s)" % (
        took, sum(t.startswith("E:") for t in tags), sum(t.startswith("W:") for t in tags)))
    assert r.returncode == 0 and not [t for t in tags if t.startswith("E:")], \
        r.stdout + r.stderr


# ---- install, start, purge: a throwaway root only -------------------------

def apt(*args):
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    return run(["apt-get", "-y", "-o", "DPkg::Lock::Timeout=120"] + list(args),
               APT_TIMEOUT, env=env)


def dpkg_status():
    """postern's dpkg status ("not-installed" when dpkg does not know it)."""
    r = run(["dpkg-query", "-W", "-f=${db:Status-Status}", "postern"], 30)
    return r.stdout.strip() if r.returncode == 0 and r.stdout.strip() else "not-installed"


def purge():
    r = apt("purge", "postern")
    assert r.returncode == 0, "apt-get purge postern:\n" + r.stdout + r.stderr
    return r


def path_state(p):
    """What is at p: None, ("link", target), ("dir",) or ("file", size)."""
    try:
        st = os.lstat(p)
    except FileNotFoundError:
        return None
    if stat.S_ISLNK(st.st_mode):
        return ("link", os.readlink(p))
    if stat.S_ISDIR(st.st_mode):
        return ("dir",)
    return ("file", st.st_size)


# what the maintainer scripts and debhelper make besides the package's files
SCRIPT_PATHS = [
    "/var/log/postern/postern.log", "/usr/sbin/sendmail", "/usr/bin/mailq",
    "/etc/alternatives/sendmail", "/etc/alternatives/mailq",
    "/var/lib/dpkg/alternatives/sendmail",
    "/etc/systemd/system/multi-user.target.wants/postern.service",
    "/var/lib/systemd/deb-systemd-helper-enabled/postern.service.dsh-also",
    "/var/lib/systemd/deb-systemd-helper-enabled/postern-firewall.service.dsh-also",
    "/var/lib/systemd/deb-systemd-helper-masked/postern.service",
    "/var/lib/systemd/deb-systemd-helper-masked/postern-firewall.service",
]


def user_exists():
    try:
        pwd.getpwnam("postern")
        return True
    except KeyError:
        return False


def alt_free(path, name):
    """postinst's test: path absent or the alternatives link of name."""
    s = path_state(path)
    return s is None or s == ("link", "/etc/alternatives/" + name)


def serve_installed(workdir):
    """quickstart, then serve, of the installed binary in workdir; one
    message over SMTP to the quickstart account, delivered."""
    conf, data = workdir / "postern.conf", workdir / "var"
    r = run(["/usr/sbin/postern", "quickstart", ADDRESS, "--hostname", "mx.example.test",
             "-c", str(conf), "--data-dir", str(data)], 120)
    assert r.returncode == 0, "quickstart:\n" + r.stdout + r.stderr
    assert re.search(r"^password: \S+$", r.stdout, re.M), r.stdout
    # loopback only: no ACME (it would go to Let's Encrypt and bind port
    # 80), SMTP on a port of ours, no submission (no certificate), every
    # lookup to the tests' DNS
    text = conf.read_text()
    text, n = re.subn(r"^acme_email = ", "#acme_email = ", text, flags=re.M)
    assert n == 1, text
    assert not re.search(r"^(listen_\w+|dns_servers|log_file)\s*=", text, re.M), text
    port = free_port()
    text += ("\n# test_package_deb.py\nlisten_smtp = 127.0.0.1:%d\nlisten_submission = off\n"
             "listen_submissions = off\ndns_servers = 127.0.0.1:%d\n" % (port, fake_dns().port))
    conf.write_text(text)
    r = run(["/usr/sbin/postern", "check-config", "-c", str(conf)], 60)
    assert r.returncode == 0, "check-config:\n" + r.stdout + r.stderr

    log = data / "postern.log"
    errpath = workdir / "serve.stderr"
    with open(errpath, "wb") as err:
        proc = subprocess.Popen(["/usr/sbin/postern", "serve", "-c", str(conf)],
                                stdin=subprocess.DEVNULL, stdout=err, stderr=err,
                                cwd=str(workdir), start_new_session=True)
    try:
        def ready():
            if proc.poll() is not None:
                raise AssertionError("postern serve exited %s:\n%s" % (
                    proc.returncode, errpath.read_text(errors="replace")[-4000:]))
            return log.exists() and "event=ready" in log.read_text(errors="replace")
        wait_until(ready, 30, what="event=ready of the installed postern serve")
        # it dropped root for the package's user (data_dir handed over)
        st = os.stat(str(data))
        assert pwd.getpwuid(st.st_uid).pw_name == "postern", st
        status = Path("/proc/%d/status" % proc.pid).read_text()
        uid = re.search(r"^Uid:\s+(\d+)", status, re.M).group(1)
        assert int(uid) == pwd.getpwnam("postern").pw_uid, status

        mark = token()
        c = SMTPClient(port, timeout=30)
        c.banner = c.reply()
        assert c.banner.code == 220, c.banner
        c.ehlo()
        body = simple_message(mark).replace(b"bob@example.test", ADDRESS.encode())
        r = c.send_mail("carol@sender.test", ADDRESS, body)
        assert r.code == 250, r
        c.quit()
        new = data / "mail" / "example.test" / "alice" / "new"

        def delivered():
            try:
                return [p for p in new.iterdir() if mark.encode() in p.read_bytes()]
            except FileNotFoundError:
                return None
        wait_until(delivered, 30, what="delivery to %s's INBOX" % ADDRESS)

        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0, errpath.read_text(errors="replace")[-4000:]
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)


def test_installs_starts_and_purges(request):
    if os.geteuid() != 0 or os.environ.get("CI") != "true":
        pytest.skip("installs the package on this host: only as root with CI=true "
                    "(a throwaway CI machine); the build and its contents are checked above")
    if shutil.which("apt-get") is None:
        pytest.skip("no apt-get here")
    if dpkg_status() != "not-installed" and not MARKER.exists():
        pytest.skip("postern is installed on this host (%s) and not by this test: "
                    "it is not ours to purge" % dpkg_status())
    deb = request.getfixturevalue("deb")
    lockf = open(LOCK, "w")
    try:
        # one run at a time on a machine (two would install over each other)
        deadline = time.monotonic() + 600
        while True:
            try:
                fcntl.flock(lockf, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                assert time.monotonic() < deadline, "another run holds " + LOCK
                time.sleep(1)
        install_purge(deb, request)
    finally:
        lockf.close()


def install_purge(deb, request):
    if dpkg_status() != "not-installed":
        purge()			# left by a run that was killed (MARKER)
    MARKER.unlink(missing_ok=True)

    paths = ["/" + p for p in deb_contents(deb)] + SCRIPT_PATHS
    before = {p: path_state(p) for p in paths}
    sendmail_free = alt_free("/usr/sbin/sendmail", "sendmail") and alt_free("/usr/bin/mailq", "mailq")
    # after the purge, what was there stays as it was when another package
    # owns it (/etc, Postfix's sendmail) or another MTA holds sendmail;
    # the rest (leftovers of an earlier run) may go
    there = [p for p in paths if before[p] is not None]
    r = run(["dpkg-query", "-S"] + there, 60)
    keep = {l.split(": ", 1)[1] for l in r.stdout.splitlines() if ": " in l} & set(there)
    if not sendmail_free:
        keep |= {p for p in there if "sendmail" in p or "mailq" in p}
    had_user = user_exists()
    t0 = time.monotonic()
    MARKER.write_text(str(deb) + "\n")
    try:
        r = apt("install", str(deb))
        assert r.returncode == 0, "apt-get install %s:\n%s%s" % (deb, r.stdout, r.stderr)
        assert dpkg_status() == "installed", dpkg_status()
        t_install = time.monotonic() - t0

        # the system user and its data directory
        pw = pwd.getpwnam("postern")
        assert pw.pw_uid < 1000 and pw.pw_dir == "/var/lib/postern", pw
        assert grp.getgrgid(pw.pw_gid).gr_name == "postern"
        st = os.stat("/var/lib/postern")
        assert stat.S_ISDIR(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o750, oct(st.st_mode)
        assert st.st_uid == pw.pw_uid and st.st_gid == pw.pw_gid, st
        st = os.stat("/var/log/postern/postern.log")
        assert st.st_uid == pw.pw_uid and stat.S_IMODE(st.st_mode) == 0o640, st
        r = run(["dpkg-query", "-W", "-f=${Conffiles}", "postern"], 30)
        assert " /etc/postern/postern.conf " in r.stdout, r.stdout
        # the template is not a configuration yet: nothing started
        r = run(["/usr/sbin/postern", "check-config", "-c", "/etc/postern/postern.conf"], 60)
        assert r.returncode == 1 and '"domains" is required' in r.stderr, r.stdout + r.stderr

        # sendmail and mailq: postern's where free, another MTA's kept
        if sendmail_free:
            r = run(["update-alternatives", "--query", "sendmail"], 30)
            assert "Value: /usr/sbin/postern" in r.stdout, r.stdout + r.stderr
            for p in ("/usr/sbin/sendmail", "/usr/bin/mailq"):
                assert os.path.realpath(p) == "/usr/sbin/postern", p
        else:
            for p in ("/usr/sbin/sendmail", "/usr/bin/mailq"):
                assert path_state(p) == before[p], (p, before[p], path_state(p))

        if shutil.which("systemd-analyze"):
            r = run(["systemd-analyze", "verify", "--man=no",
                     "/lib/systemd/system/postern.service",
                     "/lib/systemd/system/postern-firewall.service"], 120)
            assert r.returncode == 0 and not r.stderr.strip(), r.stdout + r.stderr

        t1 = time.monotonic()
        # /tmp's private directories (pytest's are 0700) would keep the
        # postern user out of its data_dir
        work = Path(tempfile.mkdtemp(prefix="postern-deb-"))
        try:
            os.chmod(str(work), 0o755)
            serve_installed(work)
        finally:
            shutil.rmtree(str(work), ignore_errors=True)
        t_serve = time.monotonic() - t1
    finally:
        # whatever failed above, the package goes (an error here does not
        # hide the one above: it is reported below)
        t2 = time.monotonic()
        try:
            r = apt("purge", "postern")
            purged = r.returncode == 0, r.stdout + r.stderr
        except subprocess.TimeoutExpired:
            purged = False, "no result after %d s" % APT_TIMEOUT
        t_purge = time.monotonic() - t2
        if purged[0]:
            MARKER.unlink(missing_ok=True)
        # README.Debian: purge keeps the user; the tests that run after
        # this one find the machine as it was
        user_kept = user_exists()
        if purged[0] and not had_user and user_kept:
            run(["deluser", "--system", "--quiet", "postern"], 60)
            run(["delgroup", "--system", "--quiet", "--only-if-empty", "postern"], 60)

    assert purged[0], "apt-get purge postern:\n" + purged[1]
    assert dpkg_status() == "not-installed", dpkg_status()
    after = {p: path_state(p) for p in paths}
    left = {p: (before[p], after[p]) for p in paths
            if after[p] != before[p] and (after[p] is not None or p in keep)}
    assert not left, "purge left (before, after): %s" % left
    assert user_kept, "purge removed the postern user (README.Debian says it stays)"
    say(request, "apt-get install %.0f s, quickstart+serve+SMTP %.0f s, purge %.0f s" % (
        t_install, t_serve, t_purge))
