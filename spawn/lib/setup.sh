# shellcheck shell=bash
# spawn/lib/setup.sh: `setup`: the Debian packages, the embedded database
# (FerretDB, built with Go and a patch) and the C code (plain and sanitized
# builds).
# Sourced by spawn/stack (its say, warn, die and settings).

find_go() {
	if command -v go >/dev/null 2>&1; then
		command -v go
	elif [ -x /usr/local/go/bin/go ]; then
		echo /usr/local/go/bin/go
	else
		return 1
	fi
}

# --- setup --------------------------------------------------------------------

# clang and libclang-rt-dev (libFuzzer, the sanitizers' runtimes): for the
# fuzzing and sanitizer part of the tests (make fuzz, make check-sanitize,
# VD_SANITIZE=1); llvm for llvm-symbolizer, which names the functions in a
# report (and which LeakSanitizer's suppressions need).
PACKAGES=(build-essential autoconf automake libtool pkg-config libfcgi-dev libfcgi-bin
	spawn-fcgi multiwatch libmongoc-dev libbson-dev libcjson-dev libcurl4-openssl-dev
	libssl-dev check curl patch python3 python3-pytest wrk mandoc postgresql-15
	chromium chromium-driver python3-selenium clang libclang-rt-dev llvm systemd
	mmdebstrap systemd-container debhelper lintian fakeroot)

install_packages() {
	local missing=() p
	if ! command -v dpkg >/dev/null 2>&1; then
		warn "not a Debian system: install by hand: ${PACKAGES[*]} nginx"
		return 0
	fi
	for p in "${PACKAGES[@]}"; do
		dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
	done
	if ! dpkg -s nginx-light >/dev/null 2>&1 && ! dpkg -s nginx >/dev/null 2>&1 &&
		! dpkg -s nginx-core >/dev/null 2>&1 && ! dpkg -s nginx-full >/dev/null 2>&1; then
		missing+=(nginx-light)
	fi
	[ ${#missing[@]} -gt 0 ] || return 0
	[ "$IS_ROOT" = yes ] ||
		die "missing Debian packages; as root run: apt-get install ${missing[*]}"
	say "setup: installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q
	apt-get install -y -q --no-install-recommends "${missing[@]}"
}

# FerretDB 1.24 loads its metadata (which databases, collections and
# indexes exist, and their tables) once and keeps it: a second FerretDB on
# the same PostgreSQL database (spawn/cluster: one per host) would read a
# collection another made as empty, and make again (then drop, with its
# data) a database another made. ferretdb/ferretdb.patch makes it read the
# metadata again on a miss (a catalog lookup; the OpLog collection that
# every write looks for is taken as missing for a second after a miss);
# it closes a PostgreSQL connection whose data goes unacknowledged for
# 5 s (TCP_USER_TIMEOUT: a cut link makes a query fail in seconds, not in
# TCP's 15 minutes); it deletes {_id: v} and {_id: {$in: [...]}} by
# those ids, where FerretDB read and decoded the whole collection first
# (the outbox's delete of the events it let go); and a collection or
# database found missing stays missing for a second before the metadata
# is read again (a read of a collection nobody made yet, an empty
# dead-letter box, read it again every time). It is applied to a copy of the module (3.4 MB) in
# STATE/ferretdb-build, which a copy of ferretdb/ builds with (a replace
# directive); prints that directory.
ferretdb_patched() {
	local go=$1 dir build=$STATE/ferretdb-build
	dir=$(cd "$FERRETDB_SRC" && "$go" mod download -json github.com/FerretDB/FerretDB |
		sed -n 's/^[[:space:]]*"Dir": "\(.*\)",*$/\1/p') || return 1
	[ -d "$dir" ] || { warn "FerretDB's module is not at '$dir'"; return 1; }
	rm -rf "$build"
	mkdir -p "$build/main"
	cp -R "$dir" "$build/FerretDB"
	chmod -R u+w "$build/FerretDB"
	patch -s -p1 -d "$build/FerretDB" <"$FERRETDB_SRC/ferretdb.patch" || return 1
	cp "$FERRETDB_SRC"/*.go "$FERRETDB_SRC/go.mod" "$FERRETDB_SRC/go.sum" "$build/main/"
	(cd "$build/main" && "$go" mod edit -replace "github.com/FerretDB/FerretDB=$build/FerretDB") ||
		return 1
	printf '%s\n' "$build/main"
}

build_ferretdb() {
	local out=$STATE/bin/vd-ferretdb go f fresh=yes src
	if [ -x "$out" ]; then
		for f in "$FERRETDB_SRC"/*.go "$FERRETDB_SRC"/*.patch "$FERRETDB_SRC"/go.mod "$FERRETDB_SRC"/go.sum; do
			[ "$f" -nt "$out" ] && fresh=no
		done
		[ "$fresh" = yes ] && return 0
	fi
	go=$(find_go) || die "the Go toolchain (go) was not found in PATH or /usr/local/go/bin:
    install Go >= 1.24 from https://go.dev/dl/ into /usr/local/go, or set MONGODB_URI
    to use an existing MongoDB instead of the embedded database"
	say "setup: building the embedded database (FerretDB) with $go; this takes a minute or two"
	mkdir -p "$STATE/bin"
	src=$(ferretdb_patched "$go") || die "patching FerretDB (ferretdb/ferretdb.patch) failed"
	(cd "$src" && "$go" build -trimpath -buildvcs=false -o "$out.tmp" .) ||
		die "building the embedded database failed"
	mv -f "$out.tmp" "$out"
}

build_c() {
	[ "$MODE" = checkout ] || return 0
	local jobs
	jobs=$(nproc 2>/dev/null || echo 2)
	(
		cd "$ROOT"
		if [ ! -x configure ] || [ configure -ot configure.ac ]; then
			say "setup: autoreconf -fi"
			autoreconf -fi
		fi
		# In CI (CI=true, as .ci/run sets) a compiler warning fails
		# the build.
		local conf=(--prefix="$PREFIX")
		[ "${CI:-}" = true ] && conf+=(--enable-werror)
		if [ ! -f Makefile ] || [ ! -x config.status ] ||
			[ "$(./config.status --config | tr -d "'")" != "${conf[*]}" ]; then
			say "setup: ./configure ${conf[*]}"
			./configure -q "${conf[@]}"
			# Objects built for another prefix carry its libdir
			# (the rpath of the programs): build them again.
			make clean >/dev/null
		fi
		say "setup: make -j$jobs && make install"
		make -j"$jobs"
		make install >/dev/null
	) || die "building the C code failed"
}

# The sanitized build (VD_SANITIZE=1): configure --enable-sanitizers
# (-fsanitize=address,undefined, no recovery) with clang, whose UBSan is
# part of the ASan runtime and so writes to its log_path (gcc's writes to
# stderr whatever UBSAN_OPTIONS says), in STATE/sanitized/build, a
# VPATH build of a copy of the sources (make distdir: the checkout is
# configured in place, and autoconf allows no second build of a configured
# source tree), installed into STATE/sanitized/prefix. The copy keeps the
# files' times: only what changed is built again.
build_sanitized() {
	[ "$MODE" = checkout ] || return 0
	local jobs
	jobs=$(nproc 2>/dev/null || echo 2)
	(
		rm -rf "$SANITIZED/src"
		mkdir -p "$SANITIZED/build"
		make -C "$ROOT" distdir distdir="$SANITIZED/src" >/dev/null
		cd "$SANITIZED/build"
		local conf=(--prefix="$SANITIZED/prefix" --enable-sanitizers CC=clang)
		if [ ! -f Makefile ] ||
			[ "$(./config.status --config | tr -d "'")" != "${conf[*]}" ]; then
			say "setup: sanitized build: ../src/configure ${conf[*]}"
			../src/configure -q "${conf[@]}"
			make clean >/dev/null
		fi
		say "setup: sanitized build in $SANITIZED/build: make -j$jobs && make install"
		make -j"$jobs" >/dev/null
		make install >/dev/null
	) || die "the sanitized build failed (in $SANITIZED/build)"
}

cmd_setup() {
	install_packages
	make_dirs
	[ "$DB_EXTERNAL" = yes ] || build_ferretdb
	build_c
	[ "$SANITIZE" = 0 ] || build_sanitized
	say "setup: done"
}

built() {
	local b
	for b in tickets.fcgi replyfeed.fcgi dispatch; do
		[ -x "$BINDIR/$b" ] || return 1
	done
	[ "$DB_EXTERNAL" = yes ] || [ -x "$STATE/bin/vd-ferretdb" ]
}
