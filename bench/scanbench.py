#!/usr/bin/python3
"""Helpers for bench/scan.sh (stdlib only, every wait bounded in time).

Subcommands:
  select --ham DIR --spam DIR [--limit N] --out LIST
      pick the messages (all, or N spread evenly over ham and spam in their
      corpus proportion); LIST gets "label<TAB>path<TAB>octets" lines.
      Prints key=value (messages, ham, spam, octets).
  dns-check PORT NAME TIMEOUT
      one A query for NAME to 127.0.0.1:PORT; prints rcode= and answers=.
  wait-port HOST PORT TIMEOUT
      exit 0 once HOST:PORT accepts a TCP connection, 1 after TIMEOUT s.
  run --list LIST --out FILE --timeout S [--tree-pid PID]... -- CMD ARGS...
      run CMD ARGS followed by every path of LIST, stdout to FILE, stderr
      to FILE.err; prints key=value: seconds (wall), rc, timed_out,
      cpu_client (the command's user+sys), cpu_server (user+sys spent
      meanwhile by the process trees of the --tree-pid processes).
  spamc --list LIST --out FILE --timeout S --concurrency C --port P
        [--tree-pid PID]...
      one `spamc -x -E -y` per message, C at a time, against spamd on
      127.0.0.1:P; FILE gets one JSON line per message.  Prints the same
      key=value lines as run.
  report --list LIST --dir DIR --tools "postern rspamd spamassassin" ...
      parse every tool's output and print the tables; exit 1 when a tool
      did not return one result per message.
"""

import argparse
import concurrent.futures
import json
import os
import re
import resource
import socket
import subprocess
import sys
import threading
import time

CLK_TCK = os.sysconf("SC_CLK_TCK")


# ---------------------------------------------------------------- selection

def cmd_select(a):
    def files(d):
        out = []
        for name in sorted(os.listdir(d)):
            p = os.path.join(d, name)
            if not name.startswith(".") and os.path.isfile(p):
                out.append(p)
        return out

    ham, spam = files(a.ham), files(a.spam)
    total = len(ham) + len(spam)
    if a.limit and a.limit < total:
        nh = round(a.limit * len(ham) / total)
        ns = a.limit - nh
        if ns > len(spam):
            ns, nh = len(spam), a.limit - len(spam)

        def spread(lst, n):  # n items evenly spaced over the sorted list
            return [lst[(i * len(lst)) // n] for i in range(n)] if n > 0 else []

        ham, spam = spread(ham, nh), spread(spam, ns)
    octets = 0
    with open(a.out, "w") as f:
        for label, lst in (("ham", ham), ("spam", spam)):
            for p in lst:
                n = os.path.getsize(p)
                octets += n
                f.write(f"{label}\t{os.path.abspath(p)}\t{n}\n")
    print(f"messages={len(ham) + len(spam)}")
    print(f"ham={len(ham)}")
    print(f"spam={len(spam)}")
    print(f"octets={octets}")


def read_list(path):
    out = []
    with open(path) as f:
        for line in f:
            label, p, n = line.rstrip("\n").split("\t")
            out.append((label, p, int(n)))
    return out


# ---------------------------------------------------------------- DNS / ports

def cmd_dns_check(a):
    qid = os.getpid() & 0xFFFF
    header = qid.to_bytes(2, "big") + b"\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00"
    qname = b"".join(bytes([len(p)]) + p.encode() for p in a.name.split(".") if p) + b"\x00"
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(a.timeout)
        try:
            s.sendto(header + qname + b"\x00\x01\x00\x01", ("127.0.0.1", a.port))
            data, _ = s.recvfrom(4096)
        except OSError as e:
            print(f"error={e}")
            return 1
    rcode = data[3] & 0x0F
    ancount = int.from_bytes(data[6:8], "big")
    pos = 12 + len(qname) + 4
    answers = []
    for _ in range(ancount):
        if data[pos] & 0xC0 == 0xC0:
            pos += 2
        else:
            while data[pos]:
                pos += data[pos] + 1
            pos += 1
        rtype = int.from_bytes(data[pos:pos + 2], "big")
        rdlen = int.from_bytes(data[pos + 8:pos + 10], "big")
        rdata = data[pos + 10:pos + 10 + rdlen]
        if rtype == 1 and rdlen == 4:
            answers.append(".".join(str(b) for b in rdata))
        pos += 10 + rdlen
    print(f"rcode={rcode}")
    print(f"answers={','.join(answers)}")
    return 0


def cmd_wait_port(a):
    deadline = time.monotonic() + a.timeout
    while True:
        try:
            with socket.create_connection((a.host, a.port), timeout=0.5):
                return 0
        except OSError:
            pass
        if time.monotonic() >= deadline:
            return 1
        time.sleep(0.1)


# ---------------------------------------------------------------- CPU time

def _proc_stat(pid):
    """(ppid, user+sys+children's user+sys in seconds) or None."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            s = f.read()
    except OSError:
        return None
    fields = s[s.rfind(")") + 2:].split()
    # fields[0] is state (field 3); utime is field 14 -> index 11
    ppid = int(fields[1])
    ticks = sum(int(x) for x in fields[11:15])
    return ppid, ticks / CLK_TCK


def tree_cpu(roots):
    """CPU seconds used so far by the roots and all their descendants
    (children that exited and were reaped are in their parent's cutime)."""
    if not roots:
        return 0.0
    stats = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            st = _proc_stat(int(d))
            if st:
                stats[int(d)] = st
    children = {}
    for pid, (ppid, _) in stats.items():
        children.setdefault(ppid, []).append(pid)
    total, todo, seen = 0.0, list(roots), set()
    while todo:
        pid = todo.pop()
        if pid in seen or pid not in stats:
            continue
        seen.add(pid)
        total += stats[pid][1]
        todo.extend(children.get(pid, []))
    return total


def _child_cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def _report_run(t0, t1, c0, c1, s0, s1, rc, timed_out):
    print(f"seconds={t1 - t0:.3f}")
    print(f"rc={rc}")
    print(f"timed_out={1 if timed_out else 0}")
    print(f"cpu_client={c1 - c0:.2f}")
    print(f"cpu_server={s1 - s0:.2f}")


# ---------------------------------------------------------------- runners

def cmd_run(a):
    cmd = list(a.cmd)
    if cmd and cmd[0] == "--":
        cmd = cmd[1:]
    if not cmd:
        print("run: no command", file=sys.stderr)
        return 2
    cmd += [p for _, p, _ in read_list(a.list)]
    timed_out = False
    with open(a.out, "wb") as out, open(a.out + ".err", "wb") as err:
        s0, c0 = tree_cpu(a.tree_pid), _child_cpu()
        t0 = time.monotonic()
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=err)
        try:
            rc = proc.wait(timeout=a.timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            proc.kill()
            rc = proc.wait()
        t1 = time.monotonic()
        c1, s1 = _child_cpu(), tree_cpu(a.tree_pid)
    _report_run(t0, t1, c0, c1, s0, s1, rc, timed_out)
    return 0


def cmd_spamc(a):
    items = read_list(a.list)
    deadline = time.monotonic() + a.timeout
    lock = threading.Lock()
    results = [None] * len(items)
    stop = threading.Event()

    def one(i):
        label, path, _ = items[i]
        left = deadline - time.monotonic()
        if stop.is_set() or left <= 0:
            results[i] = {"file": path, "rc": -1, "error": "not run: deadline"}
            return
        with open(path, "rb") as f:
            try:
                p = subprocess.run(["/usr/bin/spamc", "-x", "-E", "-y", "-d", "127.0.0.1",
                                    "-p", str(a.port), "-t", str(a.msg_timeout)],
                                   stdin=f, capture_output=True, timeout=min(left, a.msg_timeout + 10))
                rec = {"file": path, "rc": p.returncode,
                       "symbols": [s for s in p.stdout.decode("ascii", "replace").strip().split(",") if s]}
                if p.returncode not in (0, 1):
                    rec["error"] = p.stderr.decode("utf-8", "replace").strip()[:200]
            except subprocess.TimeoutExpired:
                rec = {"file": path, "rc": -1, "error": "timeout"}
        results[i] = rec

    s0, c0 = tree_cpu(a.tree_pid), _child_cpu()
    t0 = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(max_workers=a.concurrency) as ex:
        futs = [ex.submit(one, i) for i in range(len(items))]
        for fu in futs:
            fu.result()
    t1 = time.monotonic()
    c1, s1 = _child_cpu(), tree_cpu(a.tree_pid)
    timed_out = any(r and r.get("error", "").startswith(("not run", "timeout")) for r in results)
    with open(a.out, "w") as f:
        for r in results:
            f.write(json.dumps(r) + "\n")
    _report_run(t0, t1, c0, c1, s0, s1, 0, timed_out)
    return 0


# ---------------------------------------------------------------- parsing

def parse_postern(path):
    """{file: record} from postern scan --json output."""
    out = {}
    with open(path, errors="replace") as f:
        for line in f:
            line = line.strip()
            if not line.startswith("{"):
                continue
            try:
                o = json.loads(line)
            except ValueError:
                continue
            out[o.get("file")] = o
    return out


def parse_rspamc(path):
    """{file: {"action", "spam", "symbols"}} from rspamc's text output."""
    out, cur = {}, None
    head = re.compile(r"^Results for file: (.*) \([0-9.]+ seconds\)$")
    with open(path, errors="replace") as f:
        for line in f:
            line = line.rstrip("\n")
            m = head.match(line)
            if m:
                cur = {"action": None, "spam": None, "symbols": []}
                out[m.group(1)] = cur
            elif cur is None:
                continue
            elif line.startswith("Action: "):
                cur["action"] = line[8:].strip()
            elif line.startswith("Spam: "):
                cur["spam"] = line[6:].strip() == "true"
            elif line.startswith("Symbol: "):
                cur["symbols"].append(line[8:].split(" ", 1)[0])
    return out


def parse_spamc(path):
    out = {}
    with open(path) as f:
        for line in f:
            o = json.loads(line)
            out[o["file"]] = o
    return out


SPAMHAUS_RSPAMD = re.compile(r"SPAMHAUS|^DBL_|^URIBL_(SBL|XBL|PBL|DROP|CSS)")
SPAMHAUS_SA = re.compile(r"^(RCVD_IN_(SBL|XBL|PBL|ZEN)|URIBL_(DBL|SBL|CSS|ZEN)|DBL_)")
SPAMHAUS_ERR = re.compile(r"BLOCKED|PROHIBIT|OPENRESOLVER")


def load_kv(path):
    kv = {}
    try:
        with open(path) as f:
            for line in f:
                k, _, v = line.strip().partition("=")
                if k:
                    kv[k] = v
    except OSError:
        pass
    return kv


def pct(n, d):
    return f"{100.0 * n / d:.1f}%" if d else "-"


def cmd_report(a):
    items = read_list(a.list)
    labels = {p: lab for lab, p, _ in items}
    n = len(items)
    octets = sum(x for _, _, x in items)
    nham = sum(1 for lab, _, _ in items if lab == "ham")
    nspam = n - nham
    tools = a.tools.split()
    names = {"postern": "postern", "rspamd": "rspamd", "spamassassin": "SpamAssassin"}
    rows, failed = {}, []
    detail = {}

    for t in tools:
        kv = load_kv(os.path.join(a.dir, f"{t}.kv"))
        rows[t] = kv
        out = os.path.join(a.dir, f"{t}.out")
        if not kv or not os.path.exists(out):
            failed.append(f"{names[t]}: did not run (see {a.dir})")
            continue
        if t == "postern":
            res = parse_postern(out)
            ok = {p: r for p, r in res.items() if p in labels}
        elif t == "rspamd":
            res = parse_rspamc(out)
            ok = {p: r for p, r in res.items() if p in labels and r["action"] is not None}
        else:
            res = parse_spamc(out)
            ok = {p: r for p, r in res.items() if p in labels and r["rc"] in (0, 1)}
        kv["results"] = str(len(ok))
        detail[t] = ok
        if len(ok) != n:
            failed.append(f"{names[t]}: {len(ok)} results for {n} messages"
                          f" (rc {kv.get('rc', '?')}{', timed out' if kv.get('timed_out') == '1' else ''};"
                          f" see {out} and {out}.err)")
        if kv.get("timed_out") == "1" and len(ok) == n:
            failed.append(f"{names[t]}: run timed out")

    # ---- speed table
    print()
    print(f"Content scan: {n} messages ({nham} ham, {nspam} spam), {octets / 1e6:.2f} MB,"
          f" {os.cpu_count()} cores, DNS answered by a private unbound on 127.0.0.1")
    print()
    hdr = f"{'tool':<14} {'version':<10} {'messages':>9} {'seconds':>9} {'msgs/s':>9} {'MB/s':>8} {'CPU s':>8} {'msgs/CPU s':>11} {'DNS q/msg':>10}  concurrency"
    print(hdr)
    print("-" * len(hdr))
    rate, eff = {}, {}
    for t in tools:
        kv = rows[t]
        secs = float(kv.get("seconds", "0") or 0)
        done = int(kv.get("results", "0"))
        cpu = float(kv.get("cpu_client", 0) or 0) + float(kv.get("cpu_server", 0) or 0)
        if secs > 0 and done:
            rate[t] = (done / secs, octets * done / n / 1e6 / secs)
            if cpu > 0:
                eff[t] = done / cpu
            cells = (f"{done:>9} {secs:>9.2f} {rate[t][0]:>9.1f} {rate[t][1]:>8.3f} {cpu:>8.1f}"
                     f" {(done / cpu if cpu > 0 else 0):>11.1f}")
        else:
            cells = f"{done:>9} {'-':>9} {'-':>9} {'-':>8} {'-':>8} {'-':>11}"
        q = kv.get("dns_queries", "")
        cells += f" {(f'{int(q) / done:.1f}' if q.isdigit() and done else '-'):>10}"
        print(f"{names[t]:<14} {kv.get('version', '-')[:10]:<10} {cells}  {kv.get('concurrency', '-')}")
    print()
    targets = {"rspamd": 5.0, "spamassassin": 50.0}
    for other in ("rspamd", "spamassassin"):
        if "postern" in rate and other in rate:
            r = rate["postern"][0] / rate[other][0]
            rb = rate["postern"][1] / rate[other][1]
            ok = "meets" if r >= targets[other] else "BELOW"
            ce = (f", {eff['postern'] / eff[other]:.1f}x msgs per CPU second"
                  if "postern" in eff and other in eff else "")
            print(f"postern/{names[other]}: {r:.1f}x msgs/s, {rb:.1f}x MB/s"
                  f" ({ok} the target of >= {targets[other]:.0f}x){ce}")
    if len(rate) > 1:
        print()

    # ---- postern's verdicts
    if "postern" in detail:
        ok = detail["postern"]
        print("postern verdicts        inbox    junk  reject   total")
        for lab in ("ham", "spam"):
            c = {"inbox": 0, "junk": 0, "reject": 0}
            tot = 0
            for p, r in ok.items():
                if labels[p] == lab:
                    c[r.get("verdict", "?")] = c.get(r.get("verdict", "?"), 0) + 1
                    tot += 1
            print(f"  {lab:<20} {c['inbox']:>7} {c['junk']:>7} {c['reject']:>7} {tot:>7}")
        spam = [r for p, r in ok.items() if labels[p] == "spam"]
        ns = len(spam)
        anyitem = sum(1 for r in spam if r.get("items"))
        urls = sum(1 for r in spam if any(i.get("kind") in ("host", "ip") for i in r.get("items", [])))
        emails = sum(1 for r in spam if any(i.get("kind") == "email" for i in r.get("items", [])))
        listed = sum(1 for r in spam if any(l.get("result") == "listed" for l in r.get("lookups", [])))
        print(f"spam with URL/domain items found: {anyitem}/{ns} ({pct(anyitem, ns)});"
              f" URL or bare-domain hosts {urls} ({pct(urls, ns)}),"
              f" e-mail address domains {emails} ({pct(emails, ns)})")
        hams = [r for p, r in ok.items() if labels[p] == "ham"]
        print(f"messages with a Spamhaus listing (test data): spam {listed}/{ns},"
              f" ham {sum(1 for r in hams if any(l.get('result') == 'listed' for l in r.get('lookups', [])))}/{len(hams)}")
        lk = [l for r in ok.values() for l in r.get("lookups", [])]
        states = {}
        for l in lk:
            states[l.get("result")] = states.get(l.get("result"), 0) + 1
        print(f"postern DNSBL/DBL lookups: {len(lk)} ("
              + ", ".join(f"{k} {v}" for k, v in sorted(states.items())) + ")")
        syms = {}
        for r in ok.values():
            for h in r.get("hits", []):
                syms[h["symbol"]] = syms.get(h["symbol"], 0) + 1
        top = sorted(syms.items(), key=lambda kv: -kv[1])[:12]
        print("postern symbols (messages): " + ", ".join(f"{k} {v}" for k, v in top))
        print()

    # ---- the others' classification, for context
    for t in ("rspamd", "spamassassin"):
        if t not in detail:
            continue
        ok = detail[t]
        line = []
        for lab in ("ham", "spam"):
            sub = [r for p, r in ok.items() if labels[p] == lab]
            if t == "rspamd":
                acts = {}
                for r in sub:
                    acts[r["action"]] = acts.get(r["action"], 0) + 1
                line.append(f"{lab}: " + ", ".join(f"{k} {v}" for k, v in sorted(acts.items())))
            else:
                s = sum(1 for r in sub if r["rc"] == 1)
                line.append(f"{lab}: spam {s}, not spam {len(sub) - s}")
        rx = SPAMHAUS_RSPAMD if t == "rspamd" else SPAMHAUS_SA
        listed = sum(1 for r in ok.values()
                     if any(rx.search(s) and not SPAMHAUS_ERR.search(s) for s in r["symbols"]))
        errs = sum(1 for r in ok.values() if any(SPAMHAUS_ERR.search(s) for s in r["symbols"]))
        print(f"{names[t]} verdicts: " + "; ".join(line))
        print(f"{names[t]} messages with a Spamhaus symbol: {listed}"
              + (f" (and {errs} with a Spamhaus error/blocked symbol)" if errs else ""))
    if failed:
        print()
        for f in failed:
            print(f"scan bench: ERROR: {f}")
        return 1
    return 0


# ---------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="sub", required=True)

    p = sub.add_parser("select")
    p.add_argument("--ham", required=True)
    p.add_argument("--spam", required=True)
    p.add_argument("--limit", type=int, default=0)
    p.add_argument("--out", required=True)
    p.set_defaults(fn=cmd_select)

    p = sub.add_parser("dns-check")
    p.add_argument("port", type=int)
    p.add_argument("name")
    p.add_argument("timeout", type=float)
    p.set_defaults(fn=cmd_dns_check)

    p = sub.add_parser("wait-port")
    p.add_argument("host")
    p.add_argument("port", type=int)
    p.add_argument("timeout", type=float)
    p.set_defaults(fn=cmd_wait_port)

    p = sub.add_parser("run")
    p.add_argument("--list", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--timeout", type=float, required=True)
    p.add_argument("--tree-pid", type=int, action="append", default=[])
    p.add_argument("cmd", nargs=argparse.REMAINDER)
    p.set_defaults(fn=cmd_run)

    p = sub.add_parser("spamc")
    p.add_argument("--list", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--timeout", type=float, required=True)
    p.add_argument("--msg-timeout", type=int, default=60)
    p.add_argument("--concurrency", type=int, default=8)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--tree-pid", type=int, action="append", default=[])
    p.set_defaults(fn=cmd_spamc)

    p = sub.add_parser("report")
    p.add_argument("--list", required=True)
    p.add_argument("--dir", required=True)
    p.add_argument("--tools", required=True)
    p.set_defaults(fn=cmd_report)

    a = ap.parse_args()
    sys.exit(a.fn(a) or 0)


if __name__ == "__main__":
    main()
