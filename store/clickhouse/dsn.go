package clickhouse

import (
	"errors"
	"fmt"
	"net/url"

	ch "github.com/ClickHouse/clickhouse-go/v2"
)

// config is a parsed DSN: clickhouse-go's options plus what Freshet adds.
type config struct {
	opts     *ch.Options
	database string // never empty: "default" when the DSN names none
	cluster  string // empty: single server
}

// validIdent limits the database and cluster names, which are written into
// DDL text (identifiers cannot be bound as parameters), to plain
// identifiers: [A-Za-z_][A-Za-z0-9_]*.
func validIdent(s string) bool {
	for i, c := range s {
		letter := c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
		if !letter && (i == 0 || c < '0' || c > '9') {
			return false
		}
	}
	return s != ""
}

// parseDSN reads clickhouse://user:pass@host:9000/db?opt=value. It removes
// the options Freshet handles itself (cluster) before clickhouse-go parses
// the rest, because clickhouse-go would send unknown options to the server
// as settings. Errors never repeat the DSN, which may hold a password.
func parseDSN(dsn string) (config, error) {
	u, err := url.Parse(dsn)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return config{}, fmt.Errorf("clickhouse dsn: %w", err)
	}
	switch u.Scheme {
	case "clickhouse", "tcp":
	case "http", "https":
		// clickhouse-go's HTTP mode sends a setting 18.16 rejects, and the
		// store relies on native batches.
		return config{}, fmt.Errorf("clickhouse dsn: scheme %q is not supported: use clickhouse:// (native protocol)", u.Scheme)
	default:
		return config{}, fmt.Errorf("clickhouse dsn: scheme must be clickhouse://, got %q", u.Scheme)
	}
	if u.Host == "" {
		return config{}, errors.New("clickhouse dsn: missing host")
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return config{}, fmt.Errorf("clickhouse dsn: options: %w", err)
	}
	cluster := q.Get("cluster")
	if q.Has("cluster") && !validIdent(cluster) {
		return config{}, fmt.Errorf("clickhouse dsn: cluster name %q must be a plain identifier", cluster)
	}
	q.Del("cluster")
	u.RawQuery = q.Encode()

	opts, err := ch.ParseDSN(u.String())
	if err != nil {
		return config{}, fmt.Errorf("clickhouse dsn: %w", err)
	}
	db := opts.Auth.Database
	if db == "" {
		db = "default"
	}
	if !validIdent(db) {
		return config{}, fmt.Errorf("clickhouse dsn: database name %q must be a plain identifier", db)
	}
	opts.Auth.Database = db
	return config{opts: opts, database: db, cluster: cluster}, nil
}
