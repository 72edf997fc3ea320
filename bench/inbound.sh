#!/bin/bash
# Inbound SMTP benchmark: postern against Postfix, same machine, same run.
# See bench/README.md.  Run by `make bench` (after building build/postern).
#
# Environment (all optional):
#   BENCH_MESSAGES  messages per server              (default 20000)
#   BENCH_SESSIONS  parallel smtp-source sessions    (default 20)
#   BENCH_SIZE      message payload in octets, K/M suffix allowed (default 5K)
#   BENCH_IDLE      idle sessions for the RSS-per-session test (default 1000)
#   BENCH_DIR       scratch directory, wiped first   (default /tmp/postern-bench)
#   BENCH_POSTFIX_PORT / BENCH_POSTERN_PORT / BENCH_DNS_PORT (2626/2627/2653)
#   BENCH_KEEP=1    keep the delivered mail and queues after the run
#   BENCH_SKIP_POSTFIX=1 / BENCH_SKIP_POSTERN=1  run one side only
#   POSTERN_BIN     server binary                    (default build/postern)
#
# Only loopback addresses are used.  Every wait is bounded in time.
# Exit status: 0 when both servers delivered every message, 1 otherwise.

set -u
umask 022
cd "$(dirname "$0")/.." || exit 1
ROOT=$(pwd)

PY=/usr/bin/python3
LIB="$ROOT/bench/benchlib.py"
SMTP_SOURCE=/usr/sbin/smtp-source

MESSAGES=${BENCH_MESSAGES:-20000}
SESSIONS=${BENCH_SESSIONS:-20}
SIZE_RAW=${BENCH_SIZE:-5K}
IDLE=${BENCH_IDLE:-1000}
DIR=${BENCH_DIR:-/tmp/postern-bench}
PF_PORT=${BENCH_POSTFIX_PORT:-2626}
PN_PORT=${BENCH_POSTERN_PORT:-2627}
DNS_PORT=${BENCH_DNS_PORT:-2653}
POSTERN=${POSTERN_BIN:-$ROOT/build/postern}
case "$POSTERN" in /*) ;; *) POSTERN="$ROOT/$POSTERN" ;; esac

FAILED=0
ERRORS=()
say() { printf 'bench: %s\n' "$*"; }
loud() {
	ERRORS+=("$1")
	printf '\n' >&2
	printf 'bench: ********************************************************\n' >&2
	printf 'bench: ERROR: %s\n' "$@" >&2
	printf 'bench: ********************************************************\n' >&2
	FAILED=1
}
die() { loud "$@"; exit 1; }

# ------------------------------------------------------------ parameters
SIZE=${SIZE_RAW%[kKmM]}
case "$SIZE" in '' | *[!0-9]*) die "BENCH_SIZE must be octets with an optional K or M suffix (got '$SIZE_RAW')" ;; esac
case "$SIZE_RAW" in
*[kK]) SIZE=$(( SIZE * 1024 )) ;;
*[mM]) SIZE=$(( SIZE * 1024 * 1024 )) ;;
esac
for v in MESSAGES SESSIONS SIZE IDLE PF_PORT PN_PORT DNS_PORT; do
	case "${!v}" in '' | *[!0-9]*) die "$v must be a number (got '${!v}')" ;; esac
done
[ "$MESSAGES" -ge 1 ] && [ "$SESSIONS" -ge 1 ] || die "BENCH_MESSAGES and BENCH_SESSIONS must be >= 1"
# time bounds: smtp-source must sustain >= 10 msg/s, delivery >= 20 msg/s more
SEND_TIMEOUT=$(( 120 + MESSAGES / 10 ))
DELIVER_TIMEOUT=$(( 60 + MESSAGES / 20 ))

[ "$(id -u)" = 0 ] || die "must run as root (Postfix's master and the virtual delivery agent need it)"
for f in "$PY" "$SMTP_SOURCE" /usr/sbin/postfix /usr/sbin/postmap /usr/sbin/unbound; do
	[ -x "$f" ] || die "$f missing: run scripts/deps (make deps)"
done
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

# the scratch directory is wiped: refuse anything that is not ours
[ ! -e "$DIR" ] || [ -e "$DIR/.postern-bench" ] ||
	die "BENCH_DIR=$DIR exists and is not a bench directory (no .postern-bench): remove it or pick another"

# leftovers of an earlier run that was killed: stop them by their pid files
# (only processes whose command line names this scratch directory)
stale_stop() { # PIDFILE
	local pid
	[ -r "$1" ] || return 0
	pid=$(tr -d ' \n' 2>/dev/null <"$1") || return 0
	case "$pid" in '' | *[!0-9]*) return 0 ;; esac
	if tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline" | grep -qF "$DIR/"; then
		echo "bench: stopping pid $pid left over from an earlier run" >&2
		kill -TERM "$pid" 2>/dev/null
		sleep 2
		kill -KILL "$pid" 2>/dev/null
	fi
}
if [ -e "$DIR/.postern-bench" ]; then
	if [ -e "$DIR/postfix/queue/pid/master.pid" ]; then
		/usr/sbin/postfix -c "$DIR/postfix/etc" stop >/dev/null 2>&1 && sleep 3
	fi
	stale_stop "$DIR/postern/serve.pid"
	stale_stop "$DIR/dns/unbound.pid"
fi

for p in "$PF_PORT" "$PN_PORT" "$DNS_PORT"; do
	if "$PY" "$LIB" wait-port 127.0.0.1 "$p" 0.3; then
		die "127.0.0.1:$p is already in use (set BENCH_*_PORT)"
	fi
done

# ------------------------------------------------------------ cleanup
UNBOUND_PID=""
POSTERN_PID=""
PF_STARTED=0
PFDIR="$DIR/postfix"
PNDIR="$DIR/postern"

kill_wait() { # PID SECONDS: SIGTERM, wait, then SIGKILL; returns exit status if our child
	local pid=$1 secs=$2 i=0
	kill -TERM "$pid" 2>/dev/null || return 0
	while kill -0 "$pid" 2>/dev/null && [ $i -lt $(( secs * 10 )) ]; do
		sleep 0.1
		i=$(( i + 1 ))
	done
	if kill -0 "$pid" 2>/dev/null; then
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
		return 137
	fi
	wait "$pid" 2>/dev/null
}

postfix_master_pid() {
	tr -d ' \n' 2>/dev/null <"$PFDIR/queue/pid/master.pid"
}

postfix_stop() {
	[ "$PF_STARTED" = 1 ] || return 0
	local mpid i=0
	mpid=$(postfix_master_pid)
	/usr/sbin/postfix -c "$PFDIR/etc" stop >/dev/null 2>&1
	while [ -n "$mpid" ] && kill -0 "$mpid" 2>/dev/null && [ $i -lt 300 ]; do
		sleep 0.1
		i=$(( i + 1 ))
	done
	if [ -n "$mpid" ] && kill -0 "$mpid" 2>/dev/null; then
		say "Postfix master $mpid did not stop in 30 s: killing it"
		/usr/sbin/postfix -c "$PFDIR/etc" abort >/dev/null 2>&1
		kill -KILL "$mpid" 2>/dev/null
	fi
	PF_STARTED=0
}

cleanup() {
	[ -n "$POSTERN_PID" ] && kill_wait "$POSTERN_PID" 10
	POSTERN_PID=""
	postfix_stop
	[ -n "$UNBOUND_PID" ] && kill_wait "$UNBOUND_PID" 5
	UNBOUND_PID=""
	if [ "${BENCH_KEEP:-0}" != 1 ] && [ -d "$DIR" ]; then
		rm -rf "$PFDIR/mail" "$PFDIR/queue" "$PNDIR/var/mail" "$PNDIR/var/queue" 2>/dev/null
	fi
}
trap cleanup EXIT
trap 'say "interrupted"; exit 1' INT TERM

rm -rf "$DIR"
mkdir -p "$DIR" "$PFDIR" "$PNDIR" "$DIR/dns" || die "cannot create $DIR"
chmod 755 "$DIR"
touch "$DIR/.postern-bench"

say "$MESSAGES messages of $SIZE octets over $SESSIONS parallel sessions per server; scratch dir $DIR"
LOAD_START=$(cut -d' ' -f1 /proc/loadavg)

# ------------------------------------------------------------ DNS
# postern looks up every client IP, HELO, sender domain and PTR in the
# Spamhaus zones.  This machine has no network, and a real deployment would
# resolve them remotely, so a private unbound on loopback answers instead:
# the Spamhaus test points are listed, everything else is NXDOMAIN, and it
# never queries any other server.
cat >"$DIR/dns/unbound.conf" <<EOF
server:
    interface: 127.0.0.1
    port: $DNS_PORT
    do-ip6: no
    do-daemonize: no
    username: ""
    chroot: ""
    directory: "$DIR/dns"
    pidfile: "$DIR/dns/unbound.pid"
    logfile: "$DIR/dns/unbound.log"
    use-syslog: no
    verbosity: 1
    num-threads: 1
    access-control: 127.0.0.0/8 allow
    do-not-query-address: 0.0.0.0/0
    do-not-query-address: ::/0
    do-not-query-localhost: yes
    local-zone: "." static
    local-data: "2.0.0.127.zen.spamhaus.org. 300 IN A 127.0.0.2"
    local-data: "2.0.0.127.zen.spamhaus.org. 300 IN A 127.0.0.4"
    local-data: "2.0.0.127.zen.spamhaus.org. 300 IN A 127.0.0.10"
    local-data: "dbltest.com.dbl.spamhaus.org. 300 IN A 127.0.1.2"
remote-control:
    control-enable: yes
    control-interface: "$DIR/dns/control.sock"
    control-use-cert: no
EOF
/usr/sbin/unbound -c "$DIR/dns/unbound.conf" >"$DIR/dns/stderr.log" 2>&1 &
UNBOUND_PID=$!
dns_ok=0
for _ in 1 2 3 4 5 6 7 8 9 10; do
	if "$PY" "$LIB" dns-check "$DNS_PORT" 2.0.0.127.zen.spamhaus.org 1 2>/dev/null | grep -q 'answers=127.0.0.2'; then
		dns_ok=1
		break
	fi
	kill -0 "$UNBOUND_PID" 2>/dev/null || break
	sleep 0.5
done
[ "$dns_ok" = 1 ] || die "local unbound on 127.0.0.1:$DNS_PORT did not answer (see $DIR/dns/)"

dns_queries() { # total queries the local unbound has answered so far
	timeout 10 /usr/sbin/unbound-control -c "$DIR/dns/unbound.conf" stats_noreset 2>/dev/null |
		awk -F= '$1 == "total.num.queries" { print $2 }'
}

# ------------------------------------------------------------ results
declare -A R
R[pf_version]=$(/usr/sbin/postconf -d -h mail_version 2>/dev/null)
R[pn_version]=""

run_load() { # PREFIX ROOT_PID PORT MAILDIR...
	local prefix=$1 rootpid=$2 port=$3
	shift 3
	local args=() d out
	for d in "$@"; do args+=(--maildir "$d"); done
	out=$("$PY" "$LIB" load --root-pid "$rootpid" "${args[@]}" --count "$MESSAGES" \
		--send-timeout "$SEND_TIMEOUT" --deliver-timeout "$DELIVER_TIMEOUT" \
		--log "$DIR/$prefix-smtp-source.log" -- \
		"$SMTP_SOURCE" -s "$SESSIONS" -m "$MESSAGES" -l "$SIZE" -M client.bench.test \
		-S "postern bench" -f sender@bench.test -t user@bench.test "127.0.0.1:$port")
	echo "$out" >"$DIR/$prefix-load.txt"
	local k v
	while IFS='=' read -r k v; do
		[ -n "$k" ] && R[${prefix}_$k]=$v
	done <<<"$out"
}

check_load() { # PREFIX NAME
	local p=$1 name=$2
	local rc=${R[${p}_smtp_source_rc]:-none} dl=${R[${p}_delivered]:-0}
	if [ "$rc" != 0 ]; then
		loud "$name: smtp-source failed (status $rc); its output:" \
			"$(tail -n 5 "$DIR/$p-smtp-source.log" 2>/dev/null)"
	fi
	if [ "$dl" != "$MESSAGES" ]; then
		loud "$name: $dl messages delivered, $MESSAGES sent: the counts differ"
	fi
	if [ -z "${R[${p}_deliver_seconds]:-}" ] && [ "$rc" = 0 ]; then
		loud "$name: stopped waiting for delivery (${R[${p}_deliver_wait_end]:-?}) with $dl of $MESSAGES in the Maildir"
	fi
}

# ------------------------------------------------------------ Postfix
postfix_bench() {
	mkdir -p "$PFDIR/etc" "$PFDIR/queue" "$PFDIR/data" "$PFDIR/mail"
	chown postfix "$PFDIR/data"
	chown 65534:65534 "$PFDIR/mail" # virtual delivery runs as nobody
	cat >"$PFDIR/etc/main.cf" <<EOF
# private Postfix instance for bench/inbound.sh; Postfix defaults otherwise
# (fsync on, in_flow_delay, queue manager concurrency).
compatibility_level = 3.6
config_directory = $PFDIR/etc
queue_directory = $PFDIR/queue
data_directory = $PFDIR/data
meta_directory = /etc/postfix
maillog_file = $PFDIR/maillog
maillog_file_prefixes = $DIR
myhostname = bench.local
mydomain = bench.local
myorigin = bench.local
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
alias_maps =
alias_database =
local_recipient_maps =
virtual_mailbox_domains = bench.test
virtual_mailbox_base = $PFDIR/mail
virtual_mailbox_maps = hash:$PFDIR/etc/vmailbox
virtual_uid_maps = static:65534
virtual_gid_maps = static:65534
# no DNS at all (this machine has no resolver it may use)
smtp_host_lookup = native
smtp_dns_support_level = disabled
disable_dns_lookups = yes
default_process_limit = 100
smtpd_client_connection_count_limit = 2000
biff = no
EOF
	cat >"$PFDIR/etc/master.cf" <<EOF
127.0.0.1:$PF_PORT inet n - n - - smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
virtual   unix  -       n       n       -       -       virtual
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
EOF
	echo "user@bench.test bench.test/user/" >"$PFDIR/etc/vmailbox"
	/usr/sbin/postmap -c "$PFDIR/etc" "hash:$PFDIR/etc/vmailbox" ||
		{ loud "Postfix: postmap failed"; return 1; }
	if ! /usr/sbin/postfix -c "$PFDIR/etc" check >"$PFDIR/check.log" 2>&1; then
		loud "Postfix: 'postfix check' failed:" "$(cat "$PFDIR/check.log" "$PFDIR/maillog" 2>/dev/null | tail -n 5)"
		return 1
	fi
	if ! /usr/sbin/postfix -c "$PFDIR/etc" start >"$PFDIR/start.log" 2>&1; then
		loud "Postfix: 'postfix start' failed:" "$(cat "$PFDIR/start.log" "$PFDIR/maillog" 2>/dev/null | tail -n 5)"
		return 1
	fi
	PF_STARTED=1
	if ! "$PY" "$LIB" wait-port 127.0.0.1 "$PF_PORT" 30; then
		loud "Postfix: nothing listens on 127.0.0.1:$PF_PORT after 30 s"
		return 1
	fi
	local mpid
	mpid=$(postfix_master_pid)
	[ -n "$mpid" ] || { loud "Postfix: no master.pid"; return 1; }
	say "Postfix ${R[pf_version]}: master pid $mpid, 127.0.0.1:$PF_PORT, Maildir $PFDIR/mail/bench.test/user/new"
	run_load pf "$mpid" "$PF_PORT" "$PFDIR/mail/bench.test/user/new"
	postfix_stop
	check_load pf Postfix
}

# ------------------------------------------------------------ postern
PN_CONF="$PNDIR/postern.conf"
PN_MAILDIR="$PNDIR/var/mail/bench.test/user"

postern_start() { # LOGSUFFIX
	"$POSTERN" serve -c "$PN_CONF" >"$PNDIR/stderr-$1.log" 2>&1 &
	POSTERN_PID=$!
	echo "$POSTERN_PID" >"$PNDIR/serve.pid"
	if ! "$PY" "$LIB" wait-port 127.0.0.1 "$PN_PORT" 30; then
		loud "postern: nothing listens on 127.0.0.1:$PN_PORT after 30 s; stderr:" \
			"$(tail -n 10 "$PNDIR/stderr-$1.log")"
		kill_wait "$POSTERN_PID" 5
		POSTERN_PID=""
		return 1
	fi
	# the start-up relay self-test and DNS test-point checks run now: let
	# them finish so they are not part of the measurement
	sleep 2
	if ! kill -0 "$POSTERN_PID" 2>/dev/null; then
		loud "postern exited right after start; stderr:" "$(tail -n 10 "$PNDIR/stderr-$1.log")"
		POSTERN_PID=""
		return 1
	fi
}

postern_stop() { # NAME
	[ -n "$POSTERN_PID" ] || return 0
	kill_wait "$POSTERN_PID" 30
	local rc=$?
	POSTERN_PID=""
	if [ "$rc" != 0 ]; then
		loud "postern ($1): exit status $rc after SIGTERM (expected 0)"
	fi
}

postern_bench() {
	if [ ! -x "$POSTERN" ]; then
		loud "postern: $POSTERN does not exist (did 'make' succeed?)"
		return 1
	fi
	local v
	if ! v=$(timeout 10 "$POSTERN" --version 2>&1); then
		loud "postern: '$POSTERN --version' failed: $v"
		return 1
	fi
	R[pn_version]=$(printf '%s' "$v" | head -n 1)
	mkdir -p "$PNDIR/var"
	cat >"$PN_CONF" <<EOF
# postern configuration for bench/inbound.sh: all checks on (DNSBL, DBL,
# content scan), DNS answered by the private unbound on 127.0.0.1:$DNS_PORT.
hostname = bench.local
domains = bench.test
data_dir = $PNDIR/var
listen_smtp = 127.0.0.1:$PN_PORT
listen_submission = off
listen_submissions = off
dns_servers = 127.0.0.1:$DNS_PORT
max_connections = $(( IDLE + SESSIONS + 1000 ))
max_connections_per_ip = $(( IDLE + SESSIONS + 1000 ))
EOF
	local out
	if ! out=$(timeout 60 "$POSTERN" check-config -c "$PN_CONF" 2>&1); then
		loud "postern: check-config failed:" "$out"
		return 1
	fi
	local pw
	pw="Bench-$(head -c 18 /dev/urandom | base64 | tr -d '/+=')-Zq9"
	if ! out=$(printf '%s\n' "$pw" | timeout 60 "$POSTERN" user add user@bench.test -c "$PN_CONF" --password-stdin 2>&1); then
		loud "postern: 'user add user@bench.test' failed:" "$out"
		return 1
	fi
	postern_start load || return 1
	say "${R[pn_version]}: pid $POSTERN_PID, 127.0.0.1:$PN_PORT, Maildir $PN_MAILDIR/new"
	local q0 q1
	q0=$(dns_queries)
	run_load pn "$POSTERN_PID" "$PN_PORT" "$PN_MAILDIR/new" "$PN_MAILDIR/.Junk/new"
	q1=$(dns_queries)
	[ -n "$q0" ] && [ -n "$q1" ] && R[pn_dns_queries]=$(( q1 - q0 ))
	postern_stop load
	check_load pn postern
	local junk
	junk=$(find "$PN_MAILDIR/.Junk/new" -maxdepth 1 -type f 2>/dev/null | wc -l)
	R[pn_junk]=$junk
	if [ "$junk" != 0 ]; then
		loud "postern filed $junk of the benchmark messages in .Junk (counted as delivered)"
	fi

	# RSS per idle session, on a fresh process so the load run's heap does
	# not hide it
	if [ "$IDLE" -gt 0 ]; then
		postern_start idle || return 1
		say "postern: opening $IDLE idle sessions"
		out=$("$PY" "$LIB" idle --host 127.0.0.1 --port "$PN_PORT" --count "$IDLE" \
			--pid "$POSTERN_PID" --timeout 120)
		echo "$out" >"$DIR/pn-idle.txt"
		local k val
		while IFS='=' read -r k val; do
			[ -n "$k" ] && R[idle_$k]=$val
		done <<<"$out"
		postern_stop idle
		if [ "${R[idle_banners]:-0}" != "$IDLE" ]; then
			loud "postern: only ${R[idle_banners]:-0} of $IDLE idle sessions got a banner" \
				"(connected ${R[idle_connected]:-0}, closed by server ${R[idle_closed_by_server]:-0})"
		fi
	fi
}

if [ "${BENCH_SKIP_POSTFIX:-0}" != 1 ]; then postfix_bench; fi
if [ "${BENCH_SKIP_POSTERN:-0}" != 1 ]; then postern_bench; fi

# ------------------------------------------------------------ report
rate() { # SECONDS -> msgs/s
	if [ -n "${1:-}" ]; then awk -v n="$MESSAGES" -v s="$1" 'BEGIN { if (s > 0) printf "%.0f", n / s; else print "-" }'; else echo "-"; fi
}
mib() { # KiB -> MiB
	if [ -n "${1:-}" ] && [ "${1:-0}" != 0 ]; then awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; else echo "-"; fi
}
ratio() { # postern postfix
	awk -v a="${1:--}" -v b="${2:--}" 'BEGIN { if (a == "-" || b == "-" || b + 0 == 0) print "-"; else printf "%.2fx", a / b }'
}

pf_acc=$(rate "${R[pf_accept_seconds]:-}")
pn_acc=$(rate "${R[pn_accept_seconds]:-}")
pf_del=$(rate "${R[pf_deliver_seconds]:-}")
pn_del=$(rate "${R[pn_deliver_seconds]:-}")
pf_hwm=$(mib "${R[pf_peak_hwm_kib]:-}")
pn_hwm=$(mib "${R[pn_peak_hwm_kib]:-}")
pf_pss=$(mib "${R[pf_peak_pss_kib]:-}")
pn_pss=$(mib "${R[pn_peak_pss_kib]:-}")
[ "${R[pf_delivered]:-}" = "$MESSAGES" ] || pf_del="${pf_del}!"
[ "${R[pn_delivered]:-}" = "$MESSAGES" ] || pn_del="${pn_del}!"

echo
echo "Inbound SMTP: $MESSAGES messages, $SIZE-octet payload, $SESSIONS parallel sessions,"
echo "one message per connection (smtp-source), 127.0.0.1, $(nproc) cores;"
echo "1-minute load average at start $LOAD_START, at end $(cut -d' ' -f1 /proc/loadavg)" \
	"(anything else running on the machine skews the figures)"
echo
printf '%-30s %14s %14s %16s\n' "" "Postfix" "postern" "postern/Postfix"
printf '%-30s %14s %14s %16s\n' "" "${R[pf_version]:--}" "$(printf '%s' "${R[pn_version]:--}" | awk '{print $NF}')" ""
printf '%-30s %14s %14s %16s\n' "accepted msgs/s (higher=better)" "$pf_acc" "$pn_acc" "$(ratio "$pn_acc" "$pf_acc")"
printf '%-30s %14s %14s %16s\n' "delivered msgs/s" "$pf_del" "$pn_del" "$(ratio "${pn_del%!}" "${pf_del%!}")"
printf '%-30s %14s %14s %16s\n' "messages delivered" "${R[pf_delivered]:--}/$MESSAGES" "${R[pn_delivered]:--}/$MESSAGES" ""
printf '%-30s %14s %14s %16s\n' "peak RSS MiB (lower=better)" "$pf_hwm" "$pn_hwm" "$(ratio "$pn_hwm" "$pf_hwm")"
printf '%-30s %14s %14s %16s\n' "peak PSS MiB" "$pf_pss" "$pn_pss" "$(ratio "$pn_pss" "$pf_pss")"
printf '%-30s %14s %14s %16s\n' "server processes (peak)" "${R[pf_peak_procs]:--}" "${R[pn_peak_procs]:--}" ""
echo
echo "accepted  = messages / smtp-source wall time (every message got its 250)."
echo "delivered = messages / time from smtp-source start until all are files in"
echo "            the Maildir new/ directories (polled every 0.1 s)."
echo "peak RSS  = highest, over samples every 0.25 s, of the sum of VmHWM over"
echo "            the server's process tree: for Postfix master and all its"
echo "            children alive at that sample (${R[pf_process_names]:-?});"
echo "            for postern its one process tree (${R[pn_process_names]:-?})."
echo "            Shared pages (libc, libpostfix) are counted once per process."
echo "peak PSS  = same, with Pss from /proc/PID/smaps_rollup (shared pages split)."
echo "Postfix: stock 3.7 settings (fsync on, no content or DNSBL checks), virtual"
echo "Maildir delivery.  postern: default settings, i.e. every check on (its DNS"
echo "lookups answered by a private unbound on 127.0.0.1:$DNS_PORT), Maildir delivery."
if [ -n "${R[pn_dns_queries]:-}" ]; then
	echo "DNS queries received by that unbound during the postern run: ${R[pn_dns_queries]}" \
		"($(awk -v q="${R[pn_dns_queries]}" -v n="$MESSAGES" 'BEGIN { printf "%.3f", q / n }') per message;" \
		"postern may cache answers)."
	if [ "${R[pn_dns_queries]}" = 0 ]; then
		echo "NOTE: postern made no DNS lookups at all: its blocklist checks were not active."
	fi
fi
if [ -n "${R[pn_junk]:-}" ] && [ "${R[pn_junk]}" != 0 ]; then
	echo "postern filed ${R[pn_junk]} messages in .Junk/ (counted as delivered)."
fi
if [ -n "${R[idle_kib_per_session]:-}" ]; then
	verdict="OK, target <= 64 KiB"
	awk -v k="${R[idle_kib_per_session]}" 'BEGIN { exit !(k > 64) }' && {
		verdict="OVER the 64 KiB target"
	}
	echo
	echo "postern idle sessions: ${R[idle_banners]}/$IDLE held (banner read), VmRSS" \
		"$(mib "${R[idle_rss_before_kib]}") -> $(mib "${R[idle_rss_after_kib]}") MiB:" \
		"${R[idle_kib_per_session]} KiB per idle session ($verdict)"
elif [ "${BENCH_SKIP_POSTERN:-0}" != 1 ] && [ "$IDLE" -gt 0 ]; then
	echo
	echo "postern idle sessions: not measured"
fi
echo
if [ "$FAILED" != 0 ]; then
	for e in "${ERRORS[@]}"; do echo "bench: ERROR: $e"; done
	echo "bench: FAILED (details above; logs in $DIR)"
	exit 1
fi
echo "bench: ok (logs in $DIR)"
exit 0
