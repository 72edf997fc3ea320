"""`postern scan --json` over the shared email corpus (SPEC section 5).

The corpus (/work/shared/corpus, i.e. REPO/../shared/corpus) holds real
ham and spam from the SpamAssassin public corpus. Without blocklists
(`dnsbl = no`) the scan still parses every message: this checks that it
exits 0, prints one well-formed JSON object per message, and that URL
extraction finds URL or domain items in nearly every spam message whose
raw text visibly holds a URL ("http://", "https://" or "www."). A second
test runs the sanitizer build (build-asan/postern, from `make asan`) over
the whole corpus and looks for sanitizer reports.

Standard library and pytest only.
"""

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
POSTERN_BIN = os.environ.get("POSTERN_BIN") or str(REPO / "build" / "postern")
if not os.path.isabs(POSTERN_BIN):
    POSTERN_BIN = str(REPO / POSTERN_BIN)
ASAN_BIN = REPO / "build-asan" / "postern"
CORPUS = (REPO.parent / "shared" / "corpus").resolve()
SLOW = float(os.environ.get("POSTERN_TEST_SLOWDOWN", "1"))

# Share of URL-bearing spam in which items must be found.
MIN_EXTRACTION = 0.90
VISIBLE_URL = re.compile(rb"https?://|www\.", re.IGNORECASE)
SANITIZER_MARKERS = (
    "ERROR: AddressSanitizer",
    "ERROR: LeakSanitizer",
    "runtime error:",
    "SUMMARY: UndefinedBehaviorSanitizer",
)


def corpus_files(label):
    """The message files of corpus/label as `postern scan DIR` lists them
    (regular files not starting with a dot, in byte order)."""
    d = CORPUS / label
    return sorted(str(p) for p in d.iterdir()
                  if p.is_file() and not p.name.startswith("."))


def need_corpus():
    for label in ("ham", "spam"):
        if not (CORPUS / label).is_dir():
            pytest.skip("no email corpus at %s (expected ham/ and spam/ there)"
                        % CORPUS)


def write_conf(tmp_path):
    conf = tmp_path / "scan.conf"
    conf.write_text("domains = example.test\ndnsbl = no\n")
    return conf


def run_scan(binary, conf, dirs, timeout):
    env = dict(os.environ)
    # Sanitizer builds: report, and exit non-zero, on the first error.
    env.setdefault("ASAN_OPTIONS", "abort_on_error=0:halt_on_error=1")
    env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
    return subprocess.run([binary, "scan", "-c", str(conf), "--json"] + dirs,
                          capture_output=True, timeout=timeout * SLOW,
                          cwd=str(conf.parent), env=env)


@pytest.fixture(scope="module")
def corpus_scan(tmp_path_factory):
    """One scan of ham and spam with the binary under test: (results by
    file, the CompletedProcess)."""
    need_corpus()
    if not os.access(POSTERN_BIN, os.X_OK):
        pytest.skip("no postern binary at %s (run make)" % POSTERN_BIN)
    conf = write_conf(tmp_path_factory.mktemp("scan-corpus"))
    r = run_scan(POSTERN_BIN, conf, [str(CORPUS / "ham"), str(CORPUS / "spam")], 45)
    results = {}
    lines = r.stdout.decode("utf-8").splitlines()
    for n, line in enumerate(lines):
        obj = json.loads(line)
        assert isinstance(obj, dict), "line %d is not a JSON object" % (n + 1)
        results.setdefault(obj.get("file"), []).append(obj)
    return results, r, len(lines)


def test_every_message_scanned(corpus_scan):
    results, r, nlines = corpus_scan
    stderr = r.stderr.decode("utf-8", "replace")
    assert r.returncode == 0, "exit %d: %s" % (r.returncode, stderr[-2000:])
    files = corpus_files("ham") + corpus_files("spam")
    assert nlines == len(files), "%d JSON lines for %d messages" % (nlines, len(files))
    missing = [f for f in files if len(results.get(f, [])) != 1]
    assert not missing, "%d messages without exactly one result, e.g. %s" % (
        len(missing), missing[:3])
    for f in files:
        obj = results[f][0]
        for key in ("score", "verdict", "hits", "items"):
            assert key in obj, "%s: no %r in %s" % (f, key, sorted(obj))
        assert isinstance(obj["score"], (int, float)), f
        assert obj["verdict"] in ("inbox", "junk", "reject"), (f, obj["verdict"])
        assert isinstance(obj["hits"], list), f
        total = 0.0
        for h in obj["hits"]:
            for key in ("symbol", "score", "detail"):
                assert key in h, "%s: hit without %r: %s" % (f, key, h)
            assert isinstance(h["symbol"], str) and h["symbol"], (f, h)
            assert isinstance(h["score"], (int, float)), (f, h)
            assert isinstance(h["detail"], str), (f, h)
            total += h["score"]
        # the printed score is the sum of the hits (both rounded to .1)
        assert abs(total - obj["score"]) < 0.05 * (len(obj["hits"]) + 1), (f, obj["hits"])
        symbols = [h["symbol"] for h in obj["hits"]]
        assert len(symbols) == len(set(symbols)), "%s: a symbol counted twice: %s" % (
            f, symbols)
        for it in obj["items"]:
            assert it.get("kind") in ("host", "ip", "email"), (f, it)
            assert it.get("host"), (f, it)


def test_spam_url_extraction(corpus_scan, capsys):
    results, r, _ = corpus_scan
    spam = corpus_files("spam")
    with_url = []
    for f in spam:
        with open(f, "rb") as fh:
            if VISIBLE_URL.search(fh.read()):
                with_url.append(f)
    found = [f for f in with_url
             if any(it.get("kind") in ("host", "ip")
                    for it in results.get(f, [{}])[0].get("items", []))]
    share = len(found) / len(with_url) if with_url else 1.0
    any_items = sum(1 for f in spam if results.get(f, [{}])[0].get("items"))
    ham = corpus_files("ham")
    ham_scores = [results[f][0]["score"] for f in ham if f in results]
    ham_junk = sum(1 for f in ham if f in results and results[f][0]["verdict"] != "inbox")
    with capsys.disabled():
        print("\n[scan corpus] spam messages: %d, with a visible URL: %d, "
              "URL/domain items found in %d of those (%.1f%%); "
              "spam with any item: %d; ham not in inbox: %d of %d (max score %.1f)"
              % (len(spam), len(with_url), len(found), 100 * share, any_items,
                 ham_junk, len(ham), max(ham_scores) if ham_scores else 0.0))
    assert with_url, "no spam with a visible URL: is the corpus right?"
    missed = sorted(set(with_url) - set(found))
    assert share >= MIN_EXTRACTION, (
        "URL/domain items in %.1f%% of URL-bearing spam (want >= %.0f%%); missed e.g. %s"
        % (100 * share, 100 * MIN_EXTRACTION, [os.path.basename(m) for m in missed[:10]]))


def test_nothing_junk_without_blocklists(corpus_scan):
    """SPEC 5.3: nothing listed (no lookups at all here), so no message can
    reach score_junk on structural checks alone."""
    results, r, _ = corpus_scan
    over = [(os.path.basename(f), objs[0]["score"])
            for f, objs in results.items() if objs[0]["score"] >= 5.0]
    assert not over, "scored >= 5.0 without any blocklist: %s" % over[:10]


def test_corpus_under_sanitizers(tmp_path):
    need_corpus()
    if not os.access(str(ASAN_BIN), os.X_OK):
        pytest.skip("no sanitizer build at %s (run make asan)" % ASAN_BIN)
    conf = write_conf(tmp_path)
    r = run_scan(str(ASAN_BIN), conf, [str(CORPUS / "ham"), str(CORPUS / "spam")], 50)
    stderr = r.stderr.decode("utf-8", "replace")
    reports = [m for m in SANITIZER_MARKERS if m in stderr]
    assert not reports, "sanitizer report(s) %s:\n%s" % (reports, stderr[:6000])
    assert r.returncode == 0, "exit %d: %s" % (r.returncode, stderr[-3000:])
    nlines = len(r.stdout.splitlines())
    nfiles = len(corpus_files("ham")) + len(corpus_files("spam"))
    assert nlines == nfiles, "%d JSON lines for %d messages" % (nlines, nfiles)


def test_scan_of_a_large_folder_keeps_memory_bounded(tmp_path):
    """`postern scan DIR` holds at most its window of messages (64) at a
    time, also when every scan finishes at once (no lookups): 600 copies
    of a 300 KiB message are read, scanned and printed one window after
    another, never all at once (before, every message was read and
    scanned before the first was printed: here 207 MiB)."""
    with open(POSTERN_BIN, "rb") as f:
        if b"__asan_init" in f.read():
            pytest.skip("AddressSanitizer keeps freed memory in quarantine: RSS says nothing")
    conf = write_conf(tmp_path)
    folder = tmp_path / "mail"
    folder.mkdir()
    attachment = ("QUJD" * 19 + "\n") * 4000  # 304,000 octets of base64
    msg = ("From: a@remote.test\nTo: b@example.test\nSubject: big\n"
           "MIME-Version: 1.0\n"
           "Content-Type: multipart/mixed; boundary=b\n\n"
           "--b\nContent-Type: text/plain\n\nsee the file\n"
           "--b\nContent-Type: application/octet-stream\n"
           "Content-Transfer-Encoding: base64\n\n%s--b--\n" % attachment)
    first = folder / "m0000.eml"
    first.write_text(msg)
    for i in range(1, 600):
        (folder / ("m%04d.eml" % i)).symlink_to(first)
    script = ("import resource, subprocess, sys\n"
              "p = subprocess.run(sys.argv[1:], stdout=subprocess.PIPE, "
              "stderr=subprocess.PIPE, timeout=%d)\n"
              "sys.stderr.write(p.stderr.decode(errors='replace'))\n"
              "print(p.returncode, p.stdout.count(b'\\n'), "
              "resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n" % int(300 * SLOW))
    out = subprocess.run(["/usr/bin/python3", "-c", script, POSTERN_BIN, "scan", "-c",
                          str(conf), "--json", str(folder)],
                         capture_output=True, text=True, timeout=int(320 * SLOW))
    rc, lines, maxrss_kib = (int(x) for x in out.stdout.split())
    assert rc == 0, out.stderr
    assert lines == 600
    # the window of 64 messages and their scans, far below 600 of them
    assert maxrss_kib < 120 * 1024, "peak RSS %d KiB" % maxrss_kib
