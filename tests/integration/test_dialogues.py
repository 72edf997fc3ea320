"""SMTP dialogues written as transcripts (tests/integration/dialogues/*.txt,
format in dialogues/README): each file is one test against a fresh
`postern serve`. A newcomer adds a case by adding a file."""

import base64
import re
import shlex
from pathlib import Path

import pytest

from conftest import PASSWORD, DOMAIN, SMTPClient, free_port, wait_until

DIR = Path(__file__).parent / "dialogues"
FILES = sorted(DIR.glob("*.txt"))
REPLY_RE = re.compile(r"^(\d{3})(?:\s+(\d\.\d{1,3}\.\d{1,3}))?(?:\s+(.*))?$")


REPEAT_RE = re.compile(r"\{(\d{1,6})\*(.)\}")


def unescape(text):
    """Escapes of a ">>" line; {N*C} is C repeated N times (N < 10^6)."""
    text = REPEAT_RE.sub(lambda m: m.group(2) * int(m.group(1)), text)
    out, i = bytearray(), 0
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text):
            n = text[i + 1]
            if n in "rnt\\":
                out += {"r": b"\r", "n": b"\n", "t": b"\t", "\\": b"\\"}[n]
                i += 2
                continue
            if n == "x" and i + 3 < len(text) + 1:
                out.append(int(text[i + 2:i + 4], 16))
                i += 4
                continue
        out += c.encode()
        i += 1
    return bytes(out)


def parse(path):
    """-> (config dict, users, steps [(lineno, kind, arg)])"""
    config, users, steps = {}, [], []
    for no, raw in enumerate(path.read_text().splitlines(), 1):
        line = raw.rstrip("\r")
        if not line.strip() or line.startswith("#"):
            continue
        if line.startswith(">> "):
            steps.append((no, "raw", line[3:]))
        elif line.startswith("> "):
            steps.append((no, "send", line[2:]))
        elif line.startswith("<* "):
            steps.append((no, "until", line[3:].strip()))
        elif line.startswith("< "):
            steps.append((no, "expect", line[2:].strip()))
        elif line.startswith("@config "):
            key, _, value = line[8:].partition("=")
            config[key.strip()] = value.strip()
        elif line.startswith("@user "):
            users.append(line[6:].strip())
        elif line.startswith("@"):
            word, _, rest = line[1:].partition(" ")
            steps.append((no, word, rest.strip()))
        else:
            raise AssertionError("%s:%d: cannot read %r" % (path.name, no, line))
    return config, users, steps


def check_reply(where, r, want):
    if want == "closed":
        raise AssertionError("%s: expected the connection closed, got %r" % (where, r))
    m = REPLY_RE.match(want)
    assert m, "%s: bad expectation %r" % (where, want)
    code, enh, text = m.groups()
    assert r.code == int(code), "%s: expected %s, got %r" % (where, want, r)
    if enh:
        assert r.enhanced == enh, "%s: expected %s, got %r" % (where, want, r)
    if text:
        assert text.lower() in r.texts[-1].lower(), "%s: expected %r in %r" % (where, text, r)


def log_match(srv, spec):
    words = shlex.split(spec)
    event, match = words[0], dict(w.split("=", 1) for w in words[1:])
    return srv.events(event, **match)


@pytest.mark.parametrize("path", FILES, ids=[f.stem for f in FILES])
def test_dialogue(make_server, path):
    config, users, steps = parse(path)
    ports = {}
    for key, value in list(config.items()):
        if value == "auto":
            ports[key] = free_port()
            config[key] = "127.0.0.1:%d" % ports[key]
    srv = make_server(tls=True, users=("bob", "carol") + tuple(users), config=config)
    role_port = {"smtp": srv.port,
                 "submission": ports.get("listen_submission"),
                 "submissions": ports.get("listen_submissions")}
    c = None
    for no, kind, arg in steps:
        where = "%s:%d" % (path.name, no)
        if kind == "connect":
            words = arg.split()
            role = words[0] if words and words[0] in role_port else "smtp"
            source = words[words.index("from") + 1] if "from" in words else None
            assert role_port[role], "%s: no %s listener (@config listen_%s = auto)" % (
                where, role, role)
            if c is not None:
                c.close()
            c = SMTPClient(role_port[role], source=source)
            if role == "submissions":
                c.wrap_tls()
            r = c.reply()
            assert r.code == 220, "%s: banner %r" % (where, r)
        elif kind == "starttls":
            c.starttls()
        elif kind == "auth":
            user = arg if "@" in arg else "%s@%s" % (arg, DOMAIN)
            c.send("AUTH PLAIN %s\r\n" % base64.b64encode(
                ("\0%s\0%s" % (user, PASSWORD)).encode()).decode())
        elif kind == "send":
            c.send(arg + "\r\n")
        elif kind == "raw":
            c.send(unescape(arg))
        elif kind == "expect":
            if arg == "closed":
                assert c.read_eof() == b"", "%s: data before the close" % where
            else:
                check_reply(where, c.reply(), arg)
        elif kind == "until":
            for _ in range(50):
                r = c.reply()
                if r.code == int(arg.split()[0]):
                    break
            else:
                raise AssertionError("%s: no %s reply in 50" % (where, arg))
        elif kind == "log":
            wait_until(lambda: log_match(srv, arg), 5, what="%s: log %s" % (where, arg))
        elif kind == "nolog":
            assert not log_match(srv, arg), "%s: log has %s" % (where, arg)
        elif kind == "mail":
            local, count = arg.split()
            count = int(count)
            if count:
                srv.wait_for_mail(local, count=count, timeout=5)
            srv.settle(timeout=5)
            assert len(srv.mail_files(local)) == count, "%s: %s has %d messages" % (
                where, local, len(srv.mail_files(local)))
        else:
            raise AssertionError("%s: unknown directive @%s" % (where, kind))
    if c is not None:
        c.close()
