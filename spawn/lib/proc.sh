# shellcheck shell=bash
# spawn/lib/proc.sh: processes and ports: the state directory's lock, pid
# files, stopping with a deadline, waiting for a port.
# Sourced by spawn/stack (its say, warn, die and settings).

# Take the state directory's lock for the rest of the command (or until
# unlock), so that two commands never start or stop the same part at once.
# Daemons are started with fd 9 closed: they would hold the lock forever.
lock() {
	exec 9>"$LOCK"
	flock -w 300 9 || die "another spawn/stack command holds $LOCK"
}
unlock() { exec 9>&-; }

# True when a TCP connection to HOST:PORT succeeds within a second.
port_open() {
	local host=${1%:*} port=${1##*:}
	# shellcheck disable=SC2016
	timeout 1 bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$host" "$port" 2>/dev/null
}

# True when PID is alive and its command line contains WORD.
pid_is() {
	local pid=$1 word=$2
	[ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] &&
		tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$word"
}

# Print the pids listed in FILE (spawn-fcgi writes one per line, the last
# one without a newline).
read_pids() {
	[ -f "$1" ] || return 0
	tr -s '\n' ' ' <"$1"
}

# Send SIGTERM to PIDS, wait up to SECONDS, then SIGKILL what is left.
terminate() {
	local seconds=$1 i pid left
	shift
	[ $# -gt 0 ] || return 0
	kill -TERM "$@" 2>/dev/null || true
	for ((i = 0; i < seconds * 10; i++)); do
		left=0
		for pid in "$@"; do
			kill -0 "$pid" 2>/dev/null && left=1
		done
		[ "$left" -eq 0 ] && return 0
		sleep 0.1
	done
	warn "still running after ${seconds}s, killing: $*"
	kill -KILL "$@" 2>/dev/null || true
}

# Wait up to SECONDS for ADDRESS to accept connections.
wait_port() {
	local address=$1 seconds=$2 i
	for ((i = 0; i < seconds * 5; i++)); do
		port_open "$address" && return 0
		sleep 0.2
	done
	return 1
}
