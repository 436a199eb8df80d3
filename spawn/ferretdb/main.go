// Command vd-ferretdb is the stack's embedded default database: FerretDB
// (a MongoDB wire-protocol server) on its SQLite handler, in one process.
//
// It exists because `go install .../cmd/ferretdb` builds a binary that panics
// at start-up (its version file is generated and not in the module), while the
// embeddable package works as is.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/FerretDB/FerretDB/ferretdb"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:27017", "TCP address to listen on")
	dir := flag.String("data", "data", "directory of the SQLite database files")
	level := flag.String("log-level", "warn", "log level: debug, info, warn, error")
	sync := flag.String("sync", "normal", "SQLite synchronous mode: normal or full")
	flag.Parse()

	var lv slog.Level
	if err := lv.UnmarshalText([]byte(*level)); err != nil {
		fmt.Fprintf(os.Stderr, "vd-ferretdb: bad -log-level: %v\n", err)
		os.Exit(2)
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lv}))

	abs, err := filepath.Abs(*dir)
	if err == nil {
		err = os.MkdirAll(abs, 0o750)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "vd-ferretdb: data directory: %v\n", err)
		os.Exit(1)
	}

	// With its write-ahead log, SQLite in "normal" mode keeps every commit
	// through a crash of this process, and may lose the last ones only to
	// a crash of the machine: what MongoDB's default write concern gives
	// (acknowledged before its journal is flushed). "full" syncs each
	// commit to disk, and costs every write a sync.
	if *sync != "normal" && *sync != "full" {
		fmt.Fprintf(os.Stderr, "vd-ferretdb: -sync is normal or full\n")
		os.Exit(2)
	}

	// The SQLite handler wants a directory URI with a trailing slash.
	f, err := ferretdb.New(&ferretdb.Config{
		Listener:  ferretdb.ListenerConfig{TCP: *listen},
		Logger:    logger,
		Handler:   "sqlite",
		SQLiteURL: "file:" + abs + "/?_pragma=synchronous(" + *sync + ")",
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "vd-ferretdb: %v\n", err)
		os.Exit(1)
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	fmt.Fprintf(os.Stderr, "vd-ferretdb: serving %s from %s\n", *listen, abs)
	if err := f.Run(ctx); err != nil {
		fmt.Fprintf(os.Stderr, "vd-ferretdb: %v\n", err)
		os.Exit(1)
	}
}
