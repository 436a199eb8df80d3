# shellcheck shell=bash
# spawn/lib/ops.sh: the commands over the parts: up, down, status, logs, pids, start, stop, check, events.
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

# The subscriptions as the tickets service lists them, one URL a line.
subscriptions() {
	local v
	v=$(services | awk '$1 == "tickets" {print $2; exit}')
	[ -n "$v" ] || return 0
	curl -fsS --max-time 5 -H "Authorization: Bearer $(mint_token 60 operator)" \
		"$VD_PUBLIC_URL/tickets/v$v/tickets/subscriptions" 2>/dev/null |
		python3 -c 'import json,sys; [print(s["url"]) for s in json.load(sys.stdin)]' 2>/dev/null
}

# Up means ready: each reply feed has subscribed to the tickets service
# (its first try may come before nginx is up; it retries within seconds).
wait_subscribed() {
	local v url deadline=$((SECONDS + 30))
	for v in $(services | awk '$1 == "replyfeed" {print $2}'); do
		url="$VD_PUBLIC_URL/replyfeed/v$v/replyEvent"
		until subscriptions | grep -qxF "$url"; do
			if [ "$SECONDS" -ge "$deadline" ]; then
				warn "replyfeed@$v has not subscribed yet (see its log)"
				return 0
			fi
			sleep 0.5
		done
		say "replyfeed@$v: subscribed ($url)"
	done
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

cmd_env() {
	printf 'export VD_STATE_DIR=%q\n' "$STATE"
	printf 'export VD_LISTEN=%q\n' "$VD_LISTEN"
	printf 'export VD_DB_LISTEN=%q\n' "$VD_DB_LISTEN"
	printf 'export VD_PUBLIC_URL=%q\n' "$VD_PUBLIC_URL"
	printf 'export MONGODB_URI=%q\n' "$MONGODB_URI"
	printf 'export VD_BINDIR=%q\n' "$BINDIR"
	printf 'export VD_REGISTRY_CACHE=%q\n' "$VD_REGISTRY_CACHE"
	printf 'export VD_EVENTS_SECRET_FILE=%q\n' "$STATE/events.secret"
	printf 'export VD_AUTH_HS256_SECRET_FILE=%q\n' "$STATE/auth.secret"
	printf 'export VD_SERVICES_CONF=%q\n' "$SERVICES_CONF"
	printf 'export VD_SANITIZE=%q\n' "$SANITIZE"
	if [ "$SANITIZE" = 1 ]; then
		printf 'export ASAN_OPTIONS=%q\n' "$ASAN_OPTIONS"
		printf 'export UBSAN_OPTIONS=%q\n' "$UBSAN_OPTIONS"
		printf 'export LSAN_OPTIONS=%q\n' "$LSAN_OPTIONS"
	fi
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

# --- events: the tickets service's delivery records ---------------------------

cmd_events() {
	local v base
	v=$(services | awk '$1 == "tickets" {print $2; exit}')
	[ -n "$v" ] || die "no tickets service in $SERVICES_CONF"
	base=$VD_PUBLIC_URL/tickets/v$v/tickets
	local -a req
	case ${1:-subscriptions} in
	subscriptions) req=("$base/subscriptions") ;;
	deadletters)
		req=("$base/deadletters${2:+?subscription=$2}") ;;
	show)
		[ -n "${2:-}" ] || die "usage: spawn/stack events show EVENT_ID"
		req=("$base/events/$2") ;;
	replay)
		[ -n "${2:-}" ] || die "usage: spawn/stack events replay EVENT_ID [SUBSCRIPTION]"
		req=(-X POST -H 'Content-Type: application/json'
			-d "${3:+{\"subscription\":\"$3\"\}}" "$base/events/$2/replay")
		[ -n "${3:-}" ] || req=(-X POST "$base/events/$2/replay") ;;
	replay-since)
		[ -n "${3:-}" ] || die "usage: spawn/stack events replay-since SUBSCRIPTION 2026-11-26T10:00:00Z"
		req=(-X POST -H 'Content-Type: application/json'
			-d "{\"since\":\"$3\"}" "$base/subscriptions/$2/replay") ;;
	*) die "events: unknown command ${1} (see spawn/stack --help)" ;;
	esac
	local out rc=0
	out=$(curl -sS --max-time 30 -w '\n%{http_code}' \
		-H "Authorization: Bearer $(mint_token 300 operator)" "${req[@]}") || rc=$?
	[ "$rc" -eq 0 ] || die "cannot reach $base (is the stack up?)"
	printf '%s\n' "${out%$'\n'*}" | python3 -m json.tool 2>/dev/null ||
		printf '%s\n' "${out%$'\n'*}"
	case ${out##*$'\n'} in 2??) return 0 ;; *) return 1 ;; esac
}
