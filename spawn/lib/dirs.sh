# shellcheck shell=bash
# spawn/lib/dirs.sh: the state directory's layout (sockets, public files,
# logs) and, as root, who owns what.
# Sourced by spawn/stack (its say, warn, die and settings).

# The directory that holds sockets/. It is the state directory, unless the
# nginx workers (www-data when we are root) cannot search their way into it
# (a checkout under /root or in a mktemp -d directory) or the socket paths
# would be too long: then a directory under /run, linked from STATE/sockets.
rundir() {
	local longest=0 name
	while read -r name _; do
		[ ${#name} -gt "$longest" ] && longest=${#name}
	done < <(services)
	if [ $((${#STATE} + longest + 24)) -lt 100 ]; then
		if [ "$IS_ROOT" = no ] ||
			runuser -u "$NGINX_USER" -- test -x "$STATE" 2>/dev/null; then
			printf '%s\n' "$STATE"
			return
		fi
	fi
	[ "$IS_ROOT" = yes ] || [ -n "${XDG_RUNTIME_DIR:-}" ] ||
		die "socket paths under $STATE are too long; set VD_STATE_DIR"
	local base=/run/vdispatch
	[ "$IS_ROOT" = yes ] || base=$XDG_RUNTIME_DIR/vdispatch
	printf '%s/%s\n' "$base" "$(printf '%s' "$STATE" | md5sum | cut -c1-12)"
}

# Create the state directories; set RUNDIR and SOCKETS.
make_dirs() {
	[ -f "$SERVICES_CONF" ] || die "missing $SERVICES_CONF"
	mkdir -p "$PIDS" "$LOGS" "$STATE/bin" "$STATE/nginx/tmp"
	RUNDIR=$(rundir)
	SOCKETS=$RUNDIR/sockets
	if [ "$RUNDIR" = "$STATE" ]; then
		[ -L "$STATE/sockets" ] && rm -f "$STATE/sockets"
		mkdir -p "$SOCKETS"
	else
		mkdir -p "$SOCKETS"
		chmod 755 "$(dirname "$RUNDIR")" "$RUNDIR"
		if [ -d "$STATE/sockets" ] && [ ! -L "$STATE/sockets" ]; then
			rmdir "$STATE/sockets" 2>/dev/null ||
				die "$STATE/sockets is in the way: remove it"
		fi
		ln -sfn "$SOCKETS" "$STATE/sockets"
	fi
	# What nginx serves from files the responders write (the feed's
	# latest replies).
	mkdir -p "$RUNDIR/public" "$STATE/cache" "$STATE/metrics"
	[ "$SANITIZE" = 0 ] || mkdir -p "$SANITIZER_LOGS"
	if [ "$IS_ROOT" = yes ]; then
		chgrp "$NGINX_USER" "$SOCKETS"
		chmod 750 "$SOCKETS" "$RUNDIR/public"
		own_dirs
	fi
}

# As root: the responders' user (a system user of its own, made once: not
# nobody, which other daemons share and so could signal or trace ours; not
# www-data, which would let nginx's workers write our state and our
# responders nginx's), and what it writes made its own: STATE/cache (the
# registry copy, the shared reply counter), STATE/metrics, the feed's
# public directory (nginx's group reads it), the logs directory. Logs are
# made its own as each responder starts.
own_dirs() {
	if ! id -u "$VD_USER" >/dev/null 2>&1; then
		say "stack: adding the system user $VD_USER for the responders"
		useradd --system --user-group --no-create-home --home-dir /nonexistent \
			--shell /usr/sbin/nologin "$VD_USER" ||
			die "cannot add the user $VD_USER (set VD_USER to an existing unprivileged user)"
	fi
	[ "$(id -u "$VD_USER")" -ne 0 ] || die "VD_USER=$VD_USER is root: responders never run as root"
	chown -R "$VD_USER:" "$STATE/cache" "$STATE/metrics"
	chown -R "$VD_USER:$NGINX_USER" "$RUNDIR/public"
	# A responder opens its log again after a rotation (SIGUSR2): it must
	# be able to make a new file there. The other parts' logs are opened
	# by root, or by the database's user through a descriptor root opened.
	chown "$VD_USER:" "$LOGS"
	[ ! -d "$SANITIZER_LOGS" ] || chown "$VD_USER:" "$SANITIZER_LOGS"
	searchable "$STATE" "$BINDIR" "$ROOT/data"
}

# The responders' user must reach the binaries (and the library beside
# them), the state directory and the sample data. A checkout in a private
# directory (mktemp -d, a home of mode 0700) hides them: each directory on
# the way is made searchable by others (o+x: a name must be known to be
# reached, nothing is listed), and said.
searchable() {
	local path dir
	local -A seen=()
	for path in "$@"; do
		dir=$path
		while [ -n "$dir" ] && [ "$dir" != / ] && [ -z "${seen[$dir]:-}" ]; do
			seen[$dir]=1
			# Only directories that others cannot search are asked about.
			if [ -d "$dir" ] && [ "$(($(stat -c '0%a' "$dir") & 1))" -eq 0 ] &&
				! as_responder test -x "$dir" 2>/dev/null; then
				say "stack: $dir: made searchable (o+x) for $VD_USER, which runs the responders"
				chmod o+x "$dir"
			fi
			dir=$(dirname "$dir")
		done
	done
}

# Run a command as the responders' user when we are root.
as_responder() {
	if [ "$IS_ROOT" = yes ]; then
		runuser -u "$VD_USER" -- "$@"
	else
		"$@"
	fi
}
