# shellcheck shell=bash
# spawn/lib/responders.sh: the FastCGI responders under spawn-fcgi and
# multiwatch, one line of services.conf each.
# Sourced by spawn/stack (its say, warn, die and settings).

# Print the pid of the supervisor (multiwatch) of responder NAME@VERSION,
# if it runs.
supervisor_pid() {
	local pid
	pid=$(read_pids "$PIDS/$1-$2.pid")
	pid=${pid%% *}
	pid_is "$pid" multiwatch && printf '%s\n' "$pid"
	return 0
}

# Print the live worker pids of responder NAME@VERSION: the children of its
# supervisor (the pid file holds the supervisor's pid; a pid file of worker
# pids, as an older stack wrote, is read too). When the supervisor is gone
# (killed), its workers live on: they are found by their --log argument,
# which names this state directory and version.
responder_pids() {
	local name=$1 version=$2 pid child out='' sup=no
	for pid in $(read_pids "$PIDS/$name-$version.pid"); do
		if pid_is "$pid" multiwatch; then
			sup=yes
			for child in $(pgrep -P "$pid" || true); do
				pid_is "$child" "$name.fcgi" && out="$out $child"
			done
		elif pid_is "$pid" "$name.fcgi"; then
			out="$out $pid"
		fi
	done
	if [ "$sup" = no ] && [ -z "$out" ]; then
		for pid in $(pgrep -f -- "--log $(printf '%s' "$LOGS/$name-$version.log" |
			sed 's/[][\.*^$]/\\&/g')( |\$)" || true); do
			pid_is "$pid" "$name.fcgi" && out="$out $pid"
		done
	fi
	printf '%s\n' "${out# }"
}

# Start responder NAME VERSION WORKERS [ARGS...] under spawn-fcgi, unless all
# its workers already run (a partly dead one is restarted).
start_responder() {
	local name=$1 version=$2 workers=$3
	shift 3
	local id=$name-$version live
	local bin=$BINDIR/$name.fcgi sock=$SOCKETS/$id.sock
	local pidfile=$PIDS/$id.pid log=$LOGS/$id.log
	live=$(responder_pids "$name" "$version")
	if [ -n "$live" ]; then
		if [ "$(wc -w <<<"$live")" -ge "$workers" ] &&
			[ -n "$(supervisor_pid "$name" "$version")" ]; then
			say "$name@$version: already running (pids $live)"
			return 0
		fi
		warn "$name@$version: pids $live, of $workers, are not all alive and supervised; restarting"
		stop_responder "$name" "$version" >/dev/null
	fi
	[ -x "$bin" ] || die "$bin is missing: run spawn/stack setup"
	command -v spawn-fcgi >/dev/null || die "spawn-fcgi is missing: run spawn/stack setup"
	command -v multiwatch >/dev/null || die "multiwatch is missing: run spawn/stack setup"
	rm -f "$pidfile"
	# The version's metrics count from its start (its workers share
	# STATE/metrics/NAME-VERSION.metrics, mapped by each of them).
	rm -f "$STATE/metrics/$id.metrics"
	# As root, -U/-G hand the socket to nginx's workers (www-data), and
	# -u/-g run multiwatch and the responders as VD_USER, never as root;
	# it appends to its own log.
	# spawn-fcgi opens the socket and starts multiwatch on it (its pid goes
	# to the pid file), which forks the workers and replaces one that dies
	# at once. A worker that dies within 5 s of its start counts as a
	# failed start; after 5 in a row multiwatch stops replacing it, so that
	# a responder that cannot start does not loop. Stopped (SIGTERM), it
	# sends its workers SIGUSR1, its default, on which they finish the
	# request and return from main; no -s: Debian's multiwatch 1.0.0 takes
	# the signal before the one named (-s TERM sends SIGQUIT, which kills).
	local opts=(-s "$sock" -P "$pidfile" -M 0660)
	local supervise=(multiwatch -f "$workers" -r 5 -t 5000 --)
	if [ "$IS_ROOT" = yes ]; then
		opts+=(-U "$NGINX_USER" -G "$NGINX_USER" -u "$VD_USER" -g "$VD_USER")
		as_responder test -x "$bin" ||
			die "$VD_USER cannot run $bin: every directory above it must be searchable (o+x)"
		touch "$log"
		chown "$VD_USER:" "$log"
	fi
	# The reply feed keeps its latest replies where nginx serves them.
	local feed=() feed_env=()
	if [ "$name" = replyfeed ]; then
		feed_env=("VD_TOKEN_FILE=$STATE/replyfeed.token")
		# nginx serves the file to anyone: with reads protected
		# (VD_AUTH_READS), the responder answers, and checks tokens.
		if [ "${VD_AUTH_READS:-0}" = 0 ]; then
			feed=(--latest-file "$RUNDIR/public/replyfeed-latestReplies.json")
		else
			rm -f "$RUNDIR/public/replyfeed-latestReplies.json"
		fi
	fi
	# spawn-fcgi points its child's stdout and stderr at /dev/null, so a
	# shell between them reopens both on the log and execs multiwatch (same
	# pid, which is what spawn-fcgi writes to the pid file): what multiwatch
	# says (a worker replaced) and what a worker writes before it opens its
	# --log go to the log too.
	# GnuTLS, which Debian's libcurl loads for protocols the responders
	# never use (http and https go through OpenSSL), initialises itself at
	# load time unless told not to: 0.8 MiB of each worker's memory.
	# libmongoc keeps its driver counters in /dev/shm/mongoc-PID, which a
	# worker killed with SIGKILL leaves behind; a later process given that
	# pid then warns "Falling back to malloc for counters". The responders
	# report through /metrics instead: no such files for them.
	# shellcheck disable=SC2016,SC2094
	if ! env GNUTLS_NO_IMPLICIT_INIT="${GNUTLS_NO_IMPLICIT_INIT:-1}" \
		MONGOC_DISABLE_SHM="${MONGOC_DISABLE_SHM:-1}" "${feed_env[@]}" \
		spawn-fcgi "${opts[@]}" -- /bin/sh -c 'log=$1; shift; exec "$@" >>"$log" 2>&1' \
		vd-responder "$log" "${supervise[@]}" "$bin" --api-version "$version" --log "$log" --state-dir "$STATE" \
		"${feed[@]}" "$@" \
		</dev/null >>"$log" 2>&1 9>&-; then
		tail -n 20 "$log" >&2 || true
		stop_responder "$name" "$version" >/dev/null
		die "$name@$version did not start (log: $log)"
	fi
	# A responder that fails during start-up exits within moments, and
	# multiwatch gives up on it after its retries.
	sleep 0.5
	live=$(responder_pids "$name" "$version")
	if [ -z "$live" ] || [ -z "$(supervisor_pid "$name" "$version")" ]; then
		stop_responder "$name" "$version" >/dev/null
		tail -n 20 "$log" >&2 || true
		rm -f "$sock" "$pidfile"
		die "$name@$version exited at start-up (log: $log)"
	fi
	say "$name@$version: started (pids $live, $sock)"
}

# Stop responder NAME VERSION: its supervisor first (multiwatch sends its
# workers SIGUSR1 and waits for them), then any worker still alive.
stop_responder() {
	local name=$1 version=$2 sup live
	sup=$(supervisor_pid "$name" "$version")
	live=$(responder_pids "$name" "$version")
	if [ -n "$sup$live" ]; then
		[ -z "$sup" ] || terminate 10 "$sup"
		# shellcheck disable=SC2086
		terminate 5 $live
		say "$name@$version: stopped"
	else
		say "$name@$version: not running"
	fi
	rm -f "$PIDS/$name-$version.pid" "$SOCKETS/$name-$version.sock"
}

# Run FN NAME VERSION WORKERS ARGS... for every services.conf line that
# matches NAME (and VERSION when not empty); fail when none does.
each_responder() {
	local fn=$1 want_name=$2 want_version=$3 found=no line
	local -a f
	while read -r line; do
		read -ra f <<<"$line"
		[ "${f[0]}" = "$want_name" ] || continue
		[ -z "$want_version" ] || [ "${f[1]}" = "$want_version" ] || continue
		found=yes
		"$fn" "${f[@]}"
	done < <(services)
	[ "$found" = yes ] ||
		die "no responder ${want_name}${want_version:+@$want_version} in $SERVICES_CONF"
}

responder_names() { services | awk '{print $1}' | sort -u; }

# Stop responders whose pid files are left from versions no longer listed.
stop_unlisted() {
	local f id name version
	for f in "$PIDS"/*.pid; do
		[ -e "$f" ] || continue
		id=$(basename "$f" .pid)
		case $id in db | nginx) continue ;; esac
		name=${id%-*} version=${id##*-}
		services | awk -v n="$name" -v v="$version" '$1 == n && $2 == v {f = 1} END {exit !f}' ||
			stop_responder "$name" "$version"
	done
}
