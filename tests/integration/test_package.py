"""Packaging (SPEC 9, first item): what `make install` lays out is what the
Debian package ships (debian/rules installs with it), so the cheap checks
run here on a `make install DESTDIR=...`: every file and its mode, the
prefix followed by the unit and scripts, an existing configuration kept,
the unconfigured template refused by check-config and serve until hostname
and domains are set, the systemd units verified by systemd-analyze, the
fail2ban filter against auth_failed lines of a running postern (with a
user name crafted to name another address), the jail and the logrotate
snippet parsed by fail2ban and logrotate, and the package's build
dependencies and version against the Makefile and the binary.

Building and installing the .deb (`make deb`, `apt-get install ./postern_*.deb`)
takes minutes and root on a throwaway system: it is not part of make test.
"""

import base64
import filecmp
import os
import re
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from conftest import PASSWORD, POSTERN_BIN, REPO, SMTPClient, Server, free_port

# path under DESTDIR (PREFIX=/usr) -> mode
FILES = {
    "usr/sbin/postern": 0o755,
    "usr/share/man/man8/postern.8": 0o644,
    "usr/share/man/man5/postern.conf.5": 0o644,
    "usr/share/postern/postern.conf": 0o644,
    "usr/share/postern/dovecot/dovecot.conf": 0o644,
    "usr/share/postern/dovecot/postern-learn": 0o755,
    "etc/postern/postern.conf": 0o644,
    "etc/postern/firewall.nft": 0o644,
    "lib/systemd/system/postern.service": 0o644,
    "lib/systemd/system/postern-firewall.service": 0o644,
    "etc/logrotate.d/postern": 0o644,
    "etc/fail2ban/filter.d/postern.conf": 0o644,
    "etc/fail2ban/jail.d/postern.conf": 0o644,
}
DIRS = {"var/lib/postern": 0o750, "var/log/postern": 0o755}


def make_install(destdir, prefix="/usr"):
    """`make install` of the binary under test (make -o: never rebuilt)."""
    build = os.path.relpath(os.path.dirname(POSTERN_BIN), str(REPO))
    r = subprocess.run(["make", "-s", "--no-print-directory", "-o", build + "/postern",
                        "BUILD=" + build, "PREFIX=" + prefix, "DESTDIR=" + str(destdir),
                        "install"],
                       cwd=str(REPO), capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    return r


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    d = tmp_path_factory.mktemp("destdir")
    make_install(d)
    return d


def unit_value(text, key):
    vals = [l.split("=", 1)[1].strip() for l in text.splitlines() if l.startswith(key + "=")]
    return vals


def test_install_lays_out_every_file(root):
    for rel, mode in FILES.items():
        p = root / rel
        assert p.is_file(), "make install did not install /%s" % rel
        assert stat.S_IMODE(p.stat().st_mode) == mode, "/%s: mode %o" % (rel, p.stat().st_mode)
    for rel, mode in DIRS.items():
        p = root / rel
        assert p.is_dir(), "make install did not make /%s" % rel
        assert stat.S_IMODE(p.stat().st_mode) == mode, "/%s: mode %o" % (rel, p.stat().st_mode)
    assert filecmp.cmp(str(root / "usr/sbin/postern"), POSTERN_BIN, shallow=False)
    # the configuration starts as the pristine template quickstart may replace
    assert (root / "etc/postern/postern.conf").read_bytes() == \
        (root / "usr/share/postern/postern.conf").read_bytes()
    learn = (root / "usr/share/postern/dovecot/postern-learn").read_text()
    assert "/usr/sbin/postern learn" in learn, learn


def test_unit_runs_the_installed_server_hardened(root):
    unit = (root / "lib/systemd/system/postern.service").read_text()
    assert unit_value(unit, "ExecStart") == ["/usr/sbin/postern serve -c /etc/postern/postern.conf"]
    assert unit_value(unit, "ExecReload") == ["/bin/kill -HUP $MAINPID"]
    assert "network-online.target" in " ".join(unit_value(unit, "After"))
    assert unit_value(unit, "ProtectSystem") == ["strict"]
    assert unit_value(unit, "NoNewPrivileges") == ["yes"]
    rw = " ".join(unit_value(unit, "ReadWritePaths")).split()
    assert "/var/lib/postern" in rw and "/var/log/postern" in rw, rw
    caps = " ".join(unit_value(unit, "CapabilityBoundingSet")).split()
    assert "CAP_NET_BIND_SERVICE" in caps and "CAP_SYS_ADMIN" not in caps, caps
    assert unit_value(unit, "WantedBy") == ["multi-user.target"]
    # the template's data_dir and log are where the unit may write
    conf = (root / "etc/postern/postern.conf").read_text()
    assert re.search(r"^data_dir = /var/lib/postern$", conf, re.M)
    assert re.search(r"^log_file = /var/log/postern/postern.log$", conf, re.M)
    assert re.search(r"^user = postern$", conf, re.M)


def test_units_pass_systemd_analyze_verify(root, tmp_path):
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed")
    # verify checks that ExecStart exists: point it at the DESTDIR binary
    for name in ("postern.service", "postern-firewall.service"):
        text = (root / "lib/systemd/system" / name).read_text()
        (tmp_path / name).write_text(
            text.replace("/usr/sbin/postern", str(root / "usr/sbin/postern")))
    r = subprocess.run(["systemd-analyze", "verify", "--man=no",
                        str(tmp_path / "postern.service"),
                        str(tmp_path / "postern-firewall.service")],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stderr.strip() == "", r.stdout + r.stderr


def test_other_prefix_and_existing_configuration_kept(tmp_path):
    make_install(tmp_path, prefix="/usr/local")
    assert (tmp_path / "usr/local/sbin/postern").is_file()
    unit = (tmp_path / "usr/local/lib/systemd/system/postern.service").read_text()
    assert unit_value(unit, "ExecStart") == [
        "/usr/local/sbin/postern serve -c /etc/postern/postern.conf"]
    learn = (tmp_path / "usr/local/share/postern/dovecot/postern-learn").read_text()
    assert "/usr/local/sbin/postern learn" in learn, learn
    conf = tmp_path / "etc/postern/postern.conf"
    conf.write_text("hostname = mx.mine.example\ndomains = mine.example\n")
    r = make_install(tmp_path, prefix="/usr/local")
    assert conf.read_text() == "hostname = mx.mine.example\ndomains = mine.example\n"
    assert "keeping the existing" in r.stderr, r.stderr


def test_template_refused_until_configured(root, tmp_path):
    conf = tmp_path / "postern.conf"
    shutil.copy(str(root / "etc/postern/postern.conf"), str(conf))
    r = subprocess.run([POSTERN_BIN, "check-config", "-c", str(conf)],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 1 and '"domains" is required' in r.stderr, r.stdout + r.stderr
    # serve stops before binding or writing anything
    r = subprocess.run([POSTERN_BIN, "serve", "-c", str(conf)], cwd=str(tmp_path),
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 1 and '"domains" is required' in r.stderr, r.stdout + r.stderr
    # the two REQUIRED lines are all it takes
    text = conf.read_text()
    for key in ("hostname", "domains"):
        text, n = re.subn(r"^#(%s = )" % key, r"\1", text, flags=re.M)
        assert n == 1, key
    conf.write_text(text)
    r = subprocess.run([POSTERN_BIN, "check-config", "-c", str(conf)],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stdout + r.stderr


def test_firewall_rules_parse(root):
    if shutil.which("nft") is None:
        pytest.skip("nft is not installed")
    text = (root / "etc/postern/firewall.nft").read_text()
    assert 'meta skuid "postern" accept' in text
    # nft resolves the user name: check with one that exists here
    r = subprocess.run(["nft", "-c", "-f", "-"], input=text.replace('"postern"', '"root"'),
                       capture_output=True, text=True, timeout=30)
    if r.returncode != 0 and ("Operation not permitted" in r.stderr or "netlink" in r.stderr):
        pytest.skip("nft -c needs privileges here: " + r.stderr.strip())
    assert r.returncode == 0, r.stderr


def auth_fail(srv, source, user):
    c = SMTPClient(srv.subs_port, source=source)
    c.wrap_tls()
    c.banner = c.reply()
    c.ehlo()
    raw = base64.b64encode(("\0%s\0%s" % (user, PASSWORD + "x")).encode()).decode()
    r = c.cmd("AUTH PLAIN " + raw)
    assert r.code == 535, r
    c.quit()


def test_fail2ban_filter_matches_real_auth_failures(root, tmp_path):
    if shutil.which("fail2ban-regex") is None:
        pytest.skip("fail2ban is not installed (scripts/deps installs it)")
    port = free_port()
    srv = Server(tmp_path / "srv", tls=True, config={
        "listen_submissions": "127.0.0.1:%d" % port,
        "auth_max_failures": "100/1m"})
    srv.subs_port = port
    srv.start()
    try:
        auth_fail(srv, "127.0.2.11", "bob@example.test")
        auth_fail(srv, "127.0.2.11", "nobody@example.test")
        # a user name that names another address must not get it banned
        auth_fail(srv, "127.0.2.12", "x client=127.0.9.9 mech=PLAIN")
        srv.wait_for_log("auth_failed", count=3)
    finally:
        srv.teardown()
    log = srv.log_path
    r = subprocess.run(["fail2ban-regex", "-o", "ip", str(log),
                        str(root / "etc/fail2ban/filter.d/postern.conf")],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    ips = r.stdout.split()
    assert sorted(ips) == ["127.0.2.11", "127.0.2.11", "127.0.2.12"], r.stdout + r.stderr

    # the jail loads with the filter (Debian's own sshd jail left out: it
    # needs /var/log/auth.log)
    if not os.path.isdir("/etc/fail2ban"):
        return
    conf = tmp_path / "fail2ban"
    shutil.copytree("/etc/fail2ban", str(conf))
    for p in (conf / "jail.d").iterdir():
        p.unlink()
    shutil.copy(str(root / "etc/fail2ban/filter.d/postern.conf"), str(conf / "filter.d"))
    jail = (root / "etc/fail2ban/jail.d/postern.conf").read_text()
    assert "logpath  = /var/log/postern/postern.log" in jail
    (conf / "jail.d/postern.conf").write_text(
        jail.replace("/var/log/postern/postern.log", str(log)))
    r = subprocess.run(["fail2ban-client", "-c", str(conf), "-d"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "['add', 'postern', 'auto']" in r.stdout, r.stdout + r.stderr
    assert "event=auth_failed" in r.stdout


def test_logrotate_snippet_parses(root, tmp_path):
    if shutil.which("logrotate") is None:
        pytest.skip("logrotate is not installed (scripts/deps installs it)")
    text = (root / "etc/logrotate.d/postern").read_text()
    assert re.search(r"^\s*create 0640 postern adm$", text, re.M)
    assert "--signal=USR1" in text and "pkill -USR1" in text
    # the same snippet on a log of our own (and root when there is no
    # postern user on this machine)
    logdir = tmp_path / "log"
    logdir.mkdir()
    (logdir / "postern.log").write_text("ts=2025-01-31T12:00:00.000Z event=start\n")
    text = text.replace("/var/log/postern/postern.log", str(logdir / "postern.log"))
    try:
        import pwd
        pwd.getpwnam("postern")
    except KeyError:
        text = text.replace("create 0640 postern adm", "create 0640 root adm")
    conf = tmp_path / "logrotate.conf"
    conf.write_text(text)
    r = subprocess.run(["logrotate", "-d", "-s", str(tmp_path / "state"), str(conf)],
                       capture_output=True, text=True, timeout=60)
    out = r.stdout + r.stderr
    assert r.returncode == 0 and "error" not in out.lower(), out
    assert "considering log %s" % (logdir / "postern.log") in out, out


def test_package_build_dependencies_and_version():
    """debian/control lists the -dev package of every library the Makefile
    links, and the package's version is the binary's."""
    control = (REPO / "debian/control").read_text()
    bdeps = re.search(r"^Build-Depends:(.*?)^\S", control, re.M | re.S).group(1)
    bdeps = {re.sub(r"\s*\(.*\)", "", d).strip() for d in bdeps.split(",")}
    makefile = (REPO / "Makefile").read_text()
    mods = re.search(r"^PKGS\s*:=(.*)$", makefile, re.M).group(1).split()
    libs = re.findall(r"-l(\w+)", re.search(r"^ALL_LDLIBS\s*:=(.*)$", makefile, re.M).group(1))
    files = []
    for m in mods:
        d = subprocess.run(["pkg-config", "--variable=pcfiledir", m],
                           capture_output=True, text=True).stdout.strip()
        assert d, "pkg-config does not know %s" % m
        files.append("%s/%s.pc" % (d, m))
    for l in libs:
        if l in ("m", "pthread"):
            continue		# libc6-dev, in build-essential
        files.append(subprocess.run(["cc", "-print-file-name=lib%s.so" % l],
                                    capture_output=True, text=True).stdout.strip())
    for f in files:
        r = subprocess.run(["dpkg", "-S", os.path.normpath(f)], capture_output=True, text=True)
        if r.returncode != 0:
            r = subprocess.run(["dpkg", "-S", f], capture_output=True, text=True)
        assert r.returncode == 0, "no package owns %s" % f
        pkg = r.stdout.split(":")[0]
        assert pkg in bdeps, "%s (%s) is not in debian/control's Build-Depends" % (pkg, f)

    changelog = (REPO / "debian/changelog").read_text().splitlines()[0]
    version = re.match(r"postern \(([^)]+)\)", changelog).group(1)
    out = subprocess.run([POSTERN_BIN, "--version"], capture_output=True, text=True).stdout
    assert out.strip() == "postern " + version, (out, changelog)


def test_mailq_link_lists_the_queue(tmp_path):
    """The package's mailq alternative is a link to postern: called so, it
    runs `queue list` (and sendmail's link, the wrapper)."""
    srv = Server(tmp_path / "srv")
    link = tmp_path / "mailq"
    link.symlink_to(POSTERN_BIN)
    want = srv.cli("queue", "list")
    r = subprocess.run([str(link), "-c", str(srv.conf)], capture_output=True, text=True,
                       timeout=30)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout == want.stdout and "ID" in r.stdout, (r.stdout, want.stdout)
