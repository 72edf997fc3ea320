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
# Spamhaus-checks comparison (issue 3), after the main runs:
#   BENCH_SKIP_DNSBL=1     skip it
#   BENCH_DNSBL_MESSAGES   messages per run (default 5000, at most BENCH_MESSAGES)
#   BENCH_DNSBL_ROUNDS     rounds of (postern on, postern off, Postfix with
#                          RBL checks), order alternating; the figures are
#                          medians over the rounds (default 3)
#   BENCH_DNS53_ADDR       loopback address on which the private unbound also
#                          answers on port 53, for Postfix's libc resolver
#                          (default 127.0.26.53)
#   BENCH_DQS_KEY          the Data Query Service key of the fourth mode,
#                          postern with every Spamhaus zone through DQS
#                          (AuthBL, ZRD, HBL too; SPEC 4.1), served by the
#                          same private unbound (default benchdqskey)
#
# Shared state (issue 14, SPEC 10), after the Spamhaus comparison: postern
# with state_backend = local against state_backend = redis (a private
# redis-server on loopback), the same inbound load:
#   BENCH_SKIP_STATE=1     skip it
#   BENCH_STATE_MESSAGES   messages per run (default 5000, at most BENCH_MESSAGES)
#   BENCH_STATE_ROUNDS     rounds of (local, redis), order alternating; the
#                          figures are medians over the rounds (default 3)
#   BENCH_REDIS_PORT       the private redis-server's port (default 2679)#
# Only loopback addresses are used.  Every wait is bounded in time.
# Exit status: 0 when every server run delivered every message, 1 otherwise.

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
SKIP_DNSBL=${BENCH_SKIP_DNSBL:-0}
DNSBL_MESSAGES=${BENCH_DNSBL_MESSAGES:-5000}
DNSBL_ROUNDS=${BENCH_DNSBL_ROUNDS:-3}
SKIP_STATE=${BENCH_SKIP_STATE:-0}
STATE_MESSAGES=${BENCH_STATE_MESSAGES:-5000}
STATE_ROUNDS=${BENCH_STATE_ROUNDS:-3}
REDIS_PORT=${BENCH_REDIS_PORT:-2679}
REDIS_SERVER=/usr/bin/redis-server
DNS53_ADDR=${BENCH_DNS53_ADDR:-127.0.26.53}
DQS_KEY=${BENCH_DQS_KEY:-benchdqskey}
case "$DQS_KEY" in '' | *[!a-z0-9]*) echo "bench: BENCH_DQS_KEY must be lower-case letters and digits" >&2; exit 1 ;; esac
POSTERN=${POSTERN_BIN:-$ROOT/build/postern}
case "$POSTERN" in /*) ;; *) POSTERN="$ROOT/$POSTERN" ;; esac

FAILED=0
ERRORS=()
BENCH_TAG=bench
# shellcheck source=bench/common.sh
. "$ROOT/bench/common.sh"

# ------------------------------------------------------------ parameters
SIZE=${SIZE_RAW%[kKmM]}
case "$SIZE" in '' | *[!0-9]*) die "BENCH_SIZE must be octets with an optional K or M suffix (got '$SIZE_RAW')" ;; esac
case "$SIZE_RAW" in
*[kK]) SIZE=$(( SIZE * 1024 )) ;;
*[mM]) SIZE=$(( SIZE * 1024 * 1024 )) ;;
esac
for v in MESSAGES SESSIONS SIZE IDLE PF_PORT PN_PORT DNS_PORT DNSBL_MESSAGES DNSBL_ROUNDS; do
	case "${!v}" in '' | *[!0-9]*) die "$v must be a number (got '${!v}')" ;; esac
done
[ "$MESSAGES" -ge 1 ] && [ "$SESSIONS" -ge 1 ] || die "BENCH_MESSAGES and BENCH_SESSIONS must be >= 1"
if [ -z "${BENCH_DNSBL_MESSAGES:-}" ] && [ "$MESSAGES" -lt "$DNSBL_MESSAGES" ]; then
	DNSBL_MESSAGES=$MESSAGES
fi
if [ "$SKIP_DNSBL" != 1 ]; then
	[ "$DNSBL_MESSAGES" -ge 1 ] && [ "$DNSBL_ROUNDS" -ge 1 ] ||
		die "BENCH_DNSBL_MESSAGES and BENCH_DNSBL_ROUNDS must be >= 1 (or set BENCH_SKIP_DNSBL=1)"
	case "$DNS53_ADDR" in
	127.*.*.*) ;;
	*) die "BENCH_DNS53_ADDR must be a 127.x.y.z loopback address (got '$DNS53_ADDR')" ;;
	esac
	[ "$DNS53_ADDR" != 127.0.0.53 ] || die "BENCH_DNS53_ADDR: 127.0.0.53 is systemd-resolved's, pick another"
fi
for v in STATE_MESSAGES STATE_ROUNDS REDIS_PORT; do
	case "${!v}" in '' | *[!0-9]*) die "$v must be a number (got '${!v}')" ;; esac
done
if [ -z "${BENCH_STATE_MESSAGES:-}" ] && [ "$MESSAGES" -lt "$STATE_MESSAGES" ]; then
	STATE_MESSAGES=$MESSAGES
fi
if [ "$SKIP_STATE" != 1 ]; then
	[ "$STATE_MESSAGES" -ge 1 ] && [ "$STATE_ROUNDS" -ge 1 ] ||
		die "BENCH_STATE_MESSAGES and BENCH_STATE_ROUNDS must be >= 1 (or set BENCH_SKIP_STATE=1)"
	[ -x "$REDIS_SERVER" ] || die "$REDIS_SERVER missing: run scripts/deps (or set BENCH_SKIP_STATE=1)"
fi
# time bounds: smtp-source must sustain >= 10 msg/s, delivery >= 20 msg/s more
send_timeout() { echo $(( 120 + $1 / 10 )); }
deliver_timeout() { echo $(( 60 + $1 / 20 )); }

[ "$(id -u)" = 0 ] || die "must run as root (Postfix's master and the virtual delivery agent need it)"
for f in "$PY" "$SMTP_SOURCE" /usr/sbin/postfix /usr/sbin/postmap /usr/sbin/unbound; do
	[ -x "$f" ] || die "$f missing: run scripts/deps (make deps)"
done
if [ "$SKIP_DNSBL" != 1 ]; then
	# Postfix's smtpd resolves through libc, which reads /etc/resolv.conf
	# (port 53 only; RES_OPTIONS/LOCALDOMAIN cannot name a server): its
	# instance runs in a private mount namespace with our own resolv.conf
	command -v unshare >/dev/null 2>&1 && unshare -m --propagation private true 2>/dev/null ||
		die "'unshare -m' does not work here; needed for the Postfix RBL run (or set BENCH_SKIP_DNSBL=1)"
fi
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

# the scratch directory is wiped: refuse anything that is not ours
[ ! -e "$DIR" ] || [ -e "$DIR/.postern-bench" ] ||
	die "BENCH_DIR=$DIR exists and is not a bench directory (no .postern-bench): remove it or pick another"

# leftovers of an earlier run that was killed: stop them by their pid files
# (only processes whose command line names this scratch directory)
if [ -e "$DIR/.postern-bench" ]; then
	for d in "$DIR/postfix" "$DIR/postfix-rbl"; do
		if [ -e "$d/queue/pid/master.pid" ]; then
			/usr/sbin/postfix -c "$d/etc" stop >/dev/null 2>&1 && sleep 3
		fi
	done
	stale_stop "$DIR/postern/serve.pid"
	stale_stop "$DIR/dns/unbound.pid"
	stale_stop "$DIR/redis/redis.pid"
fi

for p in "$PF_PORT" "$PN_PORT" "$DNS_PORT"; do
	if "$PY" "$LIB" wait-port 127.0.0.1 "$p" 0.3; then
		die "127.0.0.1:$p is already in use (set BENCH_*_PORT)"
	fi
done
if [ "$SKIP_STATE" != 1 ] && "$PY" "$LIB" wait-port 127.0.0.1 "$REDIS_PORT" 0.3; then
	die "127.0.0.1:$REDIS_PORT is already in use (set BENCH_REDIS_PORT)"
fi
if [ "$SKIP_DNSBL" != 1 ] && "$PY" "$LIB" wait-port "$DNS53_ADDR" 53 0.3; then
	die "$DNS53_ADDR:53 is already in use (set BENCH_DNS53_ADDR to another 127.x address)"
fi

# ------------------------------------------------------------ cleanup
UNBOUND_PID=""
POSTERN_PID=""
REDIS_PID=""
PF_STARTED=0
PF_MAIN_DIR="$DIR/postfix"
PF_RBL_DIR="$DIR/postfix-rbl"
PFDIR=$PF_MAIN_DIR # the instance started or about to be
PNDIR="$DIR/postern"

cleanup() {
	[ -n "$POSTERN_PID" ] && kill_wait "$POSTERN_PID" 10
	POSTERN_PID=""
	postfix_stop
	[ -n "$UNBOUND_PID" ] && kill_wait "$UNBOUND_PID" 5
	UNBOUND_PID=""
	[ -n "$REDIS_PID" ] && kill_wait "$REDIS_PID" 5
	REDIS_PID=""
	if [ "${BENCH_KEEP:-0}" != 1 ] && [ -d "$DIR" ]; then
		rm -rf "$PF_MAIN_DIR/mail" "$PF_MAIN_DIR/queue" "$PF_RBL_DIR/mail" "$PF_RBL_DIR/queue" \
			"$PNDIR/var/mail" "$PNDIR/var/queue" \
			"$DIR/postern-dnsbl/var/mail" "$DIR/postern-dnsbl/var/queue" 2>/dev/null
		rm -rf "$DIR/postern-state/var-local/mail" "$DIR/postern-state/var-local/queue" \
			"$DIR/postern-state/var-redis/mail" "$DIR/postern-state/var-redis/queue" 2>/dev/null
	fi
}
trap cleanup EXIT
trap 'say "interrupted"; exit 1' INT TERM

rm -rf "$DIR"
mkdir -p "$DIR" "$PFDIR" "$PNDIR" "$DIR/dns" || die "cannot create $DIR"
chmod 755 "$DIR"
touch "$DIR/.postern-bench"

say "$MESSAGES messages of $SIZE octets over $SESSIONS parallel sessions per server; scratch dir $DIR"
if [ "$SKIP_DNSBL" != 1 ]; then
	say "then the Spamhaus-checks comparison: $DNSBL_ROUNDS round(s) of $DNSBL_MESSAGES messages per server and mode (BENCH_SKIP_DNSBL=1 skips it)"
fi
if [ "$SKIP_STATE" != 1 ]; then
	say "then the shared-state comparison: $STATE_ROUNDS round(s) of $STATE_MESSAGES messages with state_backend local and redis (BENCH_SKIP_STATE=1 skips it)"
fi
LOAD_START=$(cut -d' ' -f1 /proc/loadavg)

# ------------------------------------------------------------ DNS
# postern looks up every client IP, HELO, sender domain and PTR in the
# Spamhaus zones.  This machine has no network, and a real deployment would
# resolve them remotely, so a private unbound on loopback answers instead:
# the Spamhaus test points are listed, 127.0.0.1 has a forward-confirmed
# PTR (client.bench.test, the HELO name smtp-source sends), everything else
# is NXDOMAIN, and it never queries any other server.  For the Postfix RBL
# run it also listens on $DNS53_ADDR:53, the only port libc's resolver knows.
DNS_IFACES="    interface: 127.0.0.1@$DNS_PORT"
if [ "$SKIP_DNSBL" != 1 ]; then
	DNS_IFACES="$DNS_IFACES
    interface: $DNS53_ADDR@53"
fi
cat >"$DIR/dns/unbound.conf" <<EOF
server:
$DNS_IFACES
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
    # a burst of questions waits in the buffer instead of being dropped
    # (and asked again a quarter of a second or more later)
    so-rcvbuf: 4m
    access-control: 127.0.0.0/8 allow
    do-not-query-address: 0.0.0.0/0
    do-not-query-address: ::/0
    do-not-query-localhost: yes
    local-zone: "." static
    local-data: ". 300 IN SOA ns.bench.test. hostmaster.bench.test. 1 3600 600 86400 300"
    local-zone: "127.in-addr.arpa." static
    local-data: "127.in-addr.arpa. 300 IN SOA ns.bench.test. hostmaster.bench.test. 1 3600 600 86400 300"
    local-data: "1.0.0.127.in-addr.arpa. 300 IN PTR client.bench.test."
    local-data: "client.bench.test. 300 IN A 127.0.0.1"
    local-data: "2.0.0.127.zen.spamhaus.org. 300 IN A 127.0.0.2"
    local-data: "2.0.0.127.zen.spamhaus.org. 300 IN A 127.0.0.4"
    local-data: "2.0.0.127.zen.spamhaus.org. 300 IN A 127.0.0.10"
    local-data: "dbltest.com.dbl.spamhaus.org. 300 IN A 127.0.1.2"
    local-data: "2.0.0.127.$DQS_KEY.zen.dq.spamhaus.net. 300 IN A 127.0.0.2"
    local-data: "2.0.0.127.$DQS_KEY.zen.dq.spamhaus.net. 300 IN A 127.0.0.4"
    local-data: "2.0.0.127.$DQS_KEY.zen.dq.spamhaus.net. 300 IN A 127.0.0.10"
    local-data: "dbltest.com.$DQS_KEY.dbl.dq.spamhaus.net. 300 IN A 127.0.1.2"
    local-data: "TV7QRQPGBKF4X3K4T5QYILRI3SP5CIWVIIOH25YUOGVOJ3SBTYNA._cw.$DQS_KEY.hbl.dq.spamhaus.net. 300 IN A 127.0.3.20"
remote-control:
    control-enable: yes
    control-interface: "$DIR/dns/control.sock"
    control-use-cert: no
EOF
/usr/sbin/unbound -c "$DIR/dns/unbound.conf" >"$DIR/dns/stderr.log" 2>&1 &
UNBOUND_PID=$!
dns_ok=0
for _ in 1 2 3 4 5 6 7 8 9 10; do
	if "$PY" "$LIB" dns-check "$DNS_PORT" 2.0.0.127.zen.spamhaus.org 1 2>/dev/null | grep -Eq 'answers=(.*,)?127\.0\.0\.2(,|$)'; then
		dns_ok=1
		break
	fi
	kill -0 "$UNBOUND_PID" 2>/dev/null || break
	sleep 0.5
done
[ "$dns_ok" = 1 ] || die "local unbound on 127.0.0.1:$DNS_PORT did not answer (see $DIR/dns/)"
"$PY" "$LIB" dns-check "$DNS_PORT" 1.0.0.127.in-addr.arpa 5 PTR 2>/dev/null | grep -q 'answers=client.bench.test.' ||
	die "local unbound on 127.0.0.1:$DNS_PORT does not answer the PTR of 127.0.0.1 (see $DIR/dns/)"
if [ "$SKIP_DNSBL" != 1 ]; then
	"$PY" "$LIB" dns-check 53 2.0.0.127.zen.spamhaus.org 5 A "$DNS53_ADDR" 2>/dev/null | grep -Eq 'answers=(.*,)?127\.0\.0\.2(,|$)' ||
		die "local unbound does not answer on $DNS53_ADDR:53 (see $DIR/dns/; BENCH_DNS53_ADDR picks another address)"
fi

dns_queries() { # total queries the local unbound has answered so far
	timeout 10 /usr/sbin/unbound-control -c "$DIR/dns/unbound.conf" stats_noreset 2>/dev/null |
		awk -F= '$1 == "total.num.queries" { print $2 }'
}

# ------------------------------------------------------------ results
rate() { # SECONDS [COUNT] -> msgs/s
	if [ -n "${1:-}" ]; then awk -v n="${2:-$MESSAGES}" -v s="$1" 'BEGIN { if (s > 0) printf "%.0f", n / s; else print "-" }'; else echo "-"; fi
}

declare -A R
R[pf_version]=$(/usr/sbin/postconf -d -h mail_version 2>/dev/null)
R[pn_version]=""

run_load() { # PREFIX COUNT ROOT_PID PORT MAILDIR...
	local prefix=$1 count=$2 rootpid=$3 port=$4
	shift 4
	local args=() d out
	for d in "$@"; do args+=(--maildir "$d"); done
	R[${prefix}_count]=$count
	out=$("$PY" "$LIB" load --root-pid "$rootpid" "${args[@]}" --count "$count" \
		--send-timeout "$(send_timeout "$count")" --deliver-timeout "$(deliver_timeout "$count")" \
		--log "$DIR/$prefix-smtp-source.log" -- \
		"$SMTP_SOURCE" -s "$SESSIONS" -m "$count" -l "$SIZE" -M client.bench.test \
		-S "postern bench" -f sender@bench.test -t user@bench.test "127.0.0.1:$port")
	echo "$out" >"$DIR/$prefix-load.txt"
	local k v
	while IFS='=' read -r k v; do
		[ -n "$k" ] && R[${prefix}_$k]=$v
	done <<<"$out"
}

check_load() { # PREFIX NAME
	local p=$1 name=$2
	local rc=${R[${p}_smtp_source_rc]:-none} dl=${R[${p}_delivered]:-0} n=${R[${p}_count]:-0}
	if [ "$rc" != 0 ]; then
		loud "$name: smtp-source failed (status $rc); its output:" \
			"$(tail -n 5 "$DIR/$p-smtp-source.log" 2>/dev/null)"
	fi
	if [ "$dl" != "$n" ]; then
		loud "$name: $dl messages delivered, $n sent: the counts differ"
	fi
	if [ -z "${R[${p}_deliver_seconds]:-}" ] && [ "$rc" = 0 ]; then
		loud "$name: stopped waiting for delivery (${R[${p}_deliver_wait_end]:-?}) with $dl of $n in the Maildir"
	fi
}

# ------------------------------------------------------------ Postfix
postfix_setup() { # DIR MYNETWORKS [EXTRA main.cf LINES]
	local d=$1 mynet=$2 extra=${3:-}
	mkdir -p "$d/etc" "$d/queue" "$d/data" "$d/mail"
	chown postfix "$d/data"
	chown 65534:65534 "$d/mail" # virtual delivery runs as nobody
	cat >"$d/etc/main.cf" <<EOF
# private Postfix instance for bench/inbound.sh; Postfix defaults otherwise
# (fsync on, in_flow_delay, queue manager concurrency).
compatibility_level = 3.6
config_directory = $d/etc
queue_directory = $d/queue
data_directory = $d/data
meta_directory = /etc/postfix
maillog_file = $d/maillog
maillog_file_prefixes = $DIR
myhostname = bench.local
mydomain = bench.local
myorigin = bench.local
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = $mynet
alias_maps =
alias_database =
local_recipient_maps =
virtual_mailbox_domains = bench.test
virtual_mailbox_base = $d/mail
virtual_mailbox_maps = hash:$d/etc/vmailbox
virtual_uid_maps = static:65534
virtual_gid_maps = static:65534
# no DNS in the SMTP client (this machine has no resolver it may use)
smtp_host_lookup = native
smtp_dns_support_level = disabled
disable_dns_lookups = yes
default_process_limit = 100
smtpd_client_connection_count_limit = 2000
biff = no
$extra
EOF
	postfix_master_cf "$PF_PORT" >"$d/etc/master.cf"
	echo "user@bench.test bench.test/user/" >"$d/etc/vmailbox"
	/usr/sbin/postmap -c "$d/etc" "hash:$d/etc/vmailbox" ||
		{ loud "Postfix: postmap failed"; return 1; }
	if ! /usr/sbin/postfix -c "$d/etc" check >"$d/check.log" 2>&1; then
		loud "Postfix: 'postfix check' failed:" "$(cat "$d/check.log" "$d/maillog" 2>/dev/null | tail -n 5)"
		return 1
	fi
}

postfix_start() { # DIR [RESOLV_DIR]: with RESOLV_DIR, in a private mount
	# namespace where /etc/resolv.conf and /etc/hosts are RESOLV_DIR's
	PFDIR=$1
	local ns=${2:-}
	if [ -n "$ns" ]; then
		# master and every child it forks stay in the namespace; the
		# queue, pid file and sockets are the same files seen from outside
		if ! unshare -m --propagation private -- /bin/sh -c \
			'mount --bind "$1/resolv.conf" /etc/resolv.conf && mount --bind "$1/hosts" /etc/hosts &&
			 exec /usr/sbin/postfix -c "$2/etc" start' sh "$ns" "$PFDIR" >"$PFDIR/start.log" 2>&1; then
			loud "Postfix: 'postfix start' in a private mount namespace failed:" \
				"$(cat "$PFDIR/start.log" "$PFDIR/maillog" 2>/dev/null | tail -n 5)"
			return 1
		fi
	elif ! /usr/sbin/postfix -c "$PFDIR/etc" start >"$PFDIR/start.log" 2>&1; then
		loud "Postfix: 'postfix start' failed:" "$(cat "$PFDIR/start.log" "$PFDIR/maillog" 2>/dev/null | tail -n 5)"
		return 1
	fi
	PF_STARTED=1
	if ! "$PY" "$LIB" wait-port 127.0.0.1 "$PF_PORT" 30; then
		loud "Postfix: nothing listens on 127.0.0.1:$PF_PORT after 30 s"
		return 1
	fi
	[ -n "$(postfix_master_pid)" ] || { loud "Postfix: no master.pid"; return 1; }
}

postfix_bench() {
	postfix_setup "$PF_MAIN_DIR" 127.0.0.0/8 || return 1
	postfix_start "$PF_MAIN_DIR" || return 1
	local mpid
	mpid=$(postfix_master_pid)
	say "Postfix ${R[pf_version]}: master pid $mpid, 127.0.0.1:$PF_PORT, Maildir $PFDIR/mail/bench.test/user/new"
	run_load pf "$MESSAGES" "$mpid" "$PF_PORT" "$PFDIR/mail/bench.test/user/new"
	postfix_stop
	check_load pf Postfix
}

# ------------------------------------------------------------ postern
PN_CONF="$PNDIR/postern.conf"
PN_MAILDIR="$PNDIR/var/mail/bench.test/user"

relaytests() { # EVENT_LOG: how many relay self-tests it records
	local n
	n=$(grep -c 'event=relaytest' "$1" 2>/dev/null)
	echo "${n:-0}"
}

postern_start() { # LOGSUFFIX [CONF [EVENT_LOG]]
	local evlog=${3:-$PNDIR/var/postern.log} n0 i=0
	n0=$(relaytests "$evlog")
	"$POSTERN" serve -c "${2:-$PN_CONF}" >"$PNDIR/stderr-$1.log" 2>&1 &
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
	# them finish (event=relaytest in the log, at most 60 s) so they are
	# not part of the measurement
	sleep 1
	while [ "$(relaytests "$evlog")" -le "$n0" ] && [ $i -lt 600 ] &&
		kill -0 "$POSTERN_PID" 2>/dev/null; do
		sleep 0.1
		i=$(( i + 1 ))
	done
	[ $i -lt 600 ] || say "postern: no event=relaytest in $evlog after 60 s; measuring anyway"
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

postern_config() { # FILE DATA_DIR [EXTRA LINES]
	mkdir -p "$2"
	cat >"$1" <<EOF
# postern configuration for bench/inbound.sh: all checks on (DNSBL, DBL,
# content scan), DNS answered by the private unbound on 127.0.0.1:$DNS_PORT.
hostname = bench.local
domains = bench.test
data_dir = $2
listen_smtp = 127.0.0.1:$PN_PORT
listen_submission = off
listen_submissions = off
dns_servers = 127.0.0.1:$DNS_PORT
max_connections = $(( IDLE + SESSIONS + 1000 ))
max_connections_per_ip = $(( IDLE + SESSIONS + 1000 ))
${3:-}
EOF
	local out
	if ! out=$(timeout 60 "$POSTERN" check-config -c "$1" 2>&1); then
		loud "postern: check-config $1 failed:" "$out"
		return 1
	fi
}

postern_account() { # CONF: the one mailbox, user@bench.test
	local out pw
	pw="Bench-$(head -c 18 /dev/urandom | base64 | tr -d '/+=')-Zq9"
	if ! out=$(printf '%s\n' "$pw" | timeout 60 "$POSTERN" user add user@bench.test -c "$1" --password-stdin 2>&1); then
		loud "postern: 'user add user@bench.test' failed:" "$out"
		return 1
	fi
}

postern_version() {
	[ -z "${R[pn_version]}" ] || return 0
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
}

postern_bench() {
	postern_version || return 1
	postern_config "$PN_CONF" "$PNDIR/var" || return 1
	postern_account "$PN_CONF" || return 1
	local out
	postern_start load || return 1
	say "${R[pn_version]}: pid $POSTERN_PID, 127.0.0.1:$PN_PORT, Maildir $PN_MAILDIR/new"
	local q0 q1
	q0=$(dns_queries)
	run_load pn "$MESSAGES" "$POSTERN_PID" "$PN_PORT" "$PN_MAILDIR/new" "$PN_MAILDIR/.Junk/new"
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

# ------------------------------------------------------------ Spamhaus checks
# Issue 3: what the Spamhaus checks cost.  postern with its default
# checks (zen for the client IP; DBL for HELO, MAIL FROM domain and the
# forward-confirmed PTR name) against postern with `dnsbl = no`, and
# against Postfix with the equivalent reject_rbl_client / reject_rhsbl_*
# restrictions, every lookup answered by the same private unbound.  Each
# mode gets DNSBL_ROUNDS runs of DNSBL_MESSAGES messages on a freshly
# started server, the order of the modes alternating between rounds; the
# figures are medians over the rounds, which a burst of other activity on
# the machine during one run does not move much.
PN_DNSBL_DIR="$DIR/postern-dnsbl"
PN_DNSBL_MAILDIR="$PN_DNSBL_DIR/var/mail/bench.test/user"
PF_RBL_RESTRICTIONS="permit_mynetworks, reject_unauth_destination, reject_rbl_client zen.spamhaus.org, reject_rhsbl_helo dbl.spamhaus.org, reject_rhsbl_sender dbl.spamhaus.org, reject_rhsbl_reverse_client dbl.spamhaus.org"

clear_maildirs() { # DIR...: the delivered files of the previous run
	local d
	for d in "$@"; do
		[ -d "$d" ] && find "$d" -mindepth 1 -maxdepth 1 -type f -delete 2>/dev/null
	done
	return 0
}

dnsbl_run() { # MODE ROUND: one measured run; MODE is on, off or rbl
	local mode=$1 round=$2 p="dnsbl-$1-$2" q0 q1 rootpid
	R[${p}_count]=$DNSBL_MESSAGES
	case "$mode" in
	on | off | dqs)
		clear_maildirs "$PN_DNSBL_MAILDIR/new" "$PN_DNSBL_MAILDIR/.Junk/new"
		postern_start "$p" "$PN_DNSBL_DIR/postern-$mode.conf" "$PN_DNSBL_DIR/var/postern.log" || return 1
		rootpid=$POSTERN_PID
		q0=$(dns_queries)
		run_load "$p" "$DNSBL_MESSAGES" "$rootpid" "$PN_PORT" "$PN_DNSBL_MAILDIR/new" "$PN_DNSBL_MAILDIR/.Junk/new"
		q1=$(dns_queries)
		postern_stop "$p"
		check_load "$p" "postern (checks $mode, round $round)"
		R[${p}_junk]=$(find "$PN_DNSBL_MAILDIR/.Junk/new" -maxdepth 1 -type f 2>/dev/null | wc -l)
		;;
	rbl)
		clear_maildirs "$PF_RBL_DIR/mail/bench.test/user/new"
		postfix_start "$PF_RBL_DIR" "$DIR/dns/postfix-ns" || return 1
		rootpid=$(postfix_master_pid)
		q0=$(dns_queries)
		run_load "$p" "$DNSBL_MESSAGES" "$rootpid" "$PF_PORT" "$PF_RBL_DIR/mail/bench.test/user/new"
		q1=$(dns_queries)
		postfix_stop
		check_load "$p" "Postfix with RBL checks (round $round)"
		;;
	esac
	[ -n "$q0" ] && [ -n "$q1" ] && R[${p}_dns_queries]=$(( q1 - q0 ))
	# totals per mode
	local a=${R[${p}_accept_seconds]:-} d=${R[${p}_deliver_seconds]:-}
	R[dnsbl_${mode}_runs]=$(( ${R[dnsbl_${mode}_runs]:-0} + 1 ))
	R[dnsbl_${mode}_sent]=$(( ${R[dnsbl_${mode}_sent]:-0} + DNSBL_MESSAGES ))
	R[dnsbl_${mode}_delivered]=$(( ${R[dnsbl_${mode}_delivered]:-0} + ${R[${p}_delivered]:-0} ))
	R[dnsbl_${mode}_queries]=$(( ${R[dnsbl_${mode}_queries]:-0} + ${R[${p}_dns_queries]:-0} ))
	R[dnsbl_${mode}_junk]=$(( ${R[dnsbl_${mode}_junk]:-0} + ${R[${p}_junk]:-0} ))
	if [ -n "$a" ] && [ -n "$d" ] && [ "${R[${p}_smtp_source_rc]:-}" = 0 ]; then
		R[dnsbl_${mode}_accept_list]="${R[dnsbl_${mode}_accept_list]:-}${R[dnsbl_${mode}_accept_list]:+ }$(rate "$a" "$DNSBL_MESSAGES")"
		R[dnsbl_${mode}_deliver_list]="${R[dnsbl_${mode}_deliver_list]:-}${R[dnsbl_${mode}_deliver_list]:+ }$(rate "$d" "$DNSBL_MESSAGES")"
	else
		R[dnsbl_${mode}_bad]=1
	fi
}

dnsbl_bench() {
	local ns="$DIR/dns/postfix-ns" r mode order
	# Postfix's view of /etc: a resolv.conf naming only our unbound, and an
	# /etc/hosts without 127.0.0.1, so that smtpd's client name lookup asks
	# DNS (PTR, then the forward A) just as postern does
	mkdir -p "$ns"
	printf 'nameserver %s\noptions timeout:2 attempts:2\n' "$DNS53_ADDR" >"$ns/resolv.conf"
	printf '# private /etc/hosts of the bench Postfix instance: empty on purpose\n' >"$ns/hosts"
	postfix_setup "$PF_RBL_DIR" "" "smtpd_recipient_restrictions = $PF_RBL_RESTRICTIONS" || return 1
	postern_version || return 1
	postern_config "$PN_DNSBL_DIR/postern-on.conf" "$PN_DNSBL_DIR/var" \
		"# issue 3 run: Spamhaus checks on (the default)" || return 1
	postern_config "$PN_DNSBL_DIR/postern-off.conf" "$PN_DNSBL_DIR/var" "dnsbl = no" || return 1
	# SPEC 4.1: zen and the DBL through DQS, plus AuthBL (submission only:
	# not asked here), ZRD for every domain and HBL (on once its key-check
	# record answers) for the sender and From addresses
	postern_config "$PN_DNSBL_DIR/postern-dqs.conf" "$PN_DNSBL_DIR/var" \
		"spamhaus_dqs_key = $DQS_KEY" || return 1
	postern_account "$PN_DNSBL_DIR/postern-on.conf" || return 1
	for r in $(seq 1 "$DNSBL_ROUNDS"); do
		if [ $(( r % 2 )) = 1 ]; then order="on off rbl dqs"; else order="dqs rbl off on"; fi
		say "Spamhaus checks, round $r/$DNSBL_ROUNDS: $order ($DNSBL_MESSAGES messages each)"
		for mode in $order; do
			dnsbl_run "$mode" "$r"
		done
	done
	# the first connection's client name as Postfix saw it
	R[dnsbl_pf_client]=$(grep -m 1 -o 'connect from [^ ]*' "$PF_RBL_DIR/maillog" 2>/dev/null | sed 's/connect from //')
	if [ "${R[dnsbl_rbl_queries]:-0}" = 0 ]; then
		loud "Postfix with RBL checks made no DNS queries: its restrictions did not run (see $PF_RBL_DIR/maillog)"
	fi
	if [ "${R[dnsbl_on_queries]:-0}" = 0 ]; then
		loud "postern with checks on made no DNS queries at all"
	fi
}

# ------------------------------------------------------------ shared state
# Issue 14: what sharing state through Redis (SPEC 10) costs inbound mail.
# The same postern, the same load, with state_backend = local and with
# state_backend = redis://127.0.0.1:$REDIS_PORT/0 (a private redis-server,
# no persistence); rounds alternate the order, figures are medians.
PN_STATE_DIR="$DIR/postern-state"	# var-local, var-redis: a data_dir each

redis_start() {
	mkdir -p "$DIR/redis"
	cat >"$DIR/redis/redis.conf" <<EOF
# private redis-server of bench/inbound.sh: loopback, no persistence
port $REDIS_PORT
bind 127.0.0.1
protected-mode yes
save ""
appendonly no
daemonize no
dir $DIR/redis
pidfile $DIR/redis/redis.pid
logfile $DIR/redis/redis.log
EOF
	"$REDIS_SERVER" "$DIR/redis/redis.conf" >/dev/null 2>&1 &
	REDIS_PID=$!
	if ! "$PY" "$LIB" wait-port 127.0.0.1 "$REDIS_PORT" 30; then
		loud "redis-server: nothing listens on 127.0.0.1:$REDIS_PORT after 30 s (see $DIR/redis/redis.log)"
		return 1
	fi
}

state_run() { # MODE ROUND: MODE is local or redis
	local mode=$1 round=$2 p="state-$1-$2" log="$PN_STATE_DIR/var-$1/postern.log" up0 down0 i=0
	local maildir="$PN_STATE_DIR/var-$1/mail/bench.test/user"
	R[${p}_count]=$STATE_MESSAGES
	clear_maildirs "$maildir/new" "$maildir/.Junk/new"
	up0=$(grep -c 'event=state_backend.* status=up' "$log" 2>/dev/null)
	down0=$(grep -c 'event=state_backend.* status=down' "$log" 2>/dev/null)
	postern_start "$p" "$PN_STATE_DIR/postern-$mode.conf" "$log" || return 1
	if [ "$mode" = redis ]; then
		# measured only once it shares (at most 10 s)
		while [ "$(grep -c 'event=state_backend.* status=up' "$log" 2>/dev/null)" -le "${up0:-0}" ] &&
			[ $i -lt 100 ]; do
			sleep 0.1
			i=$(( i + 1 ))
		done
		[ $i -lt 100 ] || loud "postern (state redis, round $round): no event=state_backend status=up in 10 s"
	fi
	run_load "$p" "$STATE_MESSAGES" "$POSTERN_PID" "$PN_PORT" "$maildir/new" "$maildir/.Junk/new"
	postern_stop "$p"
	check_load "$p" "postern (state $mode, round $round)"
	if [ "$(grep -c 'event=state_backend.* status=down' "$log" 2>/dev/null)" != "${down0:-0}" ]; then
		loud "postern (state $mode, round $round): Redis was down during the run (see $log)"
	fi
	local a=${R[${p}_accept_seconds]:-} d=${R[${p}_deliver_seconds]:-}
	R[state_${mode}_sent]=$(( ${R[state_${mode}_sent]:-0} + STATE_MESSAGES ))
	R[state_${mode}_delivered]=$(( ${R[state_${mode}_delivered]:-0} + ${R[${p}_delivered]:-0} ))
	if [ -n "$a" ] && [ -n "$d" ] && [ "${R[${p}_smtp_source_rc]:-}" = 0 ]; then
		R[state_${mode}_accept_list]="${R[state_${mode}_accept_list]:-}${R[state_${mode}_accept_list]:+ }$(rate "$a" "$STATE_MESSAGES")"
		R[state_${mode}_deliver_list]="${R[state_${mode}_deliver_list]:-}${R[state_${mode}_deliver_list]:+ }$(rate "$d" "$STATE_MESSAGES")"
	else
		R[state_${mode}_bad]=1
	fi
}

state_bench() {
	local r order mode
	postern_version || return 1
	postern_config "$PN_STATE_DIR/postern-local.conf" "$PN_STATE_DIR/var-local" \
		"state_backend = local" || return 1
	postern_config "$PN_STATE_DIR/postern-redis.conf" "$PN_STATE_DIR/var-redis" \
		"state_backend = redis://127.0.0.1:$REDIS_PORT/0
node_name = bench-node" || return 1
	postern_account "$PN_STATE_DIR/postern-local.conf" || return 1
	postern_account "$PN_STATE_DIR/postern-redis.conf" || return 1
	redis_start || return 1
	for r in $(seq 1 "$STATE_ROUNDS"); do
		if [ $(( r % 2 )) = 1 ]; then order="local redis"; else order="redis local"; fi
		say "shared state, round $r/$STATE_ROUNDS: $order ($STATE_MESSAGES messages each)"
		for mode in $order; do
			state_run "$mode" "$r"
		done
	done
	# the redis runs did share: their statistics are in Redis (the
	# hours this run can span)
	R[state_redis_accepted]=$("$PY" - "$REDIS_PORT" <<'EOF'
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
f = s.makefile("rb")
def cmd(*a):
    s.sendall(b"*%d\r\n" % len(a) + b"".join(b"$%d\r\n%s\r\n" % (len(x), x) for x in (y.encode() for y in a)))
    line = f.readline()
    if line[:1] == b"*":
        out = []
        for _ in range(int(line[1:])):
            n = int(f.readline()[1:])
            out.append(f.read(n + 2)[:-2].decode())
        return out
    return line.decode().strip()
h = int(time.time()) // 3600 * 3600
total = 0
for hour in range(h - 6 * 3600, h + 3600, 3600):
    kv = cmd("HGETALL", "postern:stats:bench-node:%d" % hour)
    total += sum(int(kv[i + 1]) for i in range(0, len(kv), 2) if kv[i] == "accepted\t")
print(total)
EOF
)
}

if [ "${BENCH_SKIP_POSTFIX:-0}" != 1 ]; then postfix_bench; fi
if [ "${BENCH_SKIP_POSTERN:-0}" != 1 ]; then postern_bench; fi
if [ "$SKIP_DNSBL" != 1 ]; then dnsbl_bench; fi
if [ "$SKIP_STATE" != 1 ]; then state_bench; fi

# ------------------------------------------------------------ report
echo
if [ "${BENCH_SKIP_POSTFIX:-0}" != 1 ] || [ "${BENCH_SKIP_POSTERN:-0}" != 1 ]; then
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
fi

if [ "$SKIP_DNSBL" != 1 ]; then
	dn=$DNSBL_MESSAGES
	dacc() { # MODE: median accepted msgs/s over the rounds (- if a run failed)
		if [ -n "${R[dnsbl_$1_bad]:-}" ]; then echo "-"; else median "${R[dnsbl_$1_accept_list]:-}"; fi
	}
	ddel() {
		if [ -n "${R[dnsbl_$1_bad]:-}" ]; then echo "-"; else median "${R[dnsbl_$1_deliver_list]:-}"; fi
	}
	dqpm() {
		if [ -n "${R[dnsbl_$1_sent]:-}" ]; then
			awk -v q="${R[dnsbl_$1_queries]:-0}" -v n="${R[dnsbl_$1_sent]}" 'BEGIN { printf "%.2f", q / n }'
		else echo "-"; fi
	}
	on_acc=$(dacc on); off_acc=$(dacc off); rbl_acc=$(dacc rbl); dqs_acc=$(dacc dqs)
	on_del=$(ddel on); off_del=$(ddel off); rbl_del=$(ddel rbl); dqs_del=$(ddel dqs)
	echo
	echo "Spamhaus checks (issue 3): $DNSBL_ROUNDS round(s) of $dn messages per mode" \
		"(BENCH_DNSBL_MESSAGES, BENCH_DNSBL_ROUNDS;"
	if [ "$dn" -lt "$MESSAGES" ]; then
		echo "fewer than the $MESSAGES above, to keep the run short), same load otherwise;"
	else
		echo "same load otherwise);"
	fi
	echo "each run on a freshly started server, mode order alternating between rounds;"
	echo "rates are medians over the rounds (each round's figure in the row below)."
	echo
	printf '%-30s %13s %13s %13s %13s\n' "" "postern off" "postern on" "Postfix RBL" "postern DQS"
	printf '%-30s %13s %13s %13s %13s\n' "accepted msgs/s (higher=better)" "$off_acc" "$on_acc" "$rbl_acc" "$dqs_acc"
	printf '%-30s %13s %13s %13s %13s\n' "  each round" "${R[dnsbl_off_accept_list]:--}" "${R[dnsbl_on_accept_list]:--}" "${R[dnsbl_rbl_accept_list]:--}" "${R[dnsbl_dqs_accept_list]:--}"
	printf '%-30s %13s %13s %13s %13s\n' "delivered msgs/s" "$off_del" "$on_del" "$rbl_del" "$dqs_del"
	printf '%-30s %13s %13s %13s %13s\n' "  each round" "${R[dnsbl_off_deliver_list]:--}" "${R[dnsbl_on_deliver_list]:--}" "${R[dnsbl_rbl_deliver_list]:--}" "${R[dnsbl_dqs_deliver_list]:--}"
	printf '%-30s %13s %13s %13s %13s\n' "messages delivered" "${R[dnsbl_off_delivered]:--}/${R[dnsbl_off_sent]:--}" \
		"${R[dnsbl_on_delivered]:--}/${R[dnsbl_on_sent]:--}" "${R[dnsbl_rbl_delivered]:--}/${R[dnsbl_rbl_sent]:--}" \
		"${R[dnsbl_dqs_delivered]:--}/${R[dnsbl_dqs_sent]:--}"
	printf '%-30s %13s %13s %13s %13s\n' "DNS queries to unbound per msg" "$(dqpm off)" "$(dqpm on)" "$(dqpm rbl)" "$(dqpm dqs)"
	echo
	cost=$(awk -v on="$on_acc" -v off="$off_acc" 'BEGIN { if (on == "-" || off == "-" || off + 0 == 0) print "-"; else printf "%.1f", (1 - on / off) * 100 }')
	if [ "$cost" = - ]; then verdict="not measured"
	elif awk -v c="$cost" 'BEGIN { exit !(c < 10) }'; then verdict="OK, target < 10%"
	else verdict="OVER the 10% target"; fi
	echo "postern: cost of the Spamhaus checks on accepted msgs/s = 1 - on/off = $cost% ($verdict)"
	cost=$(awk -v on="$dqs_acc" -v off="$off_acc" 'BEGIN { if (on == "-" || off == "-" || off + 0 == 0) print "-"; else printf "%.1f", (1 - on / off) * 100 }')
	if [ "$cost" = - ]; then verdict="not measured"
	elif awk -v c="$cost" 'BEGIN { exit !(c < 10) }'; then verdict="OK, target < 10%"
	else verdict="OVER the 10% target"; fi
	echo "postern: cost with every zone through DQS (ZRD, HBL) = 1 - dqs/off = $cost% ($verdict)"
	pr=$(ratio "$on_acc" "$rbl_acc")
	if [ "$pr" = - ]; then verdict="not measured"
	elif awk -v r="${pr%x}" 'BEGIN { exit !(r >= 1.5) }'; then verdict="OK, target >= 1.5x"
	else verdict="BELOW the 1.5x target"; fi
	echo "postern (checks on) / Postfix (RBL checks), accepted msgs/s = $pr ($verdict);" \
		"delivered: $(ratio "$on_del" "$rbl_del")"
	echo
	echo "postern on:  default settings (zen for the client IP; DBL for the HELO name,"
	echo "             the MAIL FROM domain and the forward-confirmed PTR name, plus"
	echo "             their registered domains), dns_servers = 127.0.0.1:$DNS_PORT."
	echo "postern off: the same with dnsbl = no."
	echo "postern DQS: spamhaus_dqs_key = $DQS_KEY: zen and the DBL as $DQS_KEY.zen.dq.spamhaus.net"
	echo "             and $DQS_KEY.dbl.dq.spamhaus.net, ZRD for the registered domain of every"
	echo "             domain the DBL gets, HBL (its key-check record answers, so \`auto\`"
	echo "             turns it on) for the envelope and From addresses; AuthBL is asked"
	echo "             only on submission ports, not in this load."
	echo "Postfix RBL: the Postfix above with mynetworks empty (so that permit_mynetworks"
	echo "             does not skip the checks for 127.0.0.1) and"
	echo "             smtpd_recipient_restrictions = $PF_RBL_RESTRICTIONS"
	echo "             resolving with libc through the same unbound, which also listens on"
	echo "             $DNS53_ADDR:53: Postfix runs in a private mount namespace (unshare -m)"
	echo "             whose /etc/resolv.conf names only that address and whose /etc/hosts"
	echo "             is empty, so its client-name lookup goes to DNS as postern's does"
	echo "             (client name seen: ${R[dnsbl_pf_client]:-?})."
	echo "Every message comes from 127.0.0.1 with the same HELO and sender, so repeated"
	echo "lookups are cached: postern's in-process cache (libunbound) answers almost all"
	echo "of them; Postfix's smtpd caches RBL results per process (up to 100 sessions)"
	echo "but resolves the client name (PTR, then A) with libc for every connection."
	echo "With varied real clients both would wait for more resolver round trips."
	if [ "${R[dnsbl_on_junk]:-0}" != 0 ] || [ "${R[dnsbl_off_junk]:-0}" != 0 ]; then
		echo "postern filed ${R[dnsbl_on_junk]:-0} (on) and ${R[dnsbl_off_junk]:-0} (off) messages in .Junk/ (counted as delivered)."
	fi
fi
if [ "$SKIP_STATE" != 1 ]; then
	sacc() { if [ -n "${R[state_$1_bad]:-}" ]; then echo "-"; else median "${R[state_$1_accept_list]:-}"; fi; }
	sdel() { if [ -n "${R[state_$1_bad]:-}" ]; then echo "-"; else median "${R[state_$1_deliver_list]:-}"; fi; }
	loc_acc=$(sacc local); red_acc=$(sacc redis); loc_del=$(sdel local); red_del=$(sdel redis)
	echo
	echo "Shared state (issue 14): $STATE_ROUNDS round(s) of $STATE_MESSAGES messages per backend,"
	echo "each run on a freshly started server, order alternating; medians over the rounds."
	echo
	printf '%-30s %13s %13s\n' "" "local" "redis"
	printf '%-30s %13s %13s\n' "accepted msgs/s (higher=better)" "$loc_acc" "$red_acc"
	printf '%-30s %13s %13s\n' "  each round" "${R[state_local_accept_list]:--}" "${R[state_redis_accept_list]:--}"
	printf '%-30s %13s %13s\n' "delivered msgs/s" "$loc_del" "$red_del"
	printf '%-30s %13s %13s\n' "  each round" "${R[state_local_deliver_list]:--}" "${R[state_redis_deliver_list]:--}"
	printf '%-30s %13s %13s\n' "messages delivered" "${R[state_local_delivered]:--}/${R[state_local_sent]:--}" \
		"${R[state_redis_delivered]:--}/${R[state_redis_sent]:--}"
	echo
	cost=$(awk -v r="$red_acc" -v l="$loc_acc" 'BEGIN { if (r == "-" || l == "-" || l + 0 == 0) print "-"; else printf "%.1f", (1 - r / l) * 100 }')
	if [ "$cost" = - ]; then verdict="not measured"
	elif awk -v c="$cost" 'BEGIN { exit !(c < 10) }'; then verdict="OK, target < 10%"
	else verdict="OVER the 10% target"; fi
	echo "postern: cost of state_backend = redis on accepted msgs/s = 1 - redis/local = $cost% ($verdict)"
	echo "redis: state_backend = redis://127.0.0.1:$REDIS_PORT/0, a private redis-server on"
	echo "       loopback, node_name = bench-node; messages it accepted according to"
	echo "       Redis (where postern stats sums the nodes): ${R[state_redis_accepted]:--}" \
		"of ${R[state_redis_sent]:--} sent."
	echo "local: state_backend = local (the default). Inbound mail asks no limit; what"
	echo "       Redis costs here is the shared statistics and holds, pushed off the"
	echo "       message path (SPEC 10)."
fi
echo
if [ "$FAILED" != 0 ]; then
	for e in "${ERRORS[@]}"; do echo "bench: ERROR: $e"; done
	echo "bench: FAILED (details above; logs in $DIR)"
	exit 1
fi
echo "bench: ok (logs in $DIR)"
exit 0
