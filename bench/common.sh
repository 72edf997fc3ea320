# Shell functions shared by bench/inbound.sh and bench/outbound.sh.
# Sourced after the script sets BENCH_TAG (its message prefix), DIR, and
# PFDIR / PF_STARTED for the Postfix instance it runs.

say() { printf '%s: %s\n' "$BENCH_TAG" "$*"; }
loud() {
	ERRORS+=("$1")
	printf '\n' >&2
	printf '%s: ********************************************************\n' "$BENCH_TAG" >&2
	printf '%s: ERROR: %s\n' "$BENCH_TAG" "$@" >&2
	printf '%s: ********************************************************\n' "$BENCH_TAG" >&2
	FAILED=1
}
die() { loud "$@"; exit 1; }

stale_stop() { # PIDFILE
	local pid
	[ -r "$1" ] || return 0
	pid=$(tr -d ' \n' 2>/dev/null <"$1") || return 0
	case "$pid" in '' | *[!0-9]*) return 0 ;; esac
	if tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline" | grep -qF "$DIR/"; then
		echo "$BENCH_TAG: stopping pid $pid left over from an earlier run" >&2
		kill -TERM "$pid" 2>/dev/null
		sleep 2
		kill -KILL "$pid" 2>/dev/null
	fi
}

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

median() { # "N N N..." -> median, or - when empty
	[ -n "${1// /}" ] || { echo "-"; return; }
	# shellcheck disable=SC2086 # split the list on purpose
	printf '%s\n' $1 | sort -n | awk '{ v[NR] = $1 } END {
		if (NR == 0) print "-"; else if (NR % 2) print v[(NR + 1) / 2]; else printf "%.0f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
mib() { # KiB -> MiB
	if [ -n "${1:-}" ] && [ "${1:-0}" != 0 ]; then awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; else echo "-"; fi
}
ratio() { # postern postfix
	awk -v a="${1:--}" -v b="${2:--}" 'BEGIN { if (a == "-" || b == "-" || b + 0 == 0) print "-"; else printf "%.2fx", a / b }'
}

# A Postfix master.cf with smtpd on 127.0.0.1:PORT and the daemons a
# private instance needs (every bench's Postfix contenders share it:
# local Maildir delivery, relaying, TLS to a relay).
postfix_master_cf() { # PORT
	cat <<EOF
127.0.0.1:$1 inet n - n - - smtpd
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
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
postlog   unix-dgram n  -       n       -       1       postlogd
EOF
}
