# shellcheck shell=bash
# spawn/lib/nginx.sh: nginx: the stack's own configuration rendered from the template, started, reloaded and stopped; `nginx-conf` for the system's nginx.
# Sourced by spawn/stack (its say, warn, die and settings).

nginx_cmd() {
	nginx -p "$STATE/nginx" -c "$STATE/nginx/nginx.conf" -e "$LOGS/nginx-error.log" "$@"
}

nginx_pid() {
	local pid
	pid=$(read_pids "$PIDS/nginx.pid")
	pid=${pid// /}
	pid_is "$pid" nginx && printf '%s\n' "$pid"
	return 0
}

# Escape a value for the right-hand side of a sed s||| command.
sed_value() { printf '%s' "$1" | sed -e 's/[\\|&]/\\&/g'; }

# Print the versions of responder NAME in services.conf, newest first in
# semver order (a pre-release before its release; build metadata ignored).
versions_newest_first() {
	services | awk -v n="$1" '$1 == n {
		v = $2; sub(/\+.*/, "", v); pre = ""
		if (i = index(v, "-")) { pre = substr(v, i + 1); v = substr(v, 1, i - 1) }
		split(v, p, ".")
		printf "%d %d %d %d %s %s\n", p[1], p[2], p[3], pre == "" ? 1 : 0,
			pre == "" ? "-" : pre, $2
	}' | sort -k1,1nr -k2,2nr -k3,3nr -k4,4nr -k5,5Vr | awk '{print $6}' | uniq
}

# Print the edge's upstreams and map (the template's @EDGE@): for each
# responder NAME, /api/NAME/... reaches upstream vd-edge-NAME for GET and
# HEAD (the newest version first; the older versions of the same major as
# backups, tried when it fails) and vd-edge-NAME-post for every other
# method (the newest version alone: nginx never sends a POST twice).
# Pre-releases are left out, unless NAME has nothing else.
edge_conf() {
	local name v newest major sock map=''
	local -a versions releases
	for name in $(responder_names); do
		mapfile -t versions < <(versions_newest_first "$name")
		[ ${#versions[@]} -gt 0 ] || continue
		releases=()
		for v in "${versions[@]}"; do
			[[ $v == *-* ]] || releases+=("$v")
		done
		[ ${#releases[@]} -eq 0 ] || versions=("${releases[@]}")
		newest=${versions[0]}
		major=${newest%%.*}
		sock="unix:$RUNDIR/sockets/$name-$newest.sock"
		# A newest version that fails 3 times in 10 s rests for 10 s
		# (all nginx workers agree: zone): GETs go to the backups.
		printf 'upstream vd-edge-%s {\n' "$name"
		printf '    zone vd-edge-%s 64k;\n' "$name"
		printf '    server %s max_fails=3 fail_timeout=10s;\n' "$sock"
		for v in "${versions[@]:1}"; do
			[ "${v%%.*}" = "$major" ] || continue
			printf '    server unix:%s/sockets/%s-%s.sock backup;\n' "$RUNDIR" "$name" "$v"
		done
		printf '}\n'
		printf 'upstream vd-edge-%s-post {\n    server %s;\n}\n' "$name" "$sock"
		map="$map    \"$name:GET\" vd-edge-$name;
    \"$name:HEAD\" vd-edge-$name;
    \"~^$name:\" vd-edge-$name-post;
"
	done
	printf 'map "$vd_edge_name:$request_method" $vd_edge_upstream {\n    default "";\n%s}\n' "$map"
}

# The limit on writes and operator paths per client address (nginx's
# limit_req): VD_LIMIT_RATE (N r/s or N r/m) and VD_LIMIT_BURST; sets
# LIMIT_RATE, LIMIT_BURST and LIMIT_RETRY_AFTER (the seconds one request's
# slot takes to come back, at least 1).
limit_settings() {
	LIMIT_RATE=${VD_LIMIT_RATE:-10r/s}
	LIMIT_BURST=${VD_LIMIT_BURST:-20}
	[[ $LIMIT_RATE =~ ^([1-9][0-9]*)r/([sm])$ ]] ||
		die "VD_LIMIT_RATE must be N r/s or N r/m, e.g. 10r/s (not '$LIMIT_RATE')"
	local n=${BASH_REMATCH[1]} per=1
	[ "${BASH_REMATCH[2]}" = m ] && per=60
	LIMIT_RETRY_AFTER=$(((per + n - 1) / n))
	[[ $LIMIT_BURST =~ ^[0-9]+$ ]] || die "VD_LIMIT_BURST must be a number (not '$LIMIT_BURST')"
}

# The template's @VERSIONS@: each responder's versions, newest first, as
# JSON members ("tickets":["1.0.1","1.0.0"],"replyfeed":["1.0.0"]).
versions_json() {
	local name v sep='' out=''
	for name in $(responder_names); do
		out="$out$sep\"$name\":["
		sep=''
		for v in $(versions_newest_first "$name"); do
			out="$out$sep\"$v\""
			sep=,
		done
		out="$out]"
		sep=,
	done
	printf '%s\n' "$out"
}

# Print the web page's directory for nginx (the template's @WWWDIR@): www/
# of the checkout or of the installed copy, where the nginx workers can
# read it; else a copy in the run directory, made again at each start.
www_dir() {
	[ -f "$WWW_SRC/index.html" ] || die "missing $WWW_SRC/index.html"
	if [ "$IS_ROOT" = no ] ||
		runuser -u "$NGINX_USER" -- test -r "$WWW_SRC/index.html" 2>/dev/null; then
		printf '%s\n' "$WWW_SRC"
		return
	fi
	rm -rf "$RUNDIR/www.new"
	cp -R "$WWW_SRC" "$RUNDIR/www.new"
	chmod -R a+rX "$RUNDIR/www.new"
	rm -rf "$RUNDIR/www"
	mv "$RUNDIR/www.new" "$RUNDIR/www"
	printf '%s\n' "$RUNDIR/www"
}

# Print the template rendered for the sockets in RUNDIR, the access log in
# LOGDIR and the web page in WWW, from services.conf and the settings.
# The template's opening comment explains the @VARS@: left out here.
# @EDGE@ stands on a line of its own and becomes several.
vdispatch_conf() {
	local rundir=$1 logdir=$2 www=$3 known='' name version
	[ -f "$NGINX_TEMPLATE" ] || die "missing $NGINX_TEMPLATE"
	while read -r name version _; do
		known="$known$name-$version 1; "
	done < <(services)
	limit_settings
	echo "# Generated by spawn/stack from vdispatch.conf.in and services.conf (vdispatch.conf(5))"
	sed -e '1,/^[^#]/{/^#/d}' \
		-e "s|@LISTEN@|$(sed_value "$VD_LISTEN")|g" \
		-e "s|@RUNDIR@|$(sed_value "$rundir")|g" \
		-e "s|@LOGDIR@|$(sed_value "$logdir")|g" \
		-e "s|@SERVICES@|$(sed_value "$known")|g" \
		-e "s|@LIMIT_RATE@|$LIMIT_RATE|g" \
		-e "s|@LIMIT_BURST@|$LIMIT_BURST|g" \
		-e "s|@LIMIT_RETRY_AFTER@|$LIMIT_RETRY_AFTER|g" \
		-e "s|@WWWDIR@|$(sed_value "$www")|g" \
		-e "s|@VERSIONS@|$(sed_value "$(versions_json)")|g" \
		"$NGINX_TEMPLATE" |
		VD_EDGE=$(RUNDIR=$rundir edge_conf) awk '/^[[:space:]]*@EDGE@[[:space:]]*$/ {
			print ENVIRON["VD_EDGE"]; next } { print }' |
		feed_blocks "$(services | awk '$1 == "replyfeed" {print $2}')"
}

# Repeat what of the template names @FEED_VERSION@ for each of VERSIONS,
# the version in its place (none: nothing): the block of the reply feed's
# latest replies, a run of consecutive location blocks whose first line
# names it (their braces counted: no brace in strings or comments inside),
# and any other line that names it (not a comment).
feed_blocks() {
	VD_FEED_VERSIONS=$1 awk '
	function opens() { return $0 ~ /^[[:space:]]*location .*@FEED_VERSION@.*\{[[:space:]]*$/ }
	function flush(   n, v, i, out) {
		n = split(ENVIRON["VD_FEED_VERSIONS"], v, /[[:space:]]+/)
		for (i = 1; i <= n; i++) {
			if (v[i] == "") continue
			out = buf
			gsub(/@FEED_VERSION@/, v[i], out)
			printf "%s", out
		}
		buf = ""; state = 0
	}
	state == 2 && !opens() { flush() }
	state == 0 && opens() { state = 1; depth = 0 }
	state == 0 && index($0, "@FEED_VERSION@") && $0 !~ /^[[:space:]]*#/ {
		buf = $0 "\n"; flush(); next
	}
	state == 2 { state = 1 }
	state == 1 {
		buf = buf $0 "\n"
		depth += gsub(/\{/, "{") - gsub(/\}/, "}")
		if (depth == 0) state = 2
		next
	}
	{ print }
	END { if (state == 2) flush() }'
}

# The file for an nginx of the system's (Debian: /etc/nginx/conf.d/, in
# http{} of its own nginx.conf), for the systemd units' sockets:
#   nginx-conf [--rundir DIR] [--logdir DIR] [--wwwdir DIR]
# (defaults /run/vdispatch, /var/log/nginx, the web page beside this script).
cmd_nginx_conf() {
	local rundir=/run/vdispatch logdir=/var/log/nginx www=$WWW_SRC
	while [ $# -gt 0 ]; do
		case $1 in
		--rundir) rundir=$2; shift 2 ;;
		--logdir) logdir=$2; shift 2 ;;
		--wwwdir) www=$2; shift 2 ;;
		*) die "nginx-conf: unknown option '$1'" ;;
		esac
	done
	vdispatch_conf "$rundir" "$logdir" "$www"
}

# Render the nginx configuration into STATE/nginx; print "changed" when it
# differs from what is there.
render_nginx() {
	local dir=$STATE/nginx
	mkdir -p "$dir/tmp"
	vdispatch_conf "$RUNDIR" "$LOGS" "$(www_dir)" >"$dir/vdispatch.conf.new"
	if [ -f /etc/nginx/fastcgi_params ]; then
		cp /etc/nginx/fastcgi_params "$dir/fastcgi_params.new"
	else
		cat >"$dir/fastcgi_params.new" <<'EOF'
fastcgi_param  QUERY_STRING       $query_string;
fastcgi_param  REQUEST_METHOD     $request_method;
fastcgi_param  CONTENT_TYPE       $content_type;
fastcgi_param  CONTENT_LENGTH     $content_length;
fastcgi_param  SCRIPT_NAME        $fastcgi_script_name;
fastcgi_param  REQUEST_URI        $request_uri;
fastcgi_param  DOCUMENT_URI       $document_uri;
fastcgi_param  SERVER_PROTOCOL    $server_protocol;
fastcgi_param  REQUEST_SCHEME     $scheme;
fastcgi_param  GATEWAY_INTERFACE  CGI/1.1;
fastcgi_param  SERVER_SOFTWARE    nginx/$nginx_version;
fastcgi_param  REMOTE_ADDR        $remote_addr;
fastcgi_param  REMOTE_PORT        $remote_port;
fastcgi_param  SERVER_ADDR        $server_addr;
fastcgi_param  SERVER_PORT        $server_port;
fastcgi_param  SERVER_NAME        $server_name;
EOF
	fi
	# The MIME types of Debian's own nginx.conf, so that the stack's nginx
	# answers as a stock Debian nginx with the template in conf.d would.
	local mime=''
	[ -f /etc/nginx/mime.types ] && mime='include /etc/nginx/mime.types;'
	{
		echo "# Generated by spawn/stack: edit nginx/conf.d/vdispatch.conf.in instead."
		[ "$IS_ROOT" = yes ] && echo "user $NGINX_USER;"
		cat <<EOF
worker_processes auto;
pid $PIDS/nginx.pid;
error_log $LOGS/nginx-error.log warn;

events {
    worker_connections 1024;
}

http {
    client_body_temp_path $dir/tmp/body;
    fastcgi_temp_path $dir/tmp/fastcgi;
    proxy_temp_path $dir/tmp/proxy;
    uwsgi_temp_path $dir/tmp/uwsgi;
    scgi_temp_path $dir/tmp/scgi;
    sendfile on;
    tcp_nopush on;
    keepalive_timeout 65;
    $mime
    include $dir/vdispatch.conf;
}
EOF
	} >"$dir/nginx.conf.new"
	local f changed=no
	for f in vdispatch.conf fastcgi_params nginx.conf; do
		if cmp -s "$dir/$f.new" "$dir/$f"; then
			rm -f "$dir/$f.new"
		else
			mv -f "$dir/$f.new" "$dir/$f"
			changed=yes
		fi
	done
	[ "$changed" = no ] || echo changed
}

start_nginx() {
	command -v nginx >/dev/null || die "nginx is missing: run spawn/stack setup"
	local changed pid out i
	changed=$(render_nginx)
	if ! out=$(nginx_cmd -t -q 2>&1); then
		printf '%s\n' "$out" >&2
		die "nginx rejects $STATE/nginx/nginx.conf"
	fi
	pid=$(nginx_pid)
	if [ -n "$pid" ]; then
		if [ -n "$changed" ]; then
			kill -HUP "$pid"
			say "nginx: configuration reloaded (pid $pid)"
		else
			say "nginx: already running (pid $pid, $VD_PUBLIC_URL)"
		fi
		return 0
	fi
	port_open "$VD_LISTEN" &&
		die "$VD_LISTEN is already in use by another process; set VD_LISTEN to a free address"
	nginx_cmd 9>&- || die "nginx did not start (log: $LOGS/nginx-error.log)"
	# The master writes its pid file after it has gone to the background.
	for ((i = 0; i < 50; i++)); do
		pid=$(nginx_pid)
		[ -n "$pid" ] && break
		sleep 0.1
	done
	wait_port "$VD_LISTEN" 10 || die "nginx does not answer on $VD_LISTEN (log: $LOGS/nginx-error.log)"
	say "nginx: started (pid $pid, $VD_PUBLIC_URL)"
}

stop_nginx() {
	local pid i
	pid=$(nginx_pid)
	if [ -z "$pid" ]; then
		say "nginx: not running"
		rm -f "$PIDS/nginx.pid"
		return 0
	fi
	# QUIT lets the workers finish their requests; TERM if they take long.
	kill -QUIT "$pid" 2>/dev/null || true
	for ((i = 0; i < 50; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	terminate 5 "$pid"
	rm -f "$PIDS/nginx.pid"
	say "nginx: stopped"
}
