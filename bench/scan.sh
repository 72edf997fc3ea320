#!/bin/bash
# Content-scanner benchmark: `postern scan` against rspamd and SpamAssassin
# on the same messages, same machine, same run.  See bench/README.md.
# Run from the repository root after `make` (build/postern must exist).
#
# Every tool gets its DNS from one private unbound on 127.0.0.1 that serves
# the Spamhaus zones as static local zones (the test points plus a few
# listings of items found in the corpus, so the "listed" path is exercised)
# and answers NXDOMAIN for every other name: no query leaves the machine.
# When possible (root, unshare available) the whole run happens in a
# private network namespace whose only interface is lo.
#
# Environment (all optional):
#   BENCH_SCAN_LIMIT        number of messages (default: the whole corpus),
#                           spread evenly over ham and spam
#   BENCH_SCAN_TOOLS        subset of "postern rspamd spamassassin" (spaces or
#                           commas; "sa" means spamassassin)
#   BENCH_SCAN_CONCURRENCY  parallel requests for rspamc (-n) and spamc, and
#                           spamd children (default 8); postern scan always
#                           keeps 64 messages in flight in one process
#   BENCH_SCAN_RSPAMD_WORKERS  rspamd "normal" workers (default: cores)
#   BENCH_SCAN_SA_LOCAL=1   SpamAssassin with local tests only (spamd -L)
#   BENCH_SCAN_CORPUS       corpus with ham/ and spam/ (default ../shared/corpus)
#   BENCH_SCAN_DIR          scratch directory, wiped first (default /tmp/postern-bench-scan)
#   BENCH_SCAN_PORT_BASE    first of 4 loopback ports (default 2663): DNS,
#                           rspamd normal, rspamd controller, spamd
#   BENCH_SCAN_RSPAMD_WARMUP  seconds allowed for rspamd to start and load its
#                           hyperscan database (default 400)
#   BENCH_SCAN_NETNS=0      do not move into a private network namespace
#   POSTERN_BIN             binary (default build/postern)
#
# Only loopback addresses are used.  Every wait is bounded in time; every
# process started here is stopped on exit.  Exit status 0 when every tool
# selected returned one result per message, 1 otherwise.

set -u
umask 022
SELF="$(cd "$(dirname "$0")" && pwd)/$(basename "$0")"

# Move into a network namespace of our own (only lo): nothing can leave
# the machine whatever the scanners try (rspamd and SpamAssassin have
# plug-ins that would fetch maps or query remote servers).
if [ "${BENCH_SCAN_NETNS:-1}" = 1 ] && [ -z "${POSTERN_SCAN_NETNS:-}" ] && [ "$(id -u)" = 0 ] &&
	command -v unshare >/dev/null 2>&1 && [ -x /usr/sbin/ip ] && unshare -n true 2>/dev/null; then
	POSTERN_SCAN_NETNS=1 exec unshare -n -- "$SELF" "$@"
fi
NETNS_NOTE="host network namespace, loopback addresses only"
if [ -n "${POSTERN_SCAN_NETNS:-}" ]; then
	if /usr/sbin/ip link set lo up; then
		NETNS_NOTE="private network namespace (interfaces: lo only)"
	else
		echo "scan bench: cannot bring lo up in the private network namespace" >&2
		exit 1
	fi
fi

cd "$(dirname "$SELF")/.." || exit 1
ROOT=$(pwd)

PY=/usr/bin/python3
LIB="$ROOT/bench/scanbench.py"
LIMIT=${BENCH_SCAN_LIMIT:-0}
CONC=${BENCH_SCAN_CONCURRENCY:-8}
NPROC=$(nproc 2>/dev/null || echo 1)
RS_WORKERS=${BENCH_SCAN_RSPAMD_WORKERS:-$NPROC}
RS_WARMUP=${BENCH_SCAN_RSPAMD_WARMUP:-400}
CORPUS=${BENCH_SCAN_CORPUS:-$ROOT/../shared/corpus}
DIR=${BENCH_SCAN_DIR:-/tmp/postern-bench-scan}
PORT_BASE=${BENCH_SCAN_PORT_BASE:-2663}
POSTERN=${POSTERN_BIN:-$ROOT/build/postern}
case "$POSTERN" in /*) ;; *) POSTERN="$ROOT/$POSTERN" ;; esac

say() { printf 'scan bench: %s\n' "$*"; }
FAILED=0
ERRORS=()
loud() {
	ERRORS+=("$*")
	printf 'scan bench: ERROR: %s\n' "$@" >&2
	FAILED=1
}
die() { loud "$@"; exit 1; }

for v in LIMIT CONC RS_WORKERS RS_WARMUP PORT_BASE; do
	case "${!v}" in '' | *[!0-9]*) die "$v must be a number (got '${!v}')" ;; esac
done
[ "$CONC" -ge 1 ] && [ "$RS_WORKERS" -ge 1 ] || die "concurrency and workers must be >= 1"
DNS_PORT=$PORT_BASE
RS_PORT=$((PORT_BASE + 1))
RS_CTL_PORT=$((PORT_BASE + 2))
SA_PORT=$((PORT_BASE + 3))

# ------------------------------------------------------------ tools
TOOLS=""
for t in $(printf '%s' "${BENCH_SCAN_TOOLS:-postern rspamd spamassassin}" | tr ',' ' '); do
	case "$t" in
	postern) t=postern ;;
	rspamd | rspamc) t=rspamd ;;
	spamassassin | sa | spamd | spamc) t=spamassassin ;;
	*) die "BENCH_SCAN_TOOLS: unknown tool '$t' (postern, rspamd, spamassassin)" ;;
	esac
	case " $TOOLS " in *" $t "*) ;; *) TOOLS="$TOOLS $t" ;; esac
done
# always in this order: postern, rspamd, spamassassin
ORDERED=""
for t in postern rspamd spamassassin; do
	case " $TOOLS " in *" $t "*) ORDERED="$ORDERED $t" ;; esac
done
TOOLS=${ORDERED# }
[ -n "$TOOLS" ] || die "BENCH_SCAN_TOOLS selects no tool"
has() { case " $TOOLS " in *" $1 "*) return 0 ;; esac; return 1; }

need=("$PY" /usr/sbin/unbound /usr/sbin/unbound-control)
has postern && need+=("$POSTERN")
has rspamd && need+=(/usr/bin/rspamd /usr/bin/rspamc)
has spamassassin && need+=(/usr/sbin/spamd /usr/bin/spamc)
for f in "${need[@]}"; do
	[ -x "$f" ] || die "$f missing: run 'make' and scripts/deps (make deps)"
done
[ -d "$CORPUS/ham" ] && [ -d "$CORPUS/spam" ] || die "no corpus at $CORPUS (ham/ and spam/ expected)"
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

# the scratch directory is wiped: refuse anything that is not ours
[ ! -e "$DIR" ] || [ -e "$DIR/.postern-bench-scan" ] ||
	die "BENCH_SCAN_DIR=$DIR exists and is not a scan bench directory: remove it or pick another"

# ------------------------------------------------------------ processes
# children of PID, recursively (by parent pid, never by name)
descendants() {
	local c
	for c in $(pgrep -P "$1" 2>/dev/null); do
		echo "$c"
		descendants "$c"
	done
}

# kill_tree PID SECONDS: SIGTERM to PID (rspamd and spamd stop their own
# children), wait; if it is still there, SIGKILL to it and its descendants
kill_tree() {
	local pid=$1 secs=$2 i=0 kids
	kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null; return 0; }
	kill -TERM "$pid" 2>/dev/null
	while kill -0 "$pid" 2>/dev/null && [ $i -lt $((secs * 10)) ]; do
		sleep 0.1
		i=$((i + 1))
	done
	if kill -0 "$pid" 2>/dev/null; then
		kids=$(descendants "$pid")
		kill -KILL "$pid" $kids 2>/dev/null
	fi
	wait "$pid" 2>/dev/null
	return 0
}

# processes of an earlier run that was killed: stop them by pid file, only
# when their command line or an open file names this scratch directory
# (rspamd rewrites its command line)
stale_stop() {
	local pid
	[ -r "$1" ] || return 0
	pid=$(tr -d ' \n' 2>/dev/null <"$1") || return 0
	case "$pid" in '' | *[!0-9]*) return 0 ;; esac
	[ -d "/proc/$pid" ] || return 0
	if { tr '\0' ' ' <"/proc/$pid/cmdline"; echo; ls -l "/proc/$pid/fd/"; } 2>/dev/null | grep -F "$DIR/" >/dev/null; then
		say "stopping pid $pid left over from an earlier run"
		kill_tree "$pid" 5
	fi
}
if [ -e "$DIR/.postern-bench-scan" ]; then
	for p in "$DIR"/*/pid; do stale_stop "$p"; done
fi

for p in "$DNS_PORT" "$RS_PORT" "$RS_CTL_PORT" "$SA_PORT"; do
	if "$PY" "$LIB" wait-port 127.0.0.1 "$p" 0.3; then
		die "127.0.0.1:$p is already in use (set BENCH_SCAN_PORT_BASE)"
	fi
done

UNBOUND_PID=""
RSPAMD_PID=""
SPAMD_PID=""
cleanup() {
	[ -n "$SPAMD_PID" ] && kill_tree "$SPAMD_PID" 20
	[ -n "$RSPAMD_PID" ] && kill_tree "$RSPAMD_PID" 20
	[ -n "$UNBOUND_PID" ] && kill_tree "$UNBOUND_PID" 5
	SPAMD_PID="" RSPAMD_PID="" UNBOUND_PID=""
}
trap cleanup EXIT
trap 'say "interrupted"; exit 1' INT TERM HUP

rm -rf "$DIR"
mkdir -p "$DIR/dns" "$DIR/results" || die "cannot create $DIR"
touch "$DIR/.postern-bench-scan"
RES="$DIR/results"

# ------------------------------------------------------------ messages
LIST="$DIR/messages.tsv"
sel=$("$PY" "$LIB" select --ham "$CORPUS/ham" --spam "$CORPUS/spam" --limit "$LIMIT" --out "$LIST") ||
	die "cannot list the corpus"
declare -A M
while IFS='=' read -r k v; do [ -n "$k" ] && M[$k]=$v; done <<<"$sel"
N=${M[messages]}
[ "$N" -ge 1 ] || die "no messages selected"
# read every file once so that no tool pays for a cold page cache
cut -f2 "$LIST" | tr '\n' '\0' | xargs -0 cat >/dev/null 2>&1
say "$N messages (${M[ham]} ham, ${M[spam]} spam, ${M[octets]} octets) from $CORPUS"
say "tools: $TOOLS; $NETNS_NOTE; scratch dir $DIR"

# ------------------------------------------------------------ DNS
# Spamhaus test points, plus a few items that occur in the corpus's spam
# (and in no ham message) listed with the documented return codes, so each
# tool's hit path runs and shows in its results (a listed domain's host
# names are listed too: SpamAssassin 4 asks the DBL for the full host name
# only).  Everything else: NXDOMAIN.
cat >"$DIR/dns/unbound.conf" <<EOF
server:
    interface: 127.0.0.1
    port: $DNS_PORT
    do-ip6: no
    do-daemonize: no
    username: ""
    chroot: ""
    directory: "$DIR/dns"
    pidfile: "$DIR/dns/pid"
    logfile: "$DIR/dns/unbound.log"
    use-syslog: no
    verbosity: 1
    num-threads: 1
    # a burst of questions waits in the buffer instead of being dropped
    # (and asked again a quarter of a second or more later)
    so-rcvbuf: 4m
    access-control: 127.0.0.0/8 allow
    do-not-query-address: 0.0.0.0/0
    do-not-query-address: ::/0
    do-not-query-localhost: yes
    local-zone: "." static
    local-data: ". 300 IN SOA ns.bench.test. hostmaster.bench.test. 1 3600 600 86400 300"
    local-zone: "zen.spamhaus.org." static
    local-data: "zen.spamhaus.org. 300 IN SOA ns.bench.test. hostmaster.bench.test. 1 3600 600 86400 300"
    local-data: "2.0.0.127.zen.spamhaus.org. 300 IN A 127.0.0.2"
    local-data: "2.0.0.127.zen.spamhaus.org. 300 IN A 127.0.0.4"
    local-data: "2.0.0.127.zen.spamhaus.org. 300 IN A 127.0.0.10"
    local-data: "66.159.217.65.zen.spamhaus.org. 300 IN A 127.0.0.2"
    local-data: "103.159.217.65.zen.spamhaus.org. 300 IN A 127.0.0.2"
    local-zone: "dbl.spamhaus.org." static
    local-data: "dbl.spamhaus.org. 300 IN SOA ns.bench.test. hostmaster.bench.test. 1 3600 600 86400 300"
    local-data: "dbltest.com.dbl.spamhaus.org. 300 IN A 127.0.1.2"
    local-zone: "insuranceiq.com.dbl.spamhaus.org." redirect
    local-data: "insuranceiq.com.dbl.spamhaus.org. 300 IN A 127.0.1.2"
    local-zone: "sendgreatoffers.com.dbl.spamhaus.org." redirect
    local-data: "sendgreatoffers.com.dbl.spamhaus.org. 300 IN A 127.0.1.2"
    local-zone: "admanmail.com.dbl.spamhaus.org." redirect
    local-data: "admanmail.com.dbl.spamhaus.org. 300 IN A 127.0.1.2"
    local-zone: "adclick.ws.dbl.spamhaus.org." redirect
    local-data: "adclick.ws.dbl.spamhaus.org. 300 IN A 127.0.1.2"
    local-zone: "btamail.net.cn.dbl.spamhaus.org." redirect
    local-data: "btamail.net.cn.dbl.spamhaus.org. 300 IN A 127.0.1.4"
remote-control:
    control-enable: yes
    control-interface: "$DIR/dns/control.sock"
    control-use-cert: no
EOF
/usr/sbin/unbound -d -c "$DIR/dns/unbound.conf" >"$DIR/dns/stderr.log" 2>&1 &
UNBOUND_PID=$!
dns_ok=0
for _ in $(seq 40); do
	if "$PY" "$LIB" dns-check "$DNS_PORT" insuranceiq.com.dbl.spamhaus.org 0.5 2>/dev/null | grep -x 'answers=127.0.1.2' >/dev/null; then
		dns_ok=1
		break
	fi
	kill -0 "$UNBOUND_PID" 2>/dev/null || break
	sleep 0.25
done
[ "$dns_ok" = 1 ] || die "the private unbound on 127.0.0.1:$DNS_PORT does not answer (see $DIR/dns/)"
"$PY" "$LIB" dns-check "$DNS_PORT" example.com 1 2>/dev/null | grep -x 'rcode=3' >/dev/null ||
	die "the private unbound does not answer NXDOMAIN for example.com"

dns_queries() {
	timeout 10 /usr/sbin/unbound-control -c "$DIR/dns/unbound.conf" stats_noreset 2>/dev/null |
		awk -F= '$1 == "total.num.queries" { print $2 }'
}

# measure TOOL VERSION CONCURRENCY SCANBENCH-ARGS...: one timed run through
# scanbench.py (run or spamc); its key=value lines, the version, the
# concurrency and the DNS queries answered meanwhile go to $RES/TOOL.kv
measure() {
	local tool=$1 version=$2 conc=$3
	shift 3
	local q0 q1 out
	q0=$(dns_queries)
	out=$("$PY" "$LIB" "$@")
	q1=$(dns_queries)
	{
		echo "$out"
		echo "version=$version"
		echo "concurrency=$conc"
		[ -n "$q0" ] && [ -n "$q1" ] && echo "dns_queries=$((q1 - q0))"
	} >"$RES/$tool.kv"
	say "$tool: $(grep -E '^(seconds|rc|timed_out)=' "$RES/$tool.kv" | tr '\n' ' ')"
}

# ------------------------------------------------------------ postern
postern_bench() {
	local d="$DIR/postern" v out
	mkdir -p "$d/var"
	cat >"$d/postern.conf" <<EOF
# bench/scan.sh: postern scan with its lookups answered by the private unbound
domains = example.test
data_dir = $d/var
dns_servers = 127.0.0.1:$DNS_PORT
dnsbl_timeout = 2s
EOF
	if ! v=$(timeout 10 "$POSTERN" --version 2>&1); then
		loud "postern: '$POSTERN --version' failed: $v"
		return 1
	fi
	v=$(printf '%s' "$v" | head -n 1 | awk '{print $NF}')
	if ! out=$(timeout 60 "$POSTERN" check-config -c "$d/postern.conf" 2>&1); then
		loud "postern: check-config failed: $out"
		return 1
	fi
	# untimed warm-up (binary and libraries in the page cache)
	head -n 16 "$LIST" >"$d/warmup.tsv"
	"$PY" "$LIB" run --list "$d/warmup.tsv" --out "$d/warmup.out" --timeout 60 -- \
		"$POSTERN" scan -c "$d/postern.conf" --json >/dev/null
	say "postern $v: scanning"
	measure postern "$v" "64 in flight, 1 process" \
		run --list "$LIST" --out "$RES/postern.out" --timeout $((60 + N / 10)) -- \
		"$POSTERN" scan -c "$d/postern.conf" --json
}

# ------------------------------------------------------------ rspamd
rspamd_bench() {
	local d="$DIR/rspamd" v i ready hs=0 loaded
	mkdir -p "$d/local.d" "$d/override.d" "$d/db" "$d/run" "$d/log"
	v=$(/usr/bin/rspamd --version 2>/dev/null | awk '/version/ {print $NF; exit}')
	# the stock configuration, listeners moved to our loopback ports
	sed -e "s/localhost:11333/127.0.0.1:$RS_PORT/" \
		-e "s/localhost:11334/127.0.0.1:$RS_CTL_PORT/" \
		-e "s/localhost:11332/127.0.0.1:$((PORT_BASE + 4))/" \
		-e "s/localhost:11335/127.0.0.1:$((PORT_BASE + 5))/" \
		/etc/rspamd/rspamd.conf >"$d/rspamd.conf"
	cat >"$d/local.d/options.inc" <<EOF
dns {
  nameserver = ["127.0.0.1:$DNS_PORT"];
}
EOF
	echo "count = $RS_WORKERS;" >"$d/local.d/worker-normal.inc"
	echo "count = 0;" >"$d/override.d/worker-proxy.inc"
	# the fuzzy servers are on the Internet; nothing else is changed
	echo "enabled = false;" >"$d/local.d/fuzzy_check.conf"
	# rspamc sends no client IP, so rspamd would see 127.0.0.1 and skip
	# every RBL/DBL rule (and more) for a "local" message: take the sender
	# IP from the first non-local Received hop instead, as rspamd does
	# behind a local relay (postern and SpamAssassin walk the chain alike)
	cat >"$d/local.d/external_relay.conf" <<EOF
enabled = true;
rules {
  BENCH_FIRST_EXTERNAL_HOP {
    strategy = "local";
  }
}
EOF
	echo 'level = "info";' >"$d/local.d/logging.inc"
	/usr/bin/rspamd -f -i -c "$d/rspamd.conf" -p "$d/pid" \
		--var "LOCAL_CONFDIR=$d" --var "DBDIR=$d/db" --var "RUNDIR=$d/run" --var "LOGDIR=$d/log" \
		>"$d/stdout.log" 2>&1 &
	RSPAMD_PID=$!
	echo "$RSPAMD_PID" >"$d/pid"
	say "rspamd $v: starting (pid $RSPAMD_PID; compiling its rules can take minutes)"
	if ! "$PY" "$LIB" wait-port 127.0.0.1 "$RS_PORT" "$RS_WARMUP"; then
		loud "rspamd: nothing listens on 127.0.0.1:$RS_PORT after $RS_WARMUP s; log: $(tail -n 5 "$d/log/rspamd.log" 2>/dev/null)"
		return 1
	fi
	# with hyperscan, workers scan with PCRE until hs_helper has compiled
	# the database: wait until every normal worker has loaded it
	if ldd /usr/bin/rspamd 2>/dev/null | grep -q 'libhs\.so'; then
		hs=1
		ready=0
		for i in $(seq $((RS_WARMUP * 2))); do
			loaded=$(grep -E '\(normal\).*hyperscan database of [0-9]+ regexps has been loaded' \
				"$d/log/rspamd.log" 2>/dev/null | sed -E 's/^[^#]*#([0-9]+).*/\1/' | sort -u | wc -l)
			if [ "$loaded" -ge "$RS_WORKERS" ]; then
				ready=1
				break
			fi
			kill -0 "$RSPAMD_PID" 2>/dev/null || break
			sleep 0.5
		done
		if [ "$ready" != 1 ]; then
			loud "rspamd: its workers did not load the hyperscan database within $RS_WARMUP s (measured anyway)"
		fi
	fi
	# untimed warm-up
	head -n 32 "$LIST" >"$d/warmup.tsv"
	"$PY" "$LIB" run --list "$d/warmup.tsv" --out "$d/warmup.out" --timeout 120 -- \
		/usr/bin/rspamc -h "127.0.0.1:$RS_PORT" -n "$CONC" -t 60 >/dev/null
	say "rspamd $v: scanning ($RS_WORKERS workers$([ $hs = 1 ] && echo ', hyperscan loaded'))"
	measure rspamd "$v" "rspamc -n $CONC, $RS_WORKERS workers" \
		run --list "$LIST" --out "$RES/rspamd.out" --timeout $((120 + N / 2)) --tree-pid "$RSPAMD_PID" -- \
		/usr/bin/rspamc -h "127.0.0.1:$RS_PORT" -n "$CONC" -t 60
	kill_tree "$RSPAMD_PID" 20
	RSPAMD_PID=""
}

# ------------------------------------------------------------ SpamAssassin
spamassassin_bench() {
	local d="$DIR/spamassassin" v i mode local_flag=() children
	mkdir -p "$d/site" "$d/home"
	chmod 755 "$d" "$d/site"
	chown nobody "$d/home" 2>/dev/null
	v=$(/usr/sbin/spamd --version 2>/dev/null | awk '/version/ {print $NF; exit}')
	# the stock site configuration (plug-in list and Debian's rules) plus:
	# DNS to the private unbound; no Razor/Pyzor (network services, not
	# installed); no Bayes (empty database, and learning would change the
	# results from one message to the next) - both make SpamAssassin faster
	cp /etc/spamassassin/*.pre /etc/spamassassin/*.cf "$d/site/"
	cat >>"$d/site/local.cf" <<EOF

# bench/scan.sh
dns_server 127.0.0.1:$DNS_PORT
dns_available yes
use_razor2 0
use_pyzor 0
use_bayes 0
bayes_auto_learn 0
EOF
	mode="network tests on, DNS via the private unbound"
	if [ "${BENCH_SCAN_SA_LOCAL:-0}" = 1 ]; then
		local_flag=(-L)
		mode="local tests only (-L)"
	fi
	/usr/sbin/spamd -C /usr/share/spamassassin --siteconfigpath="$d/site" -x "${local_flag[@]}" \
		-u nobody -g nogroup -H "$d/home" -i "127.0.0.1:$SA_PORT" -A 127.0.0.1 \
		-m "$CONC" --min-children="$CONC" --min-spare=1 --max-spare="$CONC" \
		-r "$d/spamd.pid" -s "$d/spamd.log" >"$d/stderr.log" 2>&1 &
	SPAMD_PID=$!
	echo "$SPAMD_PID" >"$d/pid"
	say "SpamAssassin $v: starting spamd (pid $SPAMD_PID, $mode)"
	if ! "$PY" "$LIB" wait-port 127.0.0.1 "$SA_PORT" 180; then
		loud "spamd: nothing listens on 127.0.0.1:$SA_PORT after 180 s: $(tail -n 5 "$d/stderr.log")"
		return 1
	fi
	# let the children be forked before measuring (bounded)
	for i in $(seq 120); do
		children=$(pgrep -P "$SPAMD_PID" 2>/dev/null | wc -l)
		[ "$children" -ge "$CONC" ] && break
		sleep 0.5
	done
	head -n $((CONC * 2)) "$LIST" >"$d/warmup.tsv"
	"$PY" "$LIB" spamc --list "$d/warmup.tsv" --out "$d/warmup.out" --timeout 300 \
		--concurrency "$CONC" --port "$SA_PORT" >/dev/null
	say "SpamAssassin $v: scanning ($CONC spamc at a time, $(pgrep -P "$SPAMD_PID" 2>/dev/null | wc -l) spamd children)"
	measure spamassassin "$v" "$CONC spamc, $CONC children; ${mode%%,*}" \
		spamc --list "$LIST" --out "$RES/spamassassin.out" --timeout $((300 + N)) \
		--concurrency "$CONC" --port "$SA_PORT" --tree-pid "$SPAMD_PID"
	kill_tree "$SPAMD_PID" 20
	SPAMD_PID=""
}

for t in $TOOLS; do
	"${t}_bench"
done

# ------------------------------------------------------------ report
"$PY" "$LIB" report --list "$LIST" --dir "$RES" --tools "$TOOLS" | tee "$DIR/report.txt"
rc=${PIPESTATUS[0]}
[ "$rc" = 0 ] || FAILED=1
echo
echo "msgs/s and MB/s: messages (and their octets, MB = 10^6) / wall time of the"
echo "client run (postern scan: the whole process; rspamc; the spamc pool), with"
echo "the servers already started and warmed up.  CPU s: user+sys of the client"
echo "processes and of the server's process tree during the run (the private"
echo "unbound not included).  DNS q/msg: queries the private unbound answered."
echo "Network: $NETNS_NOTE."
if [ "$FAILED" != 0 ]; then
	for e in "${ERRORS[@]}"; do echo "scan bench: ERROR: $e"; done
	echo "scan bench: FAILED (logs in $DIR)"
	exit 1
fi
echo "scan bench: ok (logs and raw results in $DIR)"
exit 0
