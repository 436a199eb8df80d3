# shellcheck shell=bash
# spawn/lib/database.sh: the database: the stack's PostgreSQL cluster and
# FerretDB on it.
# Sourced by spawn/stack (its say, warn, die and settings).

# The default database is FerretDB (vd-ferretdb, MongoDB's wire protocol) on
# a PostgreSQL cluster of the stack's own: Debian's PostgreSQL 15, run as an
# unprivileged user (postgres when the stack runs as root), reached over a
# unix socket only, with peer authentication. VD_PG_URL points FerretDB at
# an existing PostgreSQL instead; MONGODB_URI replaces both.

PG_BINDIR=${VD_PG_BINDIR:-/usr/lib/postgresql/15/bin}
PG_EXTERNAL=no
[ -n "${VD_PG_URL:-}" ] && PG_EXTERNAL=yes
DB_INDEXES=$HERE/db-indexes.conf

# The user the database runs as.
db_user() {
	if [ "$IS_ROOT" = yes ]; then echo postgres; else id -un; fi
}

# Run a command as the database's user.
as_db_user() {
	if [ "$IS_ROOT" = yes ]; then
		setpriv --reuid=postgres --regid=postgres --init-groups -- "$@"
	else
		"$@"
	fi
}

# The directory of the cluster (data/, sock/, and the copies of what the
# database's user runs and reads). STATE/pg, unless that user cannot search
# its way into STATE (a checkout under /root or in a mktemp -d directory)
# or the socket's path would be too long: then a directory under
# /var/lib/vdispatch, linked from STATE/pg.
pg_dir() {
	if [ ${#STATE} -lt 80 ] && [ ! -L "$STATE/pg" ] &&
		{ [ "$IS_ROOT" = no ] || as_db_user test -x "$STATE" 2>/dev/null; }; then
		printf '%s/pg\n' "$STATE"
		return
	fi
	[ "$IS_ROOT" = yes ] || die "the state directory's path is too long for a socket; set VD_STATE_DIR"
	printf '/var/lib/vdispatch/%s/pg\n' "$(printf '%s' "$STATE" | md5sum | cut -c1-12)"
}

# Set PGDIR, PGDATA and PGSOCK, and make the directories.
pg_dirs() {
	PGDIR=$(pg_dir)
	PGDATA=$PGDIR/data
	PGSOCK=$PGDIR/sock
	if [ "$PGDIR" != "$STATE/pg" ]; then
		mkdir -p "$PGDIR"
		ln -sfn "$PGDIR" "$STATE/pg"
	fi
	mkdir -p "$PGDIR/bin" "$PGSOCK"
	if [ "$IS_ROOT" = yes ]; then
		chown postgres:postgres "$PGDIR" "$PGDIR/bin" "$PGSOCK"
		[ ! -d "$PGDATA" ] || chown postgres:postgres "$PGDATA"
	fi
	chmod 700 "$PGSOCK"
	chmod 755 "$PGDIR"
}

# The connection string FerretDB uses.
pg_url() {
	if [ "$PG_EXTERNAL" = yes ]; then
		printf '%s\n' "$VD_PG_URL"
	else
		printf 'postgres:///ferretdb?host=%s\n' "$PGSOCK"
	fi
}

postgres_pid() {
	local pid
	[ -r "$PGDATA/postmaster.pid" ] || return 0
	pid=$(head -n 1 "$PGDATA/postmaster.pid" 2>/dev/null)
	pid_is "$pid" postgres && printf '%s\n' "$pid"
	return 0
}

# PostgreSQL's own settings, written at every start: what an acknowledged
# write needs (synchronous_commit, fsync) and what FerretDB's pushed-down
# filters need to use the GIN indexes (a custom plan for each query).
pg_settings() {
	cat <<-SETTINGS
	# Written by spawn/stack at every start: edit spawn/stack instead.
	listen_addresses = ''
	unix_socket_directories = '$PGSOCK'
	unix_socket_permissions = 0700
	fsync = on
	synchronous_commit = on
	full_page_writes = on
	plan_cache_mode = force_custom_plan
	max_connections = 200
	shared_buffers = 256MB
	log_min_messages = warning
	log_line_prefix = '%m [%p] '
	SETTINGS
}

# Start DAEMON ARGS... as the database's user, nobody's child once we exit,
# its output appended to LOG (opened here, where the user may not reach).
spawn_db_daemon() {
	local log=$1
	shift
	(
		cd /
		if [ "$IS_ROOT" = yes ]; then
			set -- setpriv --reuid=postgres --regid=postgres --init-groups -- "$@"
		fi
		setsid nohup "$@" </dev/null >>"$log" 2>&1 9>&- &
		echo $!
	)
}

start_postgres() {
	[ "$PG_EXTERNAL" = no ] || { say "postgres: external ($VD_PG_URL)"; return 0; }
	pg_dirs
	local pid i
	pid=$(postgres_pid)
	if [ -n "$pid" ]; then
		say "postgres: already running (pid $pid)"
		return 0
	fi
	[ -x "$PG_BINDIR/postgres" ] || die "PostgreSQL 15 is not installed: run spawn/stack setup"
	if [ ! -s "$PGDATA/PG_VERSION" ]; then
		mkdir -p "$PGDATA"
		[ "$IS_ROOT" = no ] || chown postgres:postgres "$PGDATA"
		as_db_user "$PG_BINDIR/initdb" -D "$PGDATA" -E UTF8 --no-locale \
			--auth-local=peer --auth-host=reject >>"$LOGS/postgres.log" 2>&1 ||
			die "initdb failed (log: $LOGS/postgres.log)"
		echo "include 'vdispatch.conf'" >>"$PGDATA/postgresql.conf"
	fi
	pg_settings >"$PGDATA/vdispatch.conf"
	[ "$IS_ROOT" = no ] || chown postgres:postgres "$PGDATA/vdispatch.conf"
	spawn_db_daemon "$LOGS/postgres.log" "$PG_BINDIR/postgres" -D "$PGDATA" >/dev/null
	for ((i = 0; i < 300; i++)); do
		"$PG_BINDIR/pg_isready" -q -h "$PGSOCK" 2>/dev/null && break
		sleep 0.1
	done
	pid=$(postgres_pid)
	if [ -z "$pid" ] || ! "$PG_BINDIR/pg_isready" -q -h "$PGSOCK" 2>/dev/null; then
		tail -n 20 "$LOGS/postgres.log" >&2 || true
		die "PostgreSQL did not start (log: $LOGS/postgres.log)"
	fi
	if [ "$(as_db_user "$PG_BINDIR/psql" -h "$PGSOCK" -d postgres -tAc \
		"SELECT 1 FROM pg_database WHERE datname = 'ferretdb'")" != 1 ]; then
		as_db_user "$PG_BINDIR/psql" -q -h "$PGSOCK" -d postgres \
			-c 'CREATE DATABASE ferretdb' >>"$LOGS/postgres.log" 2>&1 ||
			die "cannot create the database ferretdb (log: $LOGS/postgres.log)"
	fi
	say "postgres: started (pid $pid, data in $PGDATA)"
}

stop_postgres() {
	[ "$PG_EXTERNAL" = no ] || { say "postgres: external, not stopped"; return 0; }
	pg_dirs
	local pid i
	pid=$(postgres_pid)
	if [ -z "$pid" ]; then
		say "postgres: not running"
		return 0
	fi
	# SIGINT: "fast" shutdown, which does not wait for FerretDB's
	# connections to close; what was committed is on disk.
	kill -INT "$pid" 2>/dev/null || true
	for ((i = 0; i < 300; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	! kill -0 "$pid" 2>/dev/null || terminate 5 "$pid"
	say "postgres: stopped"
}

db_pid() {
	local pid
	pid=$(read_pids "$PIDS/db.pid")
	pid=${pid// /}
	pid_is "$pid" vd-ferretdb && printf '%s\n' "$pid"
	return 0
}

start_db() {
	if [ "$DB_EXTERNAL" = yes ]; then
		say "db: external ($MONGODB_URI)"
		return 0
	fi
	start_postgres
	local pid
	pid=$(db_pid)
	if [ -n "$pid" ]; then
		say "db: already running (pid $pid)"
		return 0
	fi
	port_open "$VD_DB_LISTEN" &&
		die "$VD_DB_LISTEN is already in use by another process; set VD_DB_LISTEN to a free address, or MONGODB_URI to use that server"
	[ -x "$STATE/bin/vd-ferretdb" ] || die "the embedded database is not built: run spawn/stack setup"
	pg_dirs
	# The database's user runs its own copies (it may not reach STATE).
	cmp -s "$STATE/bin/vd-ferretdb" "$PGDIR/bin/vd-ferretdb" ||
		install -m 755 "$STATE/bin/vd-ferretdb" "$PGDIR/bin/vd-ferretdb"
	install -m 644 "$DB_INDEXES" "$PGDIR/bin/db-indexes.conf"
	pid=$(spawn_db_daemon "$LOGS/db.log" "$PGDIR/bin/vd-ferretdb" \
		-listen "$VD_DB_LISTEN" -postgresql-url "$(pg_url)" \
		-indexes "$PGDIR/bin/db-indexes.conf" -log-level warn)
	echo "$pid" >"$PIDS/db.pid"
	if ! wait_port "$VD_DB_LISTEN" 30; then
		tail -n 20 "$LOGS/db.log" >&2 || true
		terminate 5 "$pid"
		rm -f "$PIDS/db.pid"
		die "the embedded database did not start (log: $LOGS/db.log)"
	fi
	say "db: started (pid $pid, $MONGODB_URI, on $(pg_url))"
}

# Stop FerretDB, then PostgreSQL.
stop_db() {
	if [ "$DB_EXTERNAL" = yes ]; then
		say "db: external ($MONGODB_URI), not stopped"
		return 0
	fi
	local pid
	pid=$(db_pid)
	if [ -n "$pid" ]; then
		terminate 15 "$pid"
		say "db: stopped"
	else
		say "db: not running"
	fi
	rm -f "$PIDS/db.pid"
	stop_postgres
}
