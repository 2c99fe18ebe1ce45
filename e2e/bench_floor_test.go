package e2e

import (
	"bytes"
	"database/sql"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookbook/hookbook/webhook"
)

// bareHub is the floor of a durable hub on this machine and this stack,
// for the latency benchmarks: an HTTP handler that stores each published
// body and a row per receiver in one SQLite transaction (the same driver,
// WAL and synchronous=FULL, as hookbook's default; no indexes, no
// validation, no API key), and once it has committed, POSTs the body to
// every receiver, each signed as hookbook signs a delivery, then answers
// 202. Anything a real hub adds costs time above it.
type bareHub struct {
	srv  *httptest.Server
	db   *sql.DB
	next atomic.Int64
}

func newBareHub(b *testing.B, recv []*benchReceiver) *bareHub {
	b.Helper()
	path := filepath.Join(b.TempDir(), "bare.db")
	d, err := sql.Open("sqlite", "file:"+path+"?_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_txlock=immediate")
	if err != nil {
		b.Fatal(err)
	}
	d.SetMaxOpenConns(1)
	for _, q := range []string{`CREATE TABLE events (id TEXT PRIMARY KEY, body TEXT NOT NULL)`,
		`CREATE TABLE deliveries (id TEXT PRIMARY KEY, event_id TEXT NOT NULL, url TEXT NOT NULL)`} {
		if _, err := d.Exec(q); err != nil {
			b.Fatal(err)
		}
	}
	h := &bareHub{db: d}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
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
			tx.Exec(`INSERT INTO deliveries (id, event_id, url) VALUES ($1, $2, $3)`, fmt.Sprintf("%s_%d", id, i), id, rc.srv.URL)
		}
		if err := tx.Commit(); err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		var wg sync.WaitGroup
		for _, rc := range recv {
			wg.Add(1)
			go func() {
				defer wg.Done()
				req, _ := http.NewRequest("POST", rc.srv.URL, bytes.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				webhook.SignHeaders(req.Header, webhook.DefaultPrefix, "", id, time.Now(), body, []string{rawSecret})
				send(client, req)
			}()
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(202)
		fmt.Fprintf(w, `{"id":%q}`, id)
		wg.Wait()
	}))
	return h
}

func (h *bareHub) close() {
	h.srv.Close()
	h.db.Close()
}
