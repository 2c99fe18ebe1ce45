package e2e

import (
	"bytes"
	"database/sql"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookbook/hookbook/internal/dbtest"
	"github.com/hookbook/hookbook/internal/hookbooktest"
	"github.com/hookbook/hookbook/webhook"
)

// bareHub is the floor of a durable hub on this machine and this stack,
// measured beside hookbook in the latency and engine benchmarks: an HTTP
// handler that stores each published body and a row per receiver in one
// SQLite transaction (the same driver, WAL and synchronous=FULL, as
// hookbook's default; primary keys only, no validation, no API key),
// answers 202 once it has committed, then POSTs the body to every
// receiver, each signed as hookbook signs a delivery, at most as many at
// once as the raw baseline sends; a writer records each attempt's outcome
// (an attempt row, the delivery row updated) in batches, without an fsync
// of their own, as hookbook records its outcomes. It does the durable work
// every delivery needs and nothing else: anything a real hub adds
// (authentication, validation, routing, retries, isolation, the delivery
// log's detail) costs time above it.
type bareHub struct {
	srv      *httptest.Server
	db       *sql.DB
	next     atomic.Int64
	sends    chan struct{} // in-flight sends
	outcomes chan [2]string
	postgres bool
	written  sync.WaitGroup
	sending  sync.WaitGroup
}

// newBareHub starts a bare hub on SQLite, or on a fresh PostgreSQL schema
// when postgres is true (there its outcome batches commit with
// synchronous_commit off, as hookbook's do, and publications use up to 32
// connections).
func newBareHub(b *testing.B, recv []*benchReceiver, concurrency int, postgres bool) *bareHub {
	b.Helper()
	var d *sql.DB
	var err error
	conns := 1
	if postgres {
		url := strings.Replace(hookbooktest.PostgresURL(b), "&"+dbtest.PoolOption, "", 1)
		d, err = sql.Open("pgx", url)
		conns = 32
	} else {
		path := filepath.Join(b.TempDir(), "bare.db")
		d, err = sql.Open("sqlite", "file:"+path+"?_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_txlock=immediate")
	}
	if err != nil {
		b.Fatal(err)
	}
	d.SetMaxOpenConns(conns)
	for _, q := range []string{`CREATE TABLE events (id TEXT PRIMARY KEY, body TEXT NOT NULL)`,
		`CREATE TABLE deliveries (id TEXT PRIMARY KEY, event_id TEXT NOT NULL, url TEXT NOT NULL, status TEXT NOT NULL)`,
		`CREATE TABLE attempts (delivery_id TEXT NOT NULL, attempt INTEGER NOT NULL, status_code INTEGER, PRIMARY KEY (delivery_id, attempt))`} {
		if _, err := d.Exec(q); err != nil {
			b.Fatal(err)
		}
	}
	h := &bareHub{db: d, postgres: postgres, sends: make(chan struct{}, concurrency), outcomes: make(chan [2]string, 4096)}
	h.written.Add(1)
	go h.writer()
	client := &http.Client{Transport: &http.Transport{MaxIdleConns: 1024, MaxIdleConnsPerHost: 16}}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		id := fmt.Sprintf("evt_bare_%d", h.next.Add(1))
		tx, err := d.Begin()
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		tx.Exec(`INSERT INTO events (id, body) VALUES ($1, $2)`, id, string(body))
		for i, rc := range recv {
			tx.Exec(`INSERT INTO deliveries (id, event_id, url, status) VALUES ($1, $2, $3, 'pending')`, fmt.Sprintf("%s_%d", id, i), id, rc.srv.URL)
		}
		if err := tx.Commit(); err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(202)
		fmt.Fprintf(w, `{"id":%q}`, id)
		w.(http.Flusher).Flush()
		for i, rc := range recv {
			h.sends <- struct{}{}
			h.sending.Add(1)
			go func() {
				defer h.sending.Done()
				defer func() { <-h.sends }()
				req, _ := http.NewRequest("POST", rc.srv.URL, bytes.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				webhook.SignHeaders(req.Header, webhook.DefaultPrefix, "", id, time.Now(), body, []string{rawSecret})
				code := "0"
				if resp, err := client.Do(req); err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					code = fmt.Sprint(resp.StatusCode)
				}
				h.outcomes <- [2]string{fmt.Sprintf("%s_%d", id, i), code}
			}()
		}
	}))
	return h
}

// writer records outcomes in batches: whatever arrived while the last
// commit ran goes into the next one.
func (h *bareHub) writer() {
	defer h.written.Done()
	if !h.postgres {
		h.db.Exec(`PRAGMA synchronous = NORMAL`) // as hookbook's background commits
	}
	for o := range h.outcomes {
		batch := [][2]string{o}
	more:
		for len(batch) < 256 {
			select {
			case o, ok := <-h.outcomes:
				if !ok {
					break more
				}
				batch = append(batch, o)
			default:
				break more
			}
		}
		tx, err := h.db.Begin()
		if err != nil {
			continue
		}
		if h.postgres {
			tx.Exec(`SET LOCAL synchronous_commit = off`)
		}
		for _, o := range batch {
			tx.Exec(`INSERT INTO attempts (delivery_id, attempt, status_code) VALUES ($1, 1, $2)`, o[0], o[1])
			tx.Exec(`UPDATE deliveries SET status = 'succeeded' WHERE id = $1`, o[0])
		}
		tx.Commit()
	}
}

func (h *bareHub) close() {
	h.srv.Close()
	h.sending.Wait()
	close(h.outcomes)
	h.written.Wait()
	h.db.Close()
}

// bareBurst publishes events to a bare hub from publishers clients, as the
// engine benchmark publishes to hookbook, and returns deliveries/s (the
// last receipt against the first publication).
func bareBurst(b *testing.B, recv []*benchReceiver, events, publishers, concurrency int, postgres bool) float64 {
	for _, r := range recv {
		r.count.Store(0)
	}
	h := newBareHub(b, recv, concurrency, postgres)
	defer h.close()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: publishers}}
	body := []byte(`{"event":"booking.created","data":` + benchBody + `}`)
	var next atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range publishers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(events) {
				if _, err := publishOne(client, h.srv.URL, "", body); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	awaitDeliveries(b, recv, int64(events*len(recv)))
	return float64(events*len(recv)) / time.Since(start).Seconds()
}
