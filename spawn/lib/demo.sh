# shellcheck shell=bash
# spawn/lib/demo.sh: `demo`: the article's scenario against the running stack.
# Sourced by spawn/stack (its say, warn, die and settings).

DEMO_TICKET=5f1d7a9e2c3b4a5d6e7f8a01
# As in the article, queries ask for 1.0.1: dispatch tries 1.0.1 first (it
# fails half of its queries) and falls back to 1.0.0, an older patch of the
# same minor, which libvdispatch accepts as a last resort (vdispatch.h).
DEMO_QUERY_VERSION=1.0.1

# Run the dispatch CLI with a time limit; stdout to $1, stderr to $2.
demo_dispatch() {
	local out=$1 err=$2
	shift 2
	timeout 30 "$BINDIR/dispatch" "$@" >"$out" 2>"$err"
}

# Print the lines that contain TEXT among those added to FILES since the
# demo began (byte offsets in DEMO_OFFSET).
new_lines() {
	local text=$1 f
	shift
	for f in "$@"; do
		[ -f "$f" ] || continue
		tail -c +"$((${DEMO_OFFSET[$f]:-0} + 1))" "$f" | grep -F -- "$text" |
			sed "s|^|    $(basename "$f" .log): |" || true
	done
}

summarize_json() {
	python3 -c '
import json, sys
try:
    v = json.load(sys.stdin)
except Exception:
    print("reply is not JSON"); sys.exit(0)
if isinstance(v, list):
    if v and isinstance(v[0], dict) and "replies" in v[0]:
        n = sum(len(t.get("replies") or []) for t in v)
        print("%d tickets, %d replies in all" % (len(v), n))
    else:
        print("%d items" % len(v))
        for r in v[-3:]:
            if isinstance(r, dict):
                print("      %s on \"%s\": %s" % (r.get("user"), r.get("title"), r.get("message")))
elif isinstance(v, dict):
    print(", ".join("%s=%s" % (k, json.dumps(v[k])[:60]) for k in list(v)[:6]))
else:
    print(json.dumps(v)[:100])
'
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
	local tmp
	tmp=$(mktemp -d)
	# shellcheck disable=SC2064
	trap "rm -rf '$tmp'" EXIT
	# Adding a reply needs the role tickets.write: dispatch takes the
	# token from VD_TOKEN (not from its command line, which ps shows).
	VD_TOKEN=$(mint_token 600 tickets.write)
	export VD_TOKEN
	local tickets_logs=("$LOGS"/tickets-*.log) feed_logs=("$LOGS"/replyfeed-*.log) f
	declare -gA DEMO_OFFSET=()
	for f in "${tickets_logs[@]}" "${feed_logs[@]}"; do
		[ -f "$f" ] && DEMO_OFFSET[$f]=$(stat -c %s "$f")
	done

	say "== 1. Who is subscribed to ticket replies, and the registry"
	wait_subscribed >/dev/null
	subscriptions | sed 's/^/    subscription: /'
	if demo_dispatch "$tmp/out" "$tmp/err" list; then
		grep -iE 'Subscribe|Latest|Query|Add Comment' "$tmp/out" | sed 's/^/    registry: /' || true
	else
		sed 's/^/    /' "$tmp/err"
	fi

	say ""
	say "== 2. Two comments through Ticket Add Comment 1.0.1 (ticket $DEMO_TICKET)"
	local i body
	for i in 1 2; do
		body=$(printf '{"ticketId":"%s","user":"demo","message":"Demo comment %s at %s"}' \
			"$DEMO_TICKET" "$i" "$(date +%H:%M:%S)")
		say "  dispatch call \"Ticket Add Comment\" 1.0.1 '$body'"
		if demo_dispatch "$tmp/out" "$tmp/err" call "Ticket Add Comment" 1.0.1 "$body"; then
			sed 's/^/    /' "$tmp/err"
			say "    -> $(summarize_json <"$tmp/out")"
		else
			sed 's/^/    /' "$tmp/err"
			say "    -> failed"
		fi
	done

	say ""
	say "== 3. Events (waiting up to 10 s for the reply feed)"
	for ((i = 0; i < 50; i++)); do
		[ "$(new_lines 'event received' "${feed_logs[@]}" | wc -l)" -ge 2 ] && break
		sleep 0.2
	done
	say "  sent by the tickets service:"
	new_lines 'event sent' "${tickets_logs[@]}"
	say "  received by the reply feed:"
	new_lines 'event received' "${feed_logs[@]}"

	say ""
	say "== 4. dispatch call \"Ticket Latest Replies\" 1.0.0"
	if demo_dispatch "$tmp/out" "$tmp/err" call "Ticket Latest Replies" 1.0.0; then
		sed 's/^/    /' "$tmp/err"
		say "    -> $(summarize_json <"$tmp/out")"
	else
		sed 's/^/    /' "$tmp/err"
		say "    -> failed"
	fi

	say ""
	say "== 5. dispatch call \"Ticket Query\" $DEMO_QUERY_VERSION every second for $seconds s"
	say "   (1.0.1 is tried first and fails half of the queries; then 1.0.0)"
	local calls=0 direct=0 fellback=0 failed=0 start now
	start=$(date +%s)
	while :; do
		now=$(date +%s)
		[ $((now - start)) -lt "$seconds" ] || break
		calls=$((calls + 1))
		say "  [$(date +%H:%M:%S)] call $calls"
		if demo_dispatch "$tmp/out" "$tmp/err" call "Ticket Query" "$DEMO_QUERY_VERSION"; then
			sed 's/^/    /' "$tmp/err"
			if grep -qi 'fail' "$tmp/err"; then
				fellback=$((fellback + 1))
			else
				direct=$((direct + 1))
			fi
			say "    -> $(summarize_json <"$tmp/out")"
		else
			failed=$((failed + 1))
			sed 's/^/    /' "$tmp/err"
			say "    -> failed"
		fi
		sleep 1
	done
	say ""
	say "== $calls queries: $direct answered at once, $fellback after a fallback, $failed failed"
	say "   the stack is still running: spawn/stack status | logs | down"
}
