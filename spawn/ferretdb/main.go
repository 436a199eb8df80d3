// Command vd-ferretdb is the stack's embedded default database: FerretDB
// (a MongoDB wire-protocol server) on its PostgreSQL handler, in one process,
// plus the PostgreSQL indexes that FerretDB cannot make itself.
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
	neturl "net/url"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/FerretDB/FerretDB/ferretdb"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:27017", "TCP address to listen on")
	pgURL := flag.String("postgresql-url", "", "PostgreSQL connection string (postgres://...)")
	level := flag.String("log-level", "warn", "log level: debug, info, warn, error")
	indexes := flag.String("indexes", "", "file of the GIN indexes to keep (see indexes.go)")
	every := flag.Duration("index-interval", 2*time.Second, "how often new collections are looked for")
	flag.Parse()

	var lv slog.Level
	if err := lv.UnmarshalText([]byte(*level)); err != nil {
		fmt.Fprintf(os.Stderr, "vd-ferretdb: bad -log-level: %v\n", err)
		os.Exit(2)
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lv}))

	if *pgURL == "" {
		fmt.Fprintf(os.Stderr, "vd-ferretdb: -postgresql-url is required\n")
		os.Exit(2)
	}
	var specs []indexSpec
	if *indexes != "" {
		var err error
		if specs, err = readIndexSpecs(*indexes); err != nil {
			fmt.Fprintf(os.Stderr, "vd-ferretdb: %v\n", err)
			os.Exit(2)
		}
	}

	url, err := withCustomPlans(*pgURL)
	if err != nil {
		fmt.Fprintf(os.Stderr, "vd-ferretdb: -postgresql-url: %v\n", err)
		os.Exit(2)
	}

	f, err := ferretdb.New(&ferretdb.Config{
		Listener:      ferretdb.ListenerConfig{TCP: *listen},
		Logger:        logger,
		Handler:       "postgresql",
		PostgreSQLURL: url,
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "vd-ferretdb: %v\n", err)
		os.Exit(1)
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	if len(specs) > 0 {
		// Our own lines at info level whatever FerretDB's is: an index
		// is created rarely, and an operator wants to see when.
		own := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
		go keepIndexes(ctx, url, specs, *every, own)
	}

	fmt.Fprintf(os.Stderr, "vd-ferretdb: serving %s from PostgreSQL\n", *listen)
	if err := f.Run(ctx); err != nil {
		fmt.Fprintf(os.Stderr, "vd-ferretdb: %v\n", err)
		os.Exit(1)
	}
}

// withCustomPlans asks the server for a plan made for each query's values
// (a run-time parameter in the connection string, which pgx sends at
// connection start), unless the string says otherwise: FerretDB passes a
// filter's field name as a parameter, and a generic plan cannot use the
// GIN index on that field.
func withCustomPlans(raw string) (string, error) {
	u, err := neturl.Parse(raw)
	if err != nil {
		return "", err
	}
	q := u.Query()
	if !q.Has("plan_cache_mode") {
		q.Set("plan_cache_mode", "force_custom_plan")
	}
	u.RawQuery = q.Encode()
	return u.String(), nil
}
