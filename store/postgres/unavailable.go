package postgres

import (
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
)

// IsUnavailable reports whether err says the server could not be reached
// or went away (a restart, a failover, a network cut) rather than that
// the statement was wrong: connection errors, SQLSTATE class 08
// (connection exception) and 57P01-57P03 (admin shutdown, crash shutdown,
// cannot connect now). Such a statement may be tried again once the
// server is back; the store's outcome statements are guarded by the
// state they leave, so running one twice changes nothing the second time.
func (d *DB) IsUnavailable(err error) bool {
	if err == nil {
		return false
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return strings.HasPrefix(pgErr.Code, "08") || pgErr.Code == "57P01" || pgErr.Code == "57P02" || pgErr.Code == "57P03"
	}
	var connErr *pgconn.ConnectError
	var netErr net.Error
	return errors.As(err, &connErr) || errors.As(err, &netErr) || errors.Is(err, driver.ErrBadConn) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || pgconn.SafeToRetry(err)
}
