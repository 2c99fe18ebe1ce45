package relay

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
)

// DefaultHeartbeat is how often a listen connection is pinged and marked
// seen when Hub.Heartbeat is unset.
const DefaultHeartbeat = 15 * time.Second

// minPongWait is the least time a pong has to come, however short the
// heartbeat: a listener on a busy laptop may take a moment to answer, and
// while its connection lasts its endpoint is never reaped.
const minPongWait = 5 * time.Second

// Hub holds this instance's listen connections, one per listening
// endpoint. Only the instance holding a listener's connection can send to
// it: on another instance Sender fails the attempt (listener_offline).
type Hub struct {
	// Seen marks a listener's connection alive (outbound.ListenerSeen); it
	// reports false when its endpoint is gone, which ends the connection.
	Seen func(ctx context.Context, endpointID string) (bool, error)
	// Back is called once a listener is connected, to make its waiting
	// deliveries due now (queue.Hasten).
	Back func(ctx context.Context, endpointID string)
	// Heartbeat is how often each connection is pinged (a pong must come
	// within it, or within minPongWait if that is longer) and marked Seen;
	// 0 means DefaultHeartbeat.
	Heartbeat time.Duration
	Log       *slog.Logger

	mu       sync.Mutex
	sessions map[string]*session
	closed   bool
	running  sync.WaitGroup
}

// session is one listener's connection.
type session struct {
	conn    *websocket.Conn
	ready   Ready
	next    atomic.Uint64
	mu      sync.Mutex
	waiting map[string]chan Result
	done    chan struct{}
	once    sync.Once
	reason  string
}

// ErrOffline says no listener of the endpoint is connected to this instance.
var ErrOffline = errors.New("no listener of this endpoint is connected to this instance")

// ErrGone says the listener's connection ended before it answered.
var ErrGone = errors.New("the listener disconnected before it answered")

func (h *Hub) heartbeat() time.Duration {
	if h.Heartbeat > 0 {
		return h.Heartbeat
	}
	return DefaultHeartbeat
}

func (h *Hub) log() *slog.Logger {
	if h.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return h.Log
}

// Connected reports whether a listener of the endpoint is connected here.
func (h *Hub) Connected(endpointID string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	_, ok := h.sessions[endpointID]
	return ok
}

// Count returns how many listeners are connected to this instance.
func (h *Hub) Count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.sessions)
}

// Serve runs an accepted listen connection of the endpoint ready names
// until it ends: it sends ready, then the deliveries Sender hands it, and
// reads the results. A newer connection of the same listener takes over
// from an older one, which is closed. Serve returns when the connection
// ends, ctx is done or the Hub is closed.
func (h *Hub) Serve(ctx context.Context, conn *websocket.Conn, ready Ready) error {
	conn.SetReadLimit(MaxResultMessage)
	ready.Type = TypeReady
	s := &session{conn: conn, ready: ready, waiting: map[string]chan Result{}, done: make(chan struct{})}
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		conn.Close(websocket.StatusGoingAway, "hookbook is shutting down")
		return errors.New("relay closed")
	}
	if h.sessions == nil {
		h.sessions = map[string]*session{}
	}
	h.running.Add(1)
	defer h.running.Done()
	old := h.sessions[ready.EndpointID]
	h.sessions[ready.EndpointID] = s
	h.mu.Unlock()
	if old != nil {
		old.end(websocket.StatusPolicyViolation, "another connection of this listener took over")
	}
	defer func() {
		h.mu.Lock()
		if h.sessions[ready.EndpointID] == s {
			delete(h.sessions, ready.EndpointID)
		}
		h.mu.Unlock()
		s.end(websocket.StatusNormalClosure, "")
		// The grace period counts from the end of the connection.
		seenCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if h.Seen != nil {
			if _, err := h.Seen(seenCtx, ready.EndpointID); err != nil {
				h.log().Warn("listener: mark seen", "endpoint_id", ready.EndpointID, "err", err)
			}
		}
		h.log().Info("listener disconnected", "endpoint_id", ready.EndpointID, "organization_id", ready.OrganizationID, "reason", s.reason)
	}()
	b, _ := json.Marshal(ready)
	wctx, cancel := context.WithTimeout(ctx, h.heartbeat())
	err := conn.Write(wctx, websocket.MessageText, b)
	cancel()
	if err != nil {
		s.reason = "ready not sent: " + err.Error()
		return fmt.Errorf("listener: send ready: %w", err)
	}
	h.log().Info("listener connected", "endpoint_id", ready.EndpointID, "organization_id", ready.OrganizationID, "name", ready.Name)
	if h.Back != nil {
		h.Back(ctx, ready.EndpointID)
	}
	go h.keepAlive(ctx, s)
	for {
		_, msg, err := conn.Read(ctx)
		if err != nil {
			s.setReason("connection ended: " + err.Error())
			return nil
		}
		var r Result
		if typ, _ := TypeOf(msg); typ != TypeResult || json.Unmarshal(msg, &r) != nil {
			s.end(websocket.StatusUnsupportedData, "expected a result message")
			return nil
		}
		s.mu.Lock()
		ch := s.waiting[r.ID]
		delete(s.waiting, r.ID)
		s.mu.Unlock()
		if ch != nil {
			ch <- r // buffered: never blocks
		}
	}
}

// keepAlive pings the connection and marks it seen every heartbeat, until
// it ends; a missing pong or a gone endpoint ends it.
func (h *Hub) keepAlive(ctx context.Context, s *session) {
	t := time.NewTicker(h.heartbeat())
	defer t.Stop()
	for {
		select {
		case <-s.done:
			return
		case <-ctx.Done():
			s.end(websocket.StatusGoingAway, "hookbook is shutting down")
			return
		case <-t.C:
		}
		wait := max(h.heartbeat(), minPongWait)
		pctx, cancel := context.WithTimeout(ctx, wait)
		err := s.conn.Ping(pctx)
		cancel()
		if err != nil {
			s.end(websocket.StatusPolicyViolation, "no pong within "+wait.String())
			return
		}
		if h.Seen != nil {
			live, err := h.Seen(ctx, s.ready.EndpointID)
			if err != nil {
				h.log().Warn("listener: mark seen", "endpoint_id", s.ready.EndpointID, "err", err)
			} else if !live {
				s.end(websocket.StatusNormalClosure, "the listening endpoint was deleted")
				return
			}
		}
	}
}

func (s *session) setReason(r string) {
	s.mu.Lock()
	if s.reason == "" {
		s.reason = r
	}
	s.mu.Unlock()
}

// end closes the session once: waiting attempts fail with ErrGone.
func (s *session) end(code websocket.StatusCode, reason string) {
	s.once.Do(func() {
		if reason != "" {
			s.setReason(reason)
		}
		close(s.done)
		go s.conn.Close(code, reason) // the close handshake waits for the peer
	})
}

// deliver sends d to the endpoint's listener and waits for its result
// until ctx is done.
func (h *Hub) deliver(ctx context.Context, endpointID string, d Delivery) (Result, error) {
	h.mu.Lock()
	s := h.sessions[endpointID]
	h.mu.Unlock()
	if s == nil {
		return Result{}, ErrOffline
	}
	d.Type = TypeDelivery
	d.ID = strconv.FormatUint(s.next.Add(1), 10)
	ch := make(chan Result, 1)
	s.mu.Lock()
	s.waiting[d.ID] = ch
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.waiting, d.ID)
		s.mu.Unlock()
	}()
	b, err := json.Marshal(d)
	if err != nil {
		return Result{}, err
	}
	if err := s.conn.Write(ctx, websocket.MessageText, b); err != nil {
		if ctx.Err() != nil {
			return Result{}, ctx.Err()
		}
		return Result{}, ErrGone
	}
	select {
	case r := <-ch:
		return r, nil
	case <-s.done:
		return Result{}, ErrGone
	case <-ctx.Done():
		return Result{}, ctx.Err()
	}
}

// Close ends every connection (hookbook is stopping), refuses new ones
// and waits until every Serve has returned.
func (h *Hub) Close() {
	h.mu.Lock()
	h.closed = true
	list := make([]*session, 0, len(h.sessions))
	for _, s := range h.sessions {
		list = append(list, s)
	}
	h.mu.Unlock()
	for _, s := range list {
		s.end(websocket.StatusGoingAway, "hookbook is shutting down")
	}
	h.running.Wait()
}
