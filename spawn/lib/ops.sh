# shellcheck shell=bash
# spawn/lib/ops.sh: the commands over the parts: up, down, status, logs, pids,
# start, stop, check; events and demo hand over to spawn/vdstack.
# Sourced by spawn/stack (its say, warn, die and settings).

load_data() {
	[ -f "$DATA_FILE" ] || { warn "no sample data at $DATA_FILE"; return 0; }
	if ! as_responder "$BINDIR/tickets.fcgi" --load "$DATA_FILE" --state-dir "$STATE" \
		</dev/null >>"$LOGS/load.log" 2>&1; then
		tail -n 10 "$LOGS/load.log" >&2 || true
		die "loading $DATA_FILE failed (log: $LOGS/load.log)"
	fi
	say "data: $(tail -n 1 "$LOGS/load.log" 2>/dev/null || echo loaded)"
}

cmd_up() {
	make_dirs
	built || cmd_setup
	events_secret
	auth_secret
	save_settings
	start_db
	stop_unlisted
	local line
	local -a f
	while read -r line; do
		read -ra f <<<"$line"
		start_responder "${f[@]}"
	done < <(services)
	start_nginx
	load_data
	wait_subscribed
	say "up: $VD_PUBLIC_URL (state in $STATE)"
}

# Up means ready: each reply feed has subscribed to the tickets service
# (its first try may come before nginx is up; it retries within seconds).
wait_subscribed() {
	local token
	token=$(mint_token 60 operator)
	VD_OPERATOR_TOKEN=$token vdstack wait-subscribed --services "$SERVICES_CONF" \
		--url "$LOCAL_URL" --public-url "$VD_PUBLIC_URL"
}

cmd_down() {
	make_dirs
	stop_nginx
	local f id
	for f in "$PIDS"/*.pid; do
		[ -e "$f" ] || continue
		id=$(basename "$f" .pid)
		case $id in db | nginx) continue ;; esac
		stop_responder "${id%-*}" "${id##*-}"
	done
	stop_db
	rm -f "$SOCKETS"/*.sock "$SETTINGS"
}

# Print one status line per part; return 3 when something is not running.
cmd_status() {
	make_dirs
	local rc=0 pid name version workers live n
	if [ "$DB_EXTERNAL" = yes ]; then
		printf '%-18s %-9s %s\n' db external "$MONGODB_URI"
	else
		if [ "$PG_EXTERNAL" = yes ]; then
			printf '%-18s %-9s %s\n' postgres external "$VD_PG_URL"
		else
			pg_dirs
			pid=$(postgres_pid)
			if [ -n "$pid" ]; then
				printf '%-18s %-9s pid %s  %s\n' postgres running "$pid" "$PGDATA"
			else
				printf '%-18s %-9s\n' postgres stopped
				rc=3
			fi
		fi
		pid=$(db_pid)
		if [ -n "$pid" ]; then
			printf '%-18s %-9s pid %s  %s\n' db running "$pid" "$MONGODB_URI"
		else
			printf '%-18s %-9s\n' db stopped
			rc=3
		fi
	fi
	local sup
	while read -r name version workers _; do
		live=$(responder_pids "$name" "$version")
		sup=$(supervisor_pid "$name" "$version")
		n=$(wc -w <<<"$live")
		if [ "$n" -eq 0 ]; then
			printf '%-18s %-9s\n' "$name@$version" stopped
			rc=3
		elif [ -z "$sup" ]; then
			printf '%-18s %-9s pids %s (no multiwatch: restart it)\n' "$name@$version" unsupervised "$live"
			rc=3
		elif [ "$n" -lt "$workers" ]; then
			printf '%-18s %-9s pids %s (%s of %s; multiwatch %s)\n' "$name@$version" degraded "$live" "$n" "$workers" "$sup"
			rc=3
		else
			printf '%-18s %-9s pids %s (multiwatch %s)\n' "$name@$version" running "$live" "$sup"
		fi
	done < <(services)
	pid=$(nginx_pid)
	if [ -n "$pid" ]; then
		printf '%-18s %-9s pid %s  %s\n' nginx running "$pid" "$VD_PUBLIC_URL"
	else
		printf '%-18s %-9s\n' nginx stopped
		rc=3
	fi
	return "$rc"
}

cmd_logs() {
	local follow=no part=''
	while [ $# -gt 0 ]; do
		case $1 in
		-f | --follow) follow=yes ;;
		*) part=$1 ;;
		esac
		shift
	done
	local files=()
	case $part in
	'') files=("$LOGS"/*.log) ;;
	db) files=("$LOGS/db.log" "$LOGS/postgres.log") ;;
	postgres) files=("$LOGS/postgres.log") ;;
	nginx) files=("$LOGS/nginx-error.log" "$LOGS/vdispatch-access.log") ;;
	*@*) files=("$LOGS/${part%@*}-${part#*@}.log") ;;
	*) files=("$LOGS/$part"-*.log) ;;
	esac
	local existing=() f
	for f in "${files[@]}"; do
		[ -f "$f" ] && existing+=("$f")
	done
	[ ${#existing[@]} -gt 0 ] || die "no logs for ${part:-any part} in $LOGS"
	if [ "$follow" = yes ]; then
		exec tail -n 20 -F "${existing[@]}"
	fi
	tail -n 40 "${existing[@]}"
}

cmd_pids() {
	parse_part "$@"
	make_dirs
	case $PART in
	db) db_pid ;;
	nginx) nginx_pid ;;
	*) each_responder print_responder_pids "$PART" "$VERSION" ;;
	esac
}

print_responder_pids() { responder_pids "$1" "$2" | tr ' ' '\n' | sed '/^$/d'; }

# Split PART[@VERSION] into PART and VERSION.
parse_part() {
	[ $# -eq 1 ] || die "usage: spawn/stack start|stop|pids PART[@VERSION]"
	PART=${1%@*}
	VERSION=''
	[[ $1 == *@* ]] && VERSION=${1#*@}
	case $PART in
	db | postgres | nginx)
		[ -z "$VERSION" ] || die "$PART has no versions"
		;;
	*)
		responder_names | grep -qxF -- "$PART" ||
			die "unknown part '$PART' (db, nginx, or a responder of $SERVICES_CONF: $(responder_names | tr '\n' ' '))"
		;;
	esac
}

cmd_start() {
	parse_part "$@"
	make_dirs
	case $PART in
	db) start_db ;;
	postgres) start_postgres ;;
	nginx) start_nginx ;;
	*)
		built || die "not built: run spawn/stack setup"
		events_secret
		auth_secret
		each_responder start_responder "$PART" "$VERSION"
		;;
	esac
}

cmd_stop() {
	parse_part "$@"
	make_dirs
	case $PART in
	db) stop_db ;;
	postgres) stop_postgres ;;
	nginx) stop_nginx ;;
	*) each_responder stop_responder "$PART" "$VERSION" ;;
	esac
}

cmd_check() {
	[ "$MODE" = checkout ] || die "check needs a source checkout (tests/ is not installed)"
	lock
	cmd_setup
	cmd_up
	unlock
	eval "$(cmd_env)"
	export VD_STACK="$HERE/stack"
	# tests/run sets the test settings and restarts tickets with them.
	local rc=0
	"$ROOT/tests/run" || rc=$?
	return "$rc"
}

# --- events and demo: spawn/vdstack/events.py and demo.py ---------------------

cmd_events() {
	local token
	token=$(mint_token 300 operator)
	VD_OPERATOR_TOKEN=$token vdstack events --services "$SERVICES_CONF" \
		--url "$LOCAL_URL" -- "$@"
}

cmd_demo() {
	local seconds=15
	while [ $# -gt 0 ]; do
		case $1 in
		--seconds) seconds=${2:?--seconds needs a number}; shift ;;
		--seconds=*) seconds=${1#*=} ;;
		*) die "usage: spawn/stack demo [--seconds N]" ;;
		esac
		shift
	done
	[[ $seconds =~ ^[0-9]+$ ]] || die "--seconds needs a number"
	if ! cmd_status >/dev/null 2>&1; then
		lock
		cmd_up
		unlock
	fi
	# Adding a reply needs the role tickets.write: dispatch takes the
	# token from VD_TOKEN (not from its command line, which ps shows).
	local token operator
	token=$(mint_token 600 tickets.write)
	operator=$(mint_token 600 operator)
	VD_TOKEN=$token VD_OPERATOR_TOKEN=$operator vdstack demo --bindir "$BINDIR" \
		--logs "$LOGS" --services "$SERVICES_CONF" --url "$LOCAL_URL" \
		--public-url "$VD_PUBLIC_URL" --seconds "$seconds"
}
