package main

// FerretDB's PostgreSQL handler turns an equality filter on a top-level field
// into `_jsonb->'field' @> value`. Its own createIndexes makes btree
// indexes, which that operator cannot use, so a filter on anything but `_id`
// reads the whole table. A GIN index on the expression serves it (with
// plan_cache_mode = force_custom_plan, so that the planner sees the field
// name, a query parameter, as a constant). This file keeps such indexes on
// the collections named in a spec file, including collections created
// after start-up, which are looked for every few seconds.

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// indexSpec is one line of the spec file: DATABASE COLLECTION FIELD, where
// DATABASE and COLLECTION may end in "*" to match every database or
// collection with that prefix (spawn/cluster names each host's reply feed
// database replyfeed_HOST).
type indexSpec struct {
	db, coll, field string
}

var fieldName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

func readIndexSpecs(path string) ([]indexSpec, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()

	var specs []indexSpec
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		w := strings.Fields(line)
		if len(w) == 0 {
			continue
		}
		if len(w) != 3 || !fieldName.MatchString(w[2]) {
			return nil, fmt.Errorf("%s:%d: want DATABASE COLLECTION FIELD", path, n)
		}
		specs = append(specs, indexSpec{w[0], w[1], w[2]})
	}
	return specs, sc.Err()
}

func (s indexSpec) matches(coll string) bool {
	if p, ok := strings.CutSuffix(s.coll, "*"); ok {
		return strings.HasPrefix(coll, p)
	}
	return coll == s.coll
}

// indexName is stable for a table and field, and within PostgreSQL's 63
// bytes however long the table's name is.
func indexName(table, field string) string {
	h := sha256.Sum256([]byte(table + "\x00" + field))
	return "vd_gin_" + hex.EncodeToString(h[:8])
}

func keepIndexes(ctx context.Context, url string, specs []indexSpec, every time.Duration, log *slog.Logger) {
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		log.Error("indexes: cannot connect", "error", err)
		return
	}
	defer pool.Close()

	failing := false
	for {
		if err := ensureIndexes(ctx, pool, specs, log); err != nil {
			// The database may be down or restarting: say so once.
			if !failing && ctx.Err() == nil {
				log.Warn("indexes: not checked", "error", err)
			}
			failing = true
		} else {
			failing = false
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(every):
		}
	}
}

func ensureIndexes(ctx context.Context, pool *pgxpool.Pool, specs []indexSpec, log *slog.Logger) error {
	dbs := map[string][]indexSpec{}
	for _, s := range specs {
		names := []string{s.db}
		if p, ok := strings.CutSuffix(s.db, "*"); ok {
			var err error
			if names, err = schemasWithPrefix(ctx, pool, p); err != nil {
				return err
			}
		}
		for _, db := range names {
			dbs[db] = append(dbs[db], s)
		}
	}
	for db, list := range dbs {
		if err := ensureDatabase(ctx, pool, db, list, log); err != nil {
			return err
		}
	}
	return nil
}

func ensureDatabase(ctx context.Context, pool *pgxpool.Pool, db string, specs []indexSpec, log *slog.Logger) error {
	meta := pgx.Identifier{db, "_ferretdb_database_metadata"}.Sanitize()
	var exists bool
	err := pool.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, meta).Scan(&exists)
	if err != nil || !exists {
		return err // a database not created yet has nothing to index
	}

	rows, err := pool.Query(ctx, `SELECT _jsonb->>'_id', _jsonb->>'table' FROM `+meta)
	if err != nil {
		return err
	}
	tables := map[string]string{}
	for rows.Next() {
		var coll, table string
		if err := rows.Scan(&coll, &table); err != nil {
			rows.Close()
			return err
		}
		tables[coll] = table
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}

	// Valid indexes that exist; an invalid one is left by a concurrent
	// build that was interrupted, and is built again.
	have := map[string]bool{}
	invalid := map[string]bool{}
	rows, err = pool.Query(ctx, `SELECT c.relname, i.indisvalid FROM pg_index i
		JOIN pg_class c ON c.oid = i.indexrelid
		JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = $1 AND c.relname LIKE 'vd\_gin\_%'`, db)
	if err != nil {
		return err
	}
	for rows.Next() {
		var name string
		var valid bool
		if err := rows.Scan(&name, &valid); err != nil {
			rows.Close()
			return err
		}
		have[name] = valid
		invalid[name] = !valid
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}

	// Ours (by name) but no longer in the spec (a field the services
	// stopped asking by): it would only slow the table's writes.
	wanted := map[string]bool{}
	for coll, table := range tables {
		for _, s := range specs {
			if s.matches(coll) {
				wanted[indexName(table, s.field)] = true
			}
		}
	}
	for name := range have {
		if wanted[name] {
			continue
		}
		if _, err := pool.Exec(ctx, `DROP INDEX CONCURRENTLY IF EXISTS `+
			pgx.Identifier{db, name}.Sanitize()); err != nil {
			return err
		}
		delete(have, name)
		log.Info("indexes: dropped, no longer in the spec", "database", db, "index", name)
	}

	for coll, table := range tables {
		for _, s := range specs {
			if !s.matches(coll) {
				continue
			}
			name := indexName(table, s.field)
			if have[name] {
				continue
			}
			if invalid[name] {
				if _, err := pool.Exec(ctx, `DROP INDEX CONCURRENTLY IF EXISTS `+
					pgx.Identifier{db, name}.Sanitize()); err != nil {
					return err
				}
			}
			// CONCURRENTLY: a table that is already large (an upgrade)
			// keeps taking writes while its index is built.
			q := fmt.Sprintf(`CREATE INDEX CONCURRENTLY IF NOT EXISTS %s ON %s USING gin ((_jsonb->%s))`,
				pgx.Identifier{name}.Sanitize(),
				pgx.Identifier{db, table}.Sanitize(),
				quoteLiteral(s.field))
			start := time.Now()
			if _, err := pool.Exec(ctx, q); err != nil {
				// The collection may have been dropped meanwhile.
				log.Warn("indexes: not created", "collection", db+"."+coll, "field", s.field, "error", err)
				continue
			}
			have[name] = true
			log.Info("indexes: created", "collection", db+"."+coll, "field", s.field,
				"index", name, "took", time.Since(start).String())
		}
	}
	return nil
}

// schemasWithPrefix lists the PostgreSQL schemas (FerretDB's databases)
// whose names start with prefix.
func schemasWithPrefix(ctx context.Context, pool *pgxpool.Pool, prefix string) ([]string, error) {
	rows, err := pool.Query(ctx, `SELECT nspname FROM pg_namespace WHERE starts_with(nspname, $1)`, prefix)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var names []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			return nil, err
		}
		names = append(names, name)
	}
	return names, rows.Err()
}

// quoteLiteral quotes a field name (already restricted to [A-Za-z0-9_]).
func quoteLiteral(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}
