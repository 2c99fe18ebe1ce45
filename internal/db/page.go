package db

import (
	"fmt"
	"strconv"

	"github.com/hookbook/hookbook"
	"github.com/hookbook/hookbook/internal/ids"
)

// Page sizes of every list.
const (
	DefaultLimit = 50
	MaxLimit     = 500
)

// ParsePage reads a list request's limit (text, "" for DefaultLimit) and
// cursor, which must be an id with prefix that a previous page returned.
func ParsePage(limit, cursor, prefix string) (Page, error) {
	p := Page{Limit: DefaultLimit, Cursor: cursor}
	if limit != "" {
		n, err := strconv.Atoi(limit)
		if err != nil || n < 1 || n > MaxLimit {
			return p, &hookbook.Error{Kind: hookbook.EInvalid, Code: "invalid_limit",
				Message: fmt.Sprintf("limit must be a whole number from 1 to %d", MaxLimit), Details: map[string]string{"limit": "out of range"}}
		}
		p.Limit = n
	}
	if p.Cursor != "" && !ids.Valid(prefix, p.Cursor) {
		return p, &hookbook.Error{Kind: hookbook.EInvalid, Code: "invalid_cursor",
			Message: "cursor is not one this list returned", Details: map[string]string{"cursor": "invalid"}}
	}
	return p, nil
}

// Page selects a slice of a list, newest first. Ids grow with time, so a
// page is "id < Cursor ORDER BY id DESC LIMIT Limit+1" and the next cursor
// is the id of the last item.
type Page struct {
	Limit  int
	Cursor string // id of the last item of the previous page; "" for the first
}

// Trim cuts a fetched list of Limit+1 items to Limit and returns the cursor
// of the next page, or "" when this is the last one.
func Trim[T any](items []T, p Page, idOf func(T) string) ([]T, string) {
	if len(items) <= p.Limit {
		return items, ""
	}
	items = items[:p.Limit]
	return items, idOf(items[len(items)-1])
}

// Scanner is a row or rows: what a scan function reads from.
type Scanner interface{ Scan(dest ...any) error }

// List runs a query that lists one page (its last two arguments must be
// p.Cursor and p.Limit+1, as in "AND ($n = ” OR id < $n) ORDER BY id DESC
// LIMIT $m"), scans each row with scan and returns the page and the next
// cursor.
func List[T any](rows interface {
	Scanner
	Next() bool
	Err() error
	Close() error
}, err error, p Page, scan func(Scanner) (T, error), idOf func(T) string) ([]T, string, error) {
	if err != nil {
		return nil, "", err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, "", err
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, "", err
	}
	out, next := Trim(out, p, idOf)
	return out, next, nil
}
