# shellcheck shell=bash
# spawn/lib/config.sh: the stack's settings: where its state is, what the
# environment, STATE/vdispatch.env and the last `up` say, the secrets and
# tokens, and `env`.
# Sourced by spawn/stack (its say, warn, die and settings).

if [ -f "$ROOT/configure.ac" ] && [ -d "$ROOT/src" ]; then
	MODE=checkout
	DEFAULT_STATE=$ROOT/run
else
	MODE=installed
	DEFAULT_STATE=${XDG_STATE_HOME:-$HOME/.local/state}/vdispatch
fi
FERRETDB_SRC=$HERE/ferretdb
NGINX_TEMPLATE=$ROOT/nginx/conf.d/vdispatch.conf.in
DATA_FILE=$ROOT/data/tickets.json
WWW_SRC=$ROOT/www

mkdir -p "${VD_STATE_DIR:-$DEFAULT_STATE}"
STATE=$(cd "${VD_STATE_DIR:-$DEFAULT_STATE}" && pwd)
PIDS=$STATE/pids
LOGS=$STATE/logs

# The configuration, in the format of /etc/vdispatch (vdispatch.conf(5)):
# STATE/vdispatch.env and STATE/secrets.env (NAME=VALUE lines; the
# environment wins) and STATE/services.conf, when they are there; else the
# services.conf beside this script (and STATE/events.secret).
load_env_file() {
	local line name value
	while IFS= read -r line || [ -n "$line" ]; do
		[[ $line =~ ^[[:space:]]*([A-Za-z_][A-Za-z0-9_]*)=(.*)$ ]] || continue
		name=${BASH_REMATCH[1]} value=${BASH_REMATCH[2]}
		value=${value%"${value##*[![:space:]]}"}
		if [[ $value =~ ^\"(.*)\"$ ]] || [[ $value =~ ^\'(.*)\'$ ]]; then
			value=${BASH_REMATCH[1]}
		fi
		[ -n "${!name+set}" ] || export "$name=$value"
	done <"$1"
}
[ ! -f "$STATE/vdispatch.env" ] || load_env_file "$STATE/vdispatch.env"
[ ! -f "$STATE/secrets.env" ] || load_env_file "$STATE/secrets.env"
if [ -z "${VD_SERVICES_CONF:-}" ] && [ -f "$STATE/services.conf" ]; then
	SERVICES_CONF=$STATE/services.conf
else
	SERVICES_CONF=${VD_SERVICES_CONF:-$HERE/services.conf}
fi
PREFIX=$STATE/prefix
SETTINGS=$STATE/stack.env
LOCK=$STATE/stack.lock

# The responders and dispatch: built into STATE/prefix from a checkout;
# beside an installed copy, whose ROOT is $(prefix)/share/vdispatch.
if [ -n "${VD_BINDIR:-}" ]; then
	BINDIR=$VD_BINDIR
elif [ "$MODE" = checkout ]; then
	BINDIR=$PREFIX/bin
else
	BINDIR=$(cd "$ROOT/../.." && pwd)/bin
fi

IS_ROOT=no
[ "$(id -u)" -eq 0 ] && IS_ROOT=yes
NGINX_USER=${VD_NGINX_USER:-www-data}
# Responders never run as root: started by root, they run as this system
# user, which owns what they write (see own_dirs).
VD_USER=${VD_USER:-vdispatch}

# Settings: the environment wins, then what the last `up` saved, then the
# defaults. `up` saves them so that later commands find the same stack.
SAVED_LISTEN='' SAVED_DB_LISTEN='' SAVED_MONGODB_URI='' SAVED_SANITIZE='' SAVED_PUBLIC_URL=''
if [ -f "$SETTINGS" ]; then
	# shellcheck disable=SC1090
	. "$SETTINGS"
fi
VD_LISTEN=${VD_LISTEN:-${SAVED_LISTEN:-127.0.0.1:8080}}
VD_DB_LISTEN=${VD_DB_LISTEN:-${SAVED_DB_LISTEN:-127.0.0.1:27017}}
if [ -n "${MONGODB_URI:-}" ]; then
	DB_EXTERNAL=yes
	# The running stack's own embedded database, as `env` prints it.
	if [ -f "$SETTINGS" ] && [ -z "$SAVED_MONGODB_URI" ] &&
		[ "$MONGODB_URI" = "mongodb://$VD_DB_LISTEN" ]; then
		DB_EXTERNAL=no
	fi
elif [ -n "$SAVED_MONGODB_URI" ]; then
	DB_EXTERNAL=yes
	MONGODB_URI=$SAVED_MONGODB_URI
else
	DB_EXTERNAL=no
	MONGODB_URI=mongodb://$VD_DB_LISTEN
fi

# VD_SANITIZE=1: the responders, libvdispatch and dispatch of the sanitized
# build (AddressSanitizer and UBSan, see build_sanitized) instead of the
# plain one; `up` saves the choice, VD_SANITIZE=0 undoes it. Their reports
# go to files in STATE/logs/sanitizer, report.PROGRAM.PID (a worker's
# stderr is its log, and what runs a program may have closed its own):
# the options are exported, so that every program of the build that the
# stack or a test starts reports there. UBSan stops a program at its first
# finding, as ASan does (the build has -fno-sanitize-recover=all too).
# LeakSanitizer checks every program as it exits: a worker stopped by
# SIGTERM returns from main having freed what it allocated, so what is left
# leaked while serving, and one that refuses to start frees what it made
# too (lsan.supp is for what cannot be freed; it lists nothing today); a
# worker killed by SIGKILL is not checked.
case ${VD_SANITIZE:-${SAVED_SANITIZE:-0}} in
1 | yes | true) SANITIZE=1 ;;
0 | no | false) SANITIZE=0 ;;
*) die "VD_SANITIZE is 1 or 0, not '${VD_SANITIZE:-}'" ;;
esac
SANITIZED=$STATE/sanitized
SANITIZER_LOGS=$LOGS/sanitizer
if [ "$SANITIZE" = 1 ]; then
	[ "$MODE" = checkout ] || die "VD_SANITIZE=1 needs a source checkout"
	[ -n "${VD_BINDIR:-}" ] || BINDIR=$SANITIZED/prefix/bin
	# Ours first, so that the caller's own options win; once only.
	if [[ ${ASAN_OPTIONS:-} != *"log_path=$SANITIZER_LOGS/"* ]]; then
		ASAN_OPTIONS="log_path=$SANITIZER_LOGS/report:log_exe_name=1:detect_leaks=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
	fi
	if [[ ${LSAN_OPTIONS:-} != *"suppressions=$HERE/lsan.supp"* ]]; then
		LSAN_OPTIONS="suppressions=$HERE/lsan.supp:print_suppressions=0${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
	fi
	if [[ ${UBSAN_OPTIONS:-} != *"log_path=$SANITIZER_LOGS/"* ]]; then
		UBSAN_OPTIONS="log_path=$SANITIZER_LOGS/report:log_exe_name=1:halt_on_error=1:print_stacktrace=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
	fi
	export ASAN_OPTIONS UBSAN_OPTIONS LSAN_OPTIONS
fi
# The URL others reach nginx at (what the responders register and the reply
# feed subscribes with): a given one wins, then the one the last `up` was
# given, else nginx's address. The stack's own requests go to nginx's
# address (LOCAL_URL), which may not be the public one (a proxy in front).
LOCAL_URL=http://$VD_LISTEN
VD_PUBLIC_URL=${VD_PUBLIC_URL:-${SAVED_PUBLIC_URL:-$LOCAL_URL}}
# The last good copy of the registry, for the responders and dispatch to
# keep calling from while the registry database is down.
VD_REGISTRY_CACHE=${VD_REGISTRY_CACHE:-$STATE/cache/registry-cache.json}
export MONGODB_URI VD_PUBLIC_URL VD_REGISTRY_CACHE

# Print services.conf without comments: NAME VERSION WORKERS [ARGS...].
services() {
	[ -f "$SERVICES_CONF" ] || die "missing $SERVICES_CONF"
	sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$SERVICES_CONF"
}

# Save the settings of the running stack (see above).
save_settings() {
	local uri=''
	[ "$DB_EXTERNAL" = yes ] && uri=$MONGODB_URI
	{
		printf 'SAVED_LISTEN=%q\n' "$VD_LISTEN"
		printf 'SAVED_DB_LISTEN=%q\n' "$VD_DB_LISTEN"
		printf 'SAVED_MONGODB_URI=%q\n' "$uri"
		printf 'SAVED_SANITIZE=%q\n' "$SANITIZE"
		[ "$VD_PUBLIC_URL" = "$LOCAL_URL" ] ||
			printf 'SAVED_PUBLIC_URL=%q\n' "$VD_PUBLIC_URL"
	} >"$SETTINGS"
}

# Set EVENTS_SECRET: from the environment, or from STATE/events.secret,
# generated once.
events_secret() {
	if [ -z "${EVENTS_SECRET:-}" ]; then
		if [ ! -s "$STATE/events.secret" ]; then
			(umask 077 && printf 'whsec_%s\n' \
				"$(head -c 32 /dev/urandom | base64 -w0)" >"$STATE/events.secret")
		fi
		EVENTS_SECRET=$(cat "$STATE/events.secret")
	fi
	export EVENTS_SECRET
}

# The secret of the responders' bearer tokens (HS256): from the
# environment, or made once in STATE/auth.secret (32 random bytes as
# base64url; the token key is that text), mode 0600, owned by the
# responders' user, which reads it at start (VD_AUTH_HS256_SECRET_FILE).
# The reply feed's own token (subscriptions.manage, a year) is minted at
# every start into STATE/replyfeed.token, which it reads again at every
# renewal of its subscription.
auth_secret() {
	if [ -z "${VD_AUTH_HS256_SECRET:-}" ]; then
		if [ ! -s "$STATE/auth.secret" ]; then
			(umask 077 && head -c 32 /dev/urandom | base64 -w0 | tr '+/' '-_' |
				tr -d '=' >"$STATE/auth.secret")
		fi
		[ "$IS_ROOT" = no ] || chown "$VD_USER:" "$STATE/auth.secret"
		chmod 600 "$STATE/auth.secret"
		export VD_AUTH_HS256_SECRET_FILE=$STATE/auth.secret
	fi
	(umask 077 && mint_token 31536000 subscriptions.manage >"$STATE/replyfeed.token.new")
	[ "$IS_ROOT" = no ] || chown "$VD_USER:" "$STATE/replyfeed.token.new"
	mv -f "$STATE/replyfeed.token.new" "$STATE/replyfeed.token"
}

# mint_token TTL ROLE...: an HS256 JWT (RFC 7519) with sub, iat, exp and
# roles, signed with the stack's secret by `dispatch token` (OpenSSL's HMAC,
# as the units' vdispatch-setup mints; the responders check it with
# OpenSSL). iss and aud as the responders are told to check.
mint_token() {
	local ttl=$1
	shift
	local r
	for r in "$@"; do
		[[ " $ROLES " == *" $r "* ]] || die "unknown role '$r' (roles: $ROLES)"
	done
	[ -x "$BINDIR/dispatch" ] || die "no $BINDIR/dispatch: run spawn/stack setup"
	if [ -n "${VD_AUTH_HS256_SECRET:-}" ]; then
		"$BINDIR/dispatch" token --sub spawn-stack --ttl "$ttl" "$@"
	else
		[ -s "$STATE/auth.secret" ] || die "no $STATE/auth.secret yet: run spawn/stack up"
		"$BINDIR/dispatch" token --secret-file "$STATE/auth.secret" \
			--sub spawn-stack --ttl "$ttl" "$@"
	fi
}

cmd_token() {
	local ttl=3600
	while [ $# -gt 0 ]; do
		case $1 in
		--ttl) ttl=${2:?--ttl needs seconds}; shift ;;
		--ttl=*) ttl=${1#*=} ;;
		*) break ;;
		esac
		shift
	done
	[[ $ttl =~ ^[1-9][0-9]*$ ]] || die "--ttl needs seconds"
	[ $# -gt 0 ] || die "usage: spawn/stack token [--ttl SECONDS] ROLE... (roles: $ROLES)"
	mint_token "$ttl" "$@"
}

# `env`: the settings of this stack as shell exports (tests/run, bench/run
# and spawn/cluster read them).
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

# Run the Python part of the stack (spawn/vdstack: the nginx configuration,
# the events command, the demo).
vdstack() { python3 -B "$HERE/vdstack" "$@"; }
