#!/usr/bin/python3
"""Test driver of `make test` and `make fuzz` (standard library only).

Runs, in order:
  unit         every BUILD/tests/test_* cmocka binary with TAP output; each
               "ok N" line is a pass, each "not ok N" a failure; a binary
               that dies or exits non-zero without reporting a failure
               counts as one failure;
  fuzz         every BUILD/fuzz/fuzz_* libFuzzer target for a smoke period,
               seeded from a temporary copy of tests/fuzz/corpus/NAME/ (the
               repository corpus is never modified); one pass or one fail
               per target, crash inputs kept in BUILD/fuzz/artifacts/;
  integration  pytest on tests/integration when it holds test_*.py files,
               counted from its JUnit XML (errors are failures, skips are
               neither).

Each suite's output is printed as it runs; the very last line is exactly
"N passed, M failed" and the exit status is 0 iff M == 0. Works with no
terminal, as root, under CI=true.
"""

import argparse
import glob
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PYTHON = "/usr/bin/python3"
UNIT_TIMEOUT = 300          # seconds for one unit test binary
FUZZ_GRACE = 120            # seconds past -max_total_time before a kill
FUZZ_SHOWN = 150            # at most this many lines of a fuzzer's output

TAP_OK = re.compile(r"^ok \d+\b")
TAP_NOT_OK = re.compile(r"^not ok \d+\b")
TAP_PLAN = re.compile(r"^1\.\.(\d+)\s*$")
TAP_SKIP = re.compile(r"#\s*SKIP\b", re.IGNORECASE)
FUZZ_PROGRESS = re.compile(r"^#\d+\s")
# libFuzzer's default exit codes
LIBFUZZER_EXIT = {77: ": crash, sanitizer report or broken invariant",
                  70: ": an input ran past -timeout",
                  71: ": out of memory (-rss_limit_mb)"}


def say(text=""):
    """Prints a line of the driver's own output, flushed so that it keeps
    its place among the children's output."""
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def emit(data):
    """Prints a child's captured output as is."""
    if not data:
        return
    if not data.endswith("\n"):
        data += "\n"
    sys.stdout.write(data)
    sys.stdout.flush()


def is_test_binary(path):
    """Executable regular file without an extension (skips .o, .d, .dSYM)."""
    name = os.path.basename(path)
    return (os.path.isfile(path) and os.access(path, os.X_OK)
            and "." not in name)


def run_captured(argv, env, timeout, cwd=ROOT):
    """Runs argv in its own process group; returns (rc, stdout, stderr,
    timed_out). On timeout the whole group is killed."""
    try:
        proc = subprocess.Popen(argv, cwd=cwd, env=env,
                                stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                start_new_session=True)
    except OSError as e:
        return None, "", "cannot run %s: %s\n" % (argv[0], e), False
    timed_out = False
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        out, err = proc.communicate()
    return (proc.returncode, out.decode("utf-8", "replace"),
            err.decode("utf-8", "replace"), timed_out)


def describe_rc(rc):
    if rc is None:
        return "did not finish"
    if rc < 0:
        try:
            return "killed by %s" % signal.Signals(-rc).name
        except ValueError:
            return "killed by signal %d" % -rc
    return "exit status %d" % rc


class Totals:
    def __init__(self):
        self.passed = 0
        self.failed = 0


# ---- unit ------------------------------------------------------------------

def count_tap(text):
    """Returns (passes, failures, planned) from TAP text; skips count as
    neither."""
    passes = failures = planned = 0
    for line in text.splitlines():
        m = TAP_PLAN.match(line)
        if m:
            planned += int(m.group(1))
            continue
        if TAP_NOT_OK.match(line):
            if TAP_SKIP.search(line):
                planned -= 1
            else:
                failures += 1
        elif TAP_OK.match(line):
            if TAP_SKIP.search(line):
                planned -= 1
            else:
                passes += 1
    return passes, failures, planned


def run_unit(build, totals):
    say("==== unit tests")
    sources = sorted(glob.glob(os.path.join(ROOT, "tests", "unit", "test_*.c")))
    bins = sorted(p for p in glob.glob(os.path.join(build, "tests", "test_*"))
                  if is_test_binary(p))
    have = {os.path.basename(p) for p in bins}
    for src in sources:
        name = os.path.splitext(os.path.basename(src))[0]
        if name not in have:
            say("FAIL %s: no binary %s (run `make unit`)"
                % (name, os.path.relpath(os.path.join(build, "tests", name), ROOT)))
            totals.failed += 1
    if not bins and not sources:
        say("(no unit tests)")
    env = dict(os.environ, CMOCKA_MESSAGE_OUTPUT="TAP")
    for path in bins:
        name = os.path.basename(path)
        say("---- %s" % name)
        rc, out, err, timed_out = run_captured([path], env, UNIT_TIMEOUT)
        emit(out)
        emit(err)
        passes, failures, planned = count_tap(out)
        missing = max(0, planned - passes - failures)
        extra = missing
        if timed_out:
            say("FAIL %s: no result after %d s" % (name, UNIT_TIMEOUT))
        if (rc != 0 or timed_out) and failures + extra == 0:
            extra = 1
        if extra:
            say("FAIL %s: %s, %d test(s) without a result"
                % (name, describe_rc(rc), missing))
        totals.passed += passes
        totals.failed += failures + extra
        say("%s: %d passed, %d failed" % (name, passes, failures + extra))


# ---- fuzz ------------------------------------------------------------------

def fuzz_summary(text):
    """The useful part of a libFuzzer log: its progress lines ("#N NEW ...")
    and recommended dictionary dropped, except the last progress line; at
    most FUZZ_SHOWN lines, the end kept (that is where a crash report is)."""
    kept = []
    last_progress = None
    in_dict = False
    for line in text.splitlines():
        if line.startswith("###### Recommended dictionary"):
            in_dict = True
            continue
        if in_dict:
            if line.startswith("###### End of recommended dictionary"):
                in_dict = False
            continue
        if FUZZ_PROGRESS.match(line):
            last_progress = line
            continue
        kept.append(line)
    if last_progress is not None:
        # before the final "Done" lines, where libFuzzer printed it
        at = next((i for i, l in enumerate(kept) if l.startswith("Done ")),
                  len(kept))
        kept.insert(at, last_progress)
    if len(kept) > FUZZ_SHOWN:
        kept = ["[... %d lines cut]" % (len(kept) - FUZZ_SHOWN)] + kept[-FUZZ_SHOWN:]
    return "\n".join(kept)

def run_fuzz(build, seconds, totals):
    say("==== fuzz smoke (%d s per target)" % seconds)
    sources = sorted(glob.glob(os.path.join(ROOT, "tests", "fuzz", "fuzz_*.c")))
    bins = sorted(p for p in glob.glob(os.path.join(build, "fuzz", "fuzz_*"))
                  if is_test_binary(p))
    have = {os.path.basename(p) for p in bins}
    for src in sources:
        name = os.path.splitext(os.path.basename(src))[0]
        if name not in have:
            say("FAIL %s: no binary %s (run `make fuzz-build`)"
                % (name, os.path.relpath(os.path.join(build, "fuzz", name), ROOT)))
            totals.failed += 1
    if not bins and not sources:
        say("(no fuzz targets)")
    artifacts = os.path.join(build, "fuzz", "artifacts")
    logs = os.path.join(build, "fuzz", "logs")
    os.makedirs(artifacts, exist_ok=True)
    os.makedirs(logs, exist_ok=True)
    env = dict(os.environ)
    env.setdefault("ASAN_OPTIONS", "detect_leaks=1")
    env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
    for path in bins:
        name = os.path.basename(path)
        say("---- %s" % name)
        corpus = tempfile.mkdtemp(prefix="postern-%s-" % name)
        try:
            seeds = os.path.join(ROOT, "tests", "fuzz", "corpus", name)
            if os.path.isdir(seeds):
                for entry in sorted(os.listdir(seeds)):
                    src = os.path.join(seeds, entry)
                    if os.path.isfile(src):
                        shutil.copy(src, os.path.join(corpus, entry))
            argv = [path,
                    "-max_total_time=%d" % seconds,
                    "-rss_limit_mb=2048",
                    "-timeout=30",
                    "-print_final_stats=1",
                    "-artifact_prefix=%s/%s-" % (artifacts, name),
                    corpus]
            say("$ %s" % " ".join(os.path.relpath(a, ROOT) if a.startswith(ROOT)
                                  else a for a in argv))
            before = set(os.listdir(artifacts))
            rc, out, err, timed_out = run_captured(argv, env, seconds + FUZZ_GRACE)
            found = sorted(set(os.listdir(artifacts)) - before)
        finally:
            shutil.rmtree(corpus, ignore_errors=True)
        text = out + err
        log = os.path.join(logs, name + ".log")
        with open(log, "w", encoding="utf-8") as f:
            f.write(text)
        ok = rc == 0 and not timed_out
        emit(fuzz_summary(text))
        if ok:
            say("(full log: %s)" % os.path.relpath(log, ROOT))
        if ok:
            totals.passed += 1
            say("%s: passed" % name)
        else:
            totals.failed += 1
            if timed_out:
                why = "no result after %d s" % (seconds + FUZZ_GRACE)
            else:
                why = describe_rc(rc) + LIBFUZZER_EXIT.get(rc, "")
            say("FAIL %s: %s (full log %s)"
                % (name, why, os.path.relpath(log, ROOT)))
            for a in found:
                say("  reproduce: %s %s"
                    % (os.path.relpath(path, ROOT),
                       os.path.relpath(os.path.join(artifacts, a), ROOT)))


# ---- integration -------------------------------------------------------------

def count_junit(path):
    """Returns (passes, failures) from a pytest JUnit XML file."""
    passes = failures = 0
    root = ET.parse(path).getroot()
    for case in root.iter("testcase"):
        tags = {child.tag for child in case}
        if "failure" in tags or "error" in tags:
            failures += 1
        elif "skipped" in tags:
            continue
        else:
            passes += 1
    return passes, failures


def run_integration(keyword, timeout, totals):
    idir = os.path.join(ROOT, "tests", "integration")
    files = glob.glob(os.path.join(idir, "**", "test_*.py"), recursive=True)
    say("==== integration tests")
    if not files:
        say("(no integration tests in tests/integration)")
        return
    fd, xml = tempfile.mkstemp(prefix="postern-junit-", suffix=".xml")
    os.close(fd)
    os.unlink(xml)
    argv = [PYTHON, "-m", "pytest", "-q", "-p", "no:cacheprovider",
            "tests/integration", "--junitxml=%s" % xml]
    if keyword:
        argv += ["-k", keyword]
    say("$ %s" % " ".join(argv))
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    # pytest writes straight to our stdout, so its output appears as it runs.
    proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdin=subprocess.DEVNULL,
                            stdout=sys.stdout.fileno(), stderr=subprocess.STDOUT,
                            start_new_session=True)
    timed_out = False
    try:
        rc = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        rc = proc.wait()
    sys.stdout.flush()
    passes = failures = 0
    try:
        if os.path.exists(xml):
            passes, failures = count_junit(xml)
    except ET.ParseError as e:
        say("FAIL integration: unreadable JUnit XML: %s" % e)
        failures += 1
    finally:
        if os.path.exists(xml):
            os.unlink(xml)
    # 0: all passed, 1: some failed (counted above), 5: nothing collected,
    # which is only expected when -k filtered everything out.
    if timed_out:
        say("FAIL integration: no result after %d s" % timeout)
        failures += 1
    elif rc == 5 and keyword:
        pass
    elif rc != 0 and failures == 0:
        say("FAIL integration: pytest %s with no failed test recorded"
            % describe_rc(rc))
        failures += 1
    totals.passed += passes
    totals.failed += failures
    say("integration: %d passed, %d failed" % (passes, failures))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--fuzz-only", action="store_true",
                    help="run only the fuzz targets (make fuzz)")
    ap.add_argument("--fuzz-seconds", type=int, default=10, metavar="S",
                    help="seconds per fuzz target (default 10)")
    ap.add_argument("--no-fuzz", action="store_true",
                    help="skip the fuzz targets")
    ap.add_argument("--only-unit", action="store_true",
                    help="run only the unit tests")
    ap.add_argument("-k", dest="keyword", metavar="EXPR",
                    help="passed to pytest -k for the integration tests")
    ap.add_argument("--build-dir", default=os.environ.get("BUILD", "build"),
                    help="build directory (default $BUILD or build)")
    ap.add_argument("--integration-timeout", type=int, default=3600,
                    metavar="S", help="kill pytest after S seconds")
    args = ap.parse_args()
    if args.fuzz_only and (args.no_fuzz or args.only_unit):
        ap.error("--fuzz-only excludes --no-fuzz and --only-unit")
    if args.fuzz_seconds < 1:
        ap.error("--fuzz-seconds must be at least 1")

    build = args.build_dir
    if not os.path.isabs(build):
        build = os.path.join(ROOT, build)
    totals = Totals()
    if not args.fuzz_only:
        run_unit(build, totals)
    if args.fuzz_only or not (args.no_fuzz or args.only_unit):
        run_fuzz(build, args.fuzz_seconds, totals)
    if not (args.fuzz_only or args.only_unit):
        run_integration(args.keyword, args.integration_timeout, totals)
    say("%d passed, %d failed" % (totals.passed, totals.failed))
    return 0 if totals.failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
