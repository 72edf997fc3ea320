#!/usr/bin/python3
"""Helpers for bench/pipeline.sh (stdlib only, every wait bounded in time).

Subcommands:
  run --root-pid PID... --maildir DIR... --deliver-timeout S -- LOADGEN ARGS...
      run bench/loadgen (its key=value lines are passed on), meanwhile sample
      the memory (sum of VmHWM and of Pss) and CPU time of the process trees
      of the --root-pid processes and poll the Maildir new/ directories;
      after the load, wait until as many files arrived as messages got their
      250 (delivered), bounded by --deliver-timeout and a 30 s stall.
  verdicts --items ITEMS --outcomes FILE --spam-header REGEX
           [--maildir DIR]... [--junk DIR]...
      per message: delivered as ham, delivered as spam (in a --junk folder,
      or with a header matching REGEX), refused at RCPT/DATA; per corpus
      label.  Prints key=value; --per-item FILE gets "item verdict" lines.
  report --dir RES --contenders "..." --rounds N
      the table: medians over the rounds, every round, verdicts, targets;
      last line "ratio_pipeline_rspamd=X.XX ratio_pipeline_postfix=Y.YY".
"""

import argparse
import os
import re
import signal
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib  # noqa: E402  (process_tree, _status_kib, _pss_kib)

CLK_TCK = os.sysconf("SC_CLK_TCK")


def _cpu_ticks(pid):
    """utime+stime+cutime+cstime of PID (its reaped children included)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            s = f.read()
        rest = s[s.rindex(")") + 2:].split()
        return sum(int(x) for x in rest[11:15])
    except (OSError, ValueError, IndexError):
        return 0


class Sampler(threading.Thread):
    """Every INTERVAL s: sums of VmHWM and Pss over the trees of ROOTS (the
    peak of each sum is kept) and their CPU time."""

    def __init__(self, roots, interval=0.25):
        super().__init__(daemon=True)
        self.roots, self.interval = roots, interval
        self.stop_ev = threading.Event()
        self.peak_hwm = self.peak_pss = self.peak_procs = 0
        self.names = set()
        self.cpu0 = self.cpu()

    def pids(self):
        out = []
        for r in self.roots:
            out.extend(benchlib.process_tree(r))
        return sorted(set(out))

    def cpu(self):
        return sum(_cpu_ticks(p) for p in self.pids())

    def sample(self):
        hwm = pss = n = 0
        for pid in self.pids():
            st = benchlib._status_kib(pid, ("VmHWM",))
            if not st:
                continue
            n += 1
            hwm += st.get("VmHWM", 0)
            pss += benchlib._pss_kib(pid)
            c = benchlib._comm(pid)
            if c != "?":
                self.names.add(c)
        self.peak_hwm = max(self.peak_hwm, hwm)
        self.peak_pss = max(self.peak_pss, pss)
        self.peak_procs = max(self.peak_procs, n)

    def run(self):
        while not self.stop_ev.is_set():
            self.sample()
            self.stop_ev.wait(self.interval)

    def stop(self):
        self.stop_ev.set()
        self.join(timeout=10)
        self.sample()
        return (self.cpu() - self.cpu0) / CLK_TCK


def io_counts(pids):
    """read+write syscalls (/proc/PID/io) and context switches of every
    thread (/proc/PID/task/*/status) of the live processes PIDS."""
    sysc = ctx = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/io") as f:
                for line in f:
                    k, _, v = line.partition(":")
                    if k in ("syscr", "syscw"):
                        sysc += int(v)
            for t in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{t}/status") as f:
                    for line in f:
                        if line.endswith("ctxt_switches:\t" + line.split("\t")[-1]) and "ctxt_switches" in line:
                            ctx += int(line.split()[-1])
        except (OSError, ValueError):
            continue
    return sysc, ctx


def count_files(dirs):
    n = 0
    for d in dirs:
        try:
            with os.scandir(d) as it:
                n += sum(1 for e in it if not e.name.startswith("."))
        except OSError:
            pass
    return n


def cmd_run(a):
    cmd = a.cmd[1:] if a.cmd and a.cmd[0] == "--" else a.cmd
    sampler = Sampler(a.root_pid, a.interval)
    io0 = io_counts(sampler.pids())
    sampler.start()
    before = count_files(a.maildir)
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=open(a.log, "wb") if a.log else None)
    out, _ = proc.communicate(timeout=a.load_timeout)
    t_load = time.monotonic() - t0
    kv = {}
    for line in out.decode().splitlines():
        k, _, v = line.partition("=")
        if k:
            kv[k] = v
            print(line)
    target = before + int(kv.get("accepted", "0"))
    deadline = time.monotonic() + a.deliver_timeout
    last, last_change = -1, time.monotonic()
    t_deliver, why = None, ""
    while True:
        n = count_files(a.maildir)
        now = time.monotonic()
        if n >= target:
            t_deliver = now - t0
            break
        if n != last:
            last, last_change = n, now
        if now > deadline:
            why = f"timeout after {a.deliver_timeout:.0f} s"
            break
        if now - last_change > a.stall:
            why = f"no new message for {a.stall:.0f} s"
            break
        time.sleep(a.poll)
    time.sleep(0.5)  # stragglers (duplicates) show up
    io1 = io_counts(sampler.pids())
    cpu = sampler.stop()
    delivered = count_files(a.maildir) - before
    print(f"rc={proc.returncode}")
    print(f"load_seconds={t_load:.3f}")
    print(f"deliver_seconds={t_deliver:.3f}" if t_deliver else "deliver_seconds=")
    print(f"delivered={delivered}")
    print(f"deliver_wait_end={why}")
    print(f"cpu_seconds={cpu:.2f}")
    # long-lived processes only (Postfix's exited children are not seen)
    print(f"rw_syscalls={io1[0] - io0[0]}")
    print(f"context_switches={io1[1] - io0[1]}")
    print(f"peak_hwm_kib={sampler.peak_hwm}")
    print(f"peak_pss_kib={sampler.peak_pss}")
    print(f"peak_procs={sampler.peak_procs}")
    print(f"process_names={','.join(sorted(sampler.names))}")
    return 0


# ---------------------------------------------------------------- verdicts
ITEM_RE = re.compile(rb"^X-Bench-Item: *(\d+)", re.M | re.I)


def head_of(path):
    try:
        with open(path, "rb") as f:
            data = f.read(262144)
    except OSError:
        return b""
    i = data.find(b"\n\n")
    j = data.find(b"\r\n\r\n")
    cut = min(x for x in (i, j, len(data)) if x >= 0)
    return data[:cut]


def cmd_verdicts(a):
    labels = {}
    with open(a.items) as f:
        for line in f:
            p = line.rstrip("\n").split("\t")
            if len(p) >= 2:
                labels[int(p[0])] = p[1]
    spam_re = re.compile(a.spam_header.encode(), re.M | re.I)
    per = {}  # item -> {verdict: n}

    def add(item, verdict):
        per.setdefault(item, {}).setdefault(verdict, 0)
        per[item][verdict] += 1

    junk_dirs = set(a.junk or [])
    for d, junk in [(d, False) for d in a.maildir or [] if d not in junk_dirs] + \
            [(d, True) for d in junk_dirs]:
        try:
            names = os.listdir(d)
        except OSError:
            continue
        for name in names:
            if name.startswith("."):
                continue
            h = head_of(os.path.join(d, name))
            m = ITEM_RE.search(h)
            item = int(m.group(1)) if m else -1
            add(item, "spam" if junk or spam_re.search(h) else "ham")
    try:
        with open(a.outcomes) as f:
            for line in f:
                p = line.rstrip("\n").split("\t")
                if len(p) < 4:
                    continue
                code, stage = int(p[2]), p[3]
                if code >= 500:
                    add(int(p[1]), "refused_" + ("data" if stage == "dot" else stage))
                elif code >= 400:
                    add(int(p[1]), "tempfailed")
    except OSError:
        pass
    tot = {}
    for item, vs in per.items():
        lab = labels.get(item, "unknown")
        for v, n in vs.items():
            tot[(lab, v)] = tot.get((lab, v), 0) + n
            tot[("all", v)] = tot.get(("all", v), 0) + n
    for (lab, v), n in sorted(tot.items()):
        print(f"{lab}_{v}={n}")
    if a.per_item:
        with open(a.per_item, "w") as f:
            for item in sorted(per):
                vs = per[item]
                best = max(vs, key=lambda v: vs[v])
                f.write(f"{item}\t{labels.get(item, 'unknown')}\t{best}\n")
    return 0


# ---------------------------------------------------------------- report
NAMES = {
    "postern": "postern",
    "rspamd": "Postfix+rspamd",
    "sa": "Postfix+SA",
    "bare": "Postfix bare",
}


def read_kv(path):
    kv = {}
    try:
        with open(path) as f:
            for line in f:
                k, _, v = line.rstrip("\n").partition("=")
                if k:
                    kv[k] = v
    except OSError:
        pass
    return kv


def fnum(x):
    try:
        return float(x)
    except (TypeError, ValueError):
        return None


def median(vals):
    v = sorted(x for x in vals if x is not None)
    if not v:
        return None
    n = len(v)
    return v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2


def fmt(x, digits=0):
    if x is None:
        return "-"
    return f"{x:.{digits}f}"


def cmd_report(a):
    cs = a.contenders.split()
    runs = {c: [read_kv(os.path.join(a.dir, f"{c}-{r}.kv")) for r in range(1, a.rounds + 1)] for c in cs}
    runs = {c: [kv for kv in rs if kv] for c, rs in runs.items()}

    def rate(kv):
        d, s = fnum(kv.get("delivered")), fnum(kv.get("deliver_seconds"))
        if d is None or not s:
            return None
        return d / s

    def acc_rate(kv):
        n, s = fnum(kv.get("accepted")), fnum(kv.get("seconds"))
        return n / s if n is not None and s else None

    def per_msg_cpu(kv):
        c, n = fnum(kv.get("cpu_seconds")), fnum(kv.get("started"))
        return 1000 * c / n if c is not None and n else None

    def per(kv, k):
        c, n = fnum(kv.get(k)), fnum(kv.get("started"))
        return c / n if c is not None and n else None

    def mib(kv, k):
        v = fnum(kv.get(k))
        return v / 1024 if v else None

    rows = [
        ("delivered msg/s (median)", lambda kv: rate(kv), 0),
        ("answered msg/s (loadgen)", acc_rate, 0),
        ("DATA end->250 p50 ms", lambda kv: fnum(kv.get("lat_p50_ms")), 1),
        ("DATA end->250 p99 ms", lambda kv: fnum(kv.get("lat_p99_ms")), 1),
        ("CPU ms per message", per_msg_cpu, 2),
        ("read/write syscalls per msg*", lambda kv: per(kv, "rw_syscalls"), 1),
        ("context switches per msg*", lambda kv: per(kv, "context_switches"), 1),
        ("peak RSS MiB (sum VmHWM)", lambda kv: mib(kv, "peak_hwm_kib"), 1),
        ("peak PSS MiB", lambda kv: mib(kv, "peak_pss_kib"), 1),
    ]
    med = {c: {} for c in cs}
    w = 16
    print(f"{'':30}" + "".join(f"{NAMES.get(c, c):>{w}}" for c in cs))
    for title, fn, dg in rows:
        vals = {c: median([fn(kv) for kv in runs[c]]) for c in cs}
        for c in cs:
            med[c][title] = vals[c]
        print(f"{title:30}" + "".join(f"{fmt(vals[c], dg):>{w}}" for c in cs))
    # counts
    print(f"{'messages sent per run':30}" + "".join(
        f"{'/'.join(kv.get('started', '-') for kv in runs[c]) or '-':>{w}}" for c in cs))
    print(f"{'  delivered (Maildir)':30}" + "".join(
        f"{'/'.join(kv.get('delivered', '-') for kv in runs[c]) or '-':>{w}}" for c in cs))
    print(f"{'  refused 5xx':30}" + "".join(
        f"{'/'.join(kv.get('refused', '-') for kv in runs[c]) or '-':>{w}}" for c in cs))
    print(f"{'  4xx or errors':30}" + "".join(
        f"{'/'.join(str(int(kv.get('tempfailed', 0)) + int(kv.get('errors', 0))) for kv in runs[c]) or '-':>{w}}" for c in cs))
    print()
    print("every round (delivered msg/s; p50/p99 ms; peak RSS MiB; CPU ms/msg):")
    for r in range(a.rounds):
        line = f"  round {r + 1:<23}"
        for c in cs:
            kv = runs[c][r] if r < len(runs[c]) else {}
            if not kv:
                line += f"{'-':>{w + 16}}"
                continue
            cell = (f"{fmt(rate(kv))}; {fmt(fnum(kv.get('lat_p50_ms')), 0)}/{fmt(fnum(kv.get('lat_p99_ms')), 0)};"
                    f" {fmt(mib(kv, 'peak_hwm_kib'))}; {fmt(per_msg_cpu(kv), 1)}")
            line += f"  {NAMES.get(c, c)}: {cell}"
        print(line)
    # verdicts
    print()
    print("verdicts (all rounds; 'spam' = postern's Junk folder, rspamd's X-Spam: Yes,")
    print("SpamAssassin's X-Spam-Flag: YES, or refused at end of DATA):")
    vrows = [("spam messages filed as spam", "spam_spam", "spam_refused_data"),
             ("ham messages filed as spam", "ham_spam", "ham_refused_data")]
    vk = {}
    for c in cs:
        vk[c] = {}
        for r in range(1, a.rounds + 1):
            for k, v in read_kv(os.path.join(a.dir, f"{c}-{r}.verdicts.kv")).items():
                vk[c][k] = int(vk[c].get(k, 0)) + int(v)
    for title, k1, k2 in vrows:
        print(f"  {title:28}" + "".join(
            f"{int(vk[c].get(k1, 0)) + int(vk[c].get(k2, 0)):>{w}}" if vk[c] else f"{'-':>{w}}" for c in cs))
    for title, k in (("refused at RCPT (blocklists)", "all_refused_rcpt"),
                     ("refused at MAIL", "all_refused_mail"),
                     ("refused at end of DATA", "all_refused_data"),
                     ("delivered, as spam", "all_spam"),
                     ("delivered, as ham", "all_ham")):
        print(f"  {title:28}" + "".join(f"{vk[c].get(k, '0') if vk[c] else '-':>{w}}" for c in cs))

    # targets and ratios
    def r_of(c):
        return med.get(c, {}).get("delivered msg/s (median)")

    pn, rs, pf = r_of("postern"), r_of("rspamd"), r_of("bare")
    sa = r_of("sa")
    print()
    out = {}
    for name, other, target in (("rspamd", rs, 10.0), ("postfix", pf, 3.0), ("sa", sa, None)):
        if pn and other:
            out[name] = pn / other
            if target is not None:
                ok = "ok" if out[name] >= target else "FAILED"
                print(f"pipeline: postern / {NAMES['rspamd' if name == 'rspamd' else 'bare']} delivered msg/s ="
                      f" {out[name]:.2f}x (target >= {target:.0f}x): {ok}")
            else:
                print(f"pipeline: postern / Postfix+SA delivered msg/s = {out[name]:.2f}x")
    pm = med.get("postern", {}).get("peak RSS MiB (sum VmHWM)")
    rm = med.get("rspamd", {}).get("peak RSS MiB (sum VmHWM)")
    if pm and rm:
        ok = "ok" if pm <= rm / 20 else "FAILED"
        print(f"pipeline: postern peak RSS / Postfix+rspamd's = 1/{rm / pm:.1f} (target <= 1/20): {ok}")
    pp = med.get("postern", {}).get("peak PSS MiB")
    rp = med.get("rspamd", {}).get("peak PSS MiB")
    if pp and rp:
        print(f"pipeline: postern peak PSS / Postfix+rspamd's = 1/{rp / pp:.1f}")
    print(f"ratio_pipeline_rspamd={out.get('rspamd', 0):.2f} ratio_pipeline_postfix={out.get('postfix', 0):.2f}")
    return 0


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd_name", required=True)
    r = sub.add_parser("run")
    r.add_argument("--root-pid", type=int, action="append", required=True)
    r.add_argument("--maildir", action="append", required=True)
    r.add_argument("--deliver-timeout", type=float, default=300)
    r.add_argument("--load-timeout", type=float, default=3600)
    r.add_argument("--stall", type=float, default=30)
    r.add_argument("--poll", type=float, default=0.1)
    r.add_argument("--interval", type=float, default=0.25)
    r.add_argument("--log")
    r.add_argument("cmd", nargs=argparse.REMAINDER)
    r.set_defaults(fn=cmd_run)
    v = sub.add_parser("verdicts")
    v.add_argument("--items", required=True)
    v.add_argument("--outcomes", required=True)
    v.add_argument("--spam-header", default=r"^$x")
    v.add_argument("--maildir", action="append")
    v.add_argument("--junk", action="append")
    v.add_argument("--per-item")
    v.set_defaults(fn=cmd_verdicts)
    t = sub.add_parser("report")
    t.add_argument("--dir", required=True)
    t.add_argument("--contenders", required=True)
    t.add_argument("--rounds", type=int, required=True)
    t.set_defaults(fn=cmd_report)
    a = p.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(2))
    return a.fn(a)


if __name__ == "__main__":
    sys.exit(main())
