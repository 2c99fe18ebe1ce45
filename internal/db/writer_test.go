package db

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// waiting returns how many wait at g.
func (g *gate) waiting() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.fg) + len(g.bg)
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestGateAlternatesForegroundAndBackground(t *testing.T) {
	t.Parallel()
	var g gate
	ctx := context.Background()
	if err := g.lock(ctx, false); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var order []string
	var wg sync.WaitGroup
	for i, w := range []struct {
		name       string
		background bool
	}{{"fg1", false}, {"fg2", false}, {"fg3", false}, {"bg1", true}, {"bg2", true}} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := g.lock(ctx, w.background); err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			order = append(order, w.name)
			mu.Unlock()
			g.unlock()
		}()
		waitUntil(t, w.name+" waits", func() bool { return g.waiting() == i+1 })
	}
	g.unlock()
	wg.Wait()
	// Each class in arrival order; while both wait, they take turns.
	want := []string{"bg1", "fg1", "bg2", "fg2", "fg3"}
	if len(order) != len(want) {
		t.Fatalf("order %v, want %v", order, want)
	}
	for i := range want {
		if order[i] != want[i] {
			t.Fatalf("order %v, want %v", order, want)
		}
	}
}

func TestGateWaiterGivesUpWithItsContext(t *testing.T) {
	t.Parallel()
	var g gate
	if err := g.lock(context.Background(), true); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- g.lock(ctx, false) }()
	waitUntil(t, "the waiter waits", func() bool { return g.waiting() == 1 })
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("lock = %v, want context.Canceled", err)
	}
	if g.waiting() != 0 {
		t.Fatal("the waiter that gave up is still queued")
	}
	g.unlock()
	// Free again: the next lock takes it at once.
	quick, stop := context.WithTimeout(context.Background(), 5*time.Second)
	defer stop()
	if err := g.lock(quick, false); err != nil {
		t.Fatalf("the gate stayed taken: %v", err)
	}
	g.unlock()
}
