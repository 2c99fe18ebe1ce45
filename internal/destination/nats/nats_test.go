package nats

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hookbook/hookbook/internal/brokertest"
	"github.com/hookbook/hookbook/internal/destination"
	"github.com/hookbook/hookbook/webhook"
	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

const sharedAddr = brokertest.NATS

func randomID() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// testStream makes a stream of its own on the server at url covering
// "<prefix>.>", deleted after the test.
func testStream(t *testing.T, url, user, pass string) (jetstream.Stream, string) {
	t.Helper()
	var opts []natsgo.Option
	if user != "" {
		opts = append(opts, natsgo.UserInfo(user, pass))
	}
	nc, err := natsgo.Connect(url, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	prefix := "hbtest" + randomID()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: strings.ToUpper(prefix), Subjects: []string{prefix + ".>"}, Storage: jetstream.FileStorage})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = js.DeleteStream(ctx, strings.ToUpper(prefix))
	})
	return st, prefix
}

func open(t testing.TB, config string) destination.Publisher {
	t.Helper()
	norm, err := New().Validate(json.RawMessage(config))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	p, err := New().Open(ctx, norm, brokertest.Dial)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func message(i int, key string) *destination.Message {
	id := fmt.Sprintf("evt_%s_%04d", randomID(), i)
	now := time.Now()
	body := []byte(fmt.Sprintf(`{"id":%q,"n":%d}`, id, i))
	return &destination.Message{
		EventID: id, EventType: "booking.created", Timestamp: now, Key: key, Sequence: int64(i + 1),
		Body: body,
		Headers: []destination.Header{
			{Name: "webhook-id", Value: id},
			{Name: "webhook-timestamp", Value: fmt.Sprint(now.Unix())},
			{Name: "webhook-signature", Value: sign(id, now, body)},
			{Name: "hookbook-event-type", Value: "booking.created"},
			{Name: "hookbook-ordering-key", Value: key},
			{Name: "hookbook-sequence", Value: fmt.Sprint(i + 1)},
		},
	}
}

func publish(t testing.TB, p destination.Publisher, m *destination.Message) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return p.Publish(ctx, m)
}

// TestNATSPublishConsume: N messages, the first half published at once
// from several goroutines, the rest in order; a JetStream consumer gets
// every body and header, and the ordered half in order on its subject.
func TestNATSPublishConsume(t *testing.T) {
	t.Parallel()
	brokertest.Require(t, "NATS", sharedAddr)
	st, prefix := testStream(t, "nats://"+sharedAddr, "", "")
	p := open(t, fmt.Sprintf(`{"url":"nats://%s","subject":"%s.{event}"}`, sharedAddr, prefix))

	const n = 200
	msgs := make([]*destination.Message, n)
	for i := range msgs {
		msgs[i] = message(i, "bkg_1")
	}
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n/2; i += 8 {
				if err := publish(t, p, msgs[i]); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for i := n / 2; i < n; i++ {
		if err := publish(t, p, msgs[i]); err != nil {
			t.Fatal(err)
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cons, err := st.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]*destination.Message{}
	for _, m := range msgs {
		byID[m.EventID] = m
	}
	var orderedSeen []string
	for got := 0; got < n; {
		batch, err := cons.Fetch(n-got, jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		for m := range batch.Messages() {
			got++
			id := m.Headers().Get("Nats-Msg-Id")
			want := byID[id]
			if want == nil {
				t.Fatalf("unknown message id %q", id)
			}
			delete(byID, id)
			if !bytes.Equal(m.Data(), want.Body) {
				t.Fatalf("body %s, want %s", m.Data(), want.Body)
			}
			if m.Subject() != prefix+".booking.created" {
				t.Fatalf("subject %s", m.Subject())
			}
			signed := http.Header{}
			for _, h := range want.Headers {
				if v := m.Headers().Get(h.Name); v != h.Value {
					t.Fatalf("header %s = %q, want %q", h.Name, v, h.Value)
				}
				signed.Set(h.Name, m.Headers().Get(h.Name))
			}
			// A consumer verifies the signature from the message's headers
			// as a webhook receiver does from a request's.
			if err := webhook.Verify(testSecret, signed, m.Data()); err != nil {
				t.Fatalf("signature: %v", err)
			}
			if want.Sequence > n/2 {
				orderedSeen = append(orderedSeen, id)
			}
		}
		if batch.Error() != nil {
			t.Fatal(batch.Error())
		}
	}
	if len(byID) != 0 {
		t.Fatalf("%d messages missing", len(byID))
	}
	for i, id := range orderedSeen {
		if id != msgs[n/2+i].EventID {
			t.Fatalf("ordered message %d is %s, want %s", i, id, msgs[n/2+i].EventID)
		}
	}
}

// TestNATSDeduplicates: the same event published twice (a redelivery) is
// acknowledged twice and stored once.
func TestNATSDeduplicates(t *testing.T) {
	t.Parallel()
	brokertest.Require(t, "NATS", sharedAddr)
	st, prefix := testStream(t, "nats://"+sharedAddr, "", "")
	p := open(t, fmt.Sprintf(`{"url":"nats://%s","subject":"%s.{event}"}`, sharedAddr, prefix))
	m := message(1, "")
	for range 2 {
		if err := publish(t, p, m); err != nil {
			t.Fatal(err)
		}
	}
	if err := publish(t, p, message(2, "")); err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 2 {
		t.Fatalf("the stream holds %d messages, want 2 (one per event id)", info.State.Msgs)
	}
}

// TestNATSNoStream: a subject no stream covers is publish_rejected, saying so.
func TestNATSNoStream(t *testing.T) {
	t.Parallel()
	brokertest.Require(t, "NATS", sharedAddr)
	p := open(t, fmt.Sprintf(`{"url":"nats://%s","subject":"hbnostream%s.{event}"}`, sharedAddr, randomID()))
	err := publish(t, p, message(1, ""))
	if destination.KindOf(err) != destination.KindRejected || !strings.Contains(err.Error(), "stream") {
		t.Fatalf("err = %v, want publish_rejected naming the stream", err)
	}
}

// TestNATSWrongPassword: a private server refuses a wrong password: auth.
func TestNATSWrongPassword(t *testing.T) {
	t.Parallel()
	s := startPrivateServer(t, "hb", "right")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := New().Open(ctx, json.RawMessage(fmt.Sprintf(`{"url":"nats://hb:wrong@%s"}`, s.Addr())), brokertest.Dial)
	if destination.KindOf(err) != destination.KindAuth {
		t.Fatalf("err = %v, want auth", err)
	}
	if strings.Contains(err.Error(), "wrong") {
		t.Fatalf("the error shows the password: %v", err)
	}
	_, err = New().Open(ctx, json.RawMessage(fmt.Sprintf(`{"url":"nats://%s"}`, s.Addr())), brokertest.Dial)
	if destination.KindOf(err) != destination.KindAuth {
		t.Fatalf("no credentials: err = %v, want auth", err)
	}
}

// TestNATSOutage: the private server is killed mid-run: publishing fails
// with connect (or timeout) and resumes once it is back; every message
// acknowledged is in the stream.
func TestNATSOutage(t *testing.T) {
	t.Parallel()
	s := startPrivateServer(t, "hb", "pw")
	st, prefix := testStream(t, "nats://"+s.Addr(), "hb", "pw")
	p := open(t, fmt.Sprintf(`{"url":"nats://hb:pw@%s","subject":"%s.{event}"}`, s.Addr(), prefix))
	acked := 0
	for i := range 10 {
		if err := publish(t, p, message(i, "k")); err != nil {
			t.Fatal(err)
		}
		acked++
	}
	s.Stop()
	m := message(10, "k")
	err := publish(t, p, m)
	if k := destination.KindOf(err); k != destination.KindConnect && k != destination.KindTimeout {
		t.Fatalf("during the outage: err = %v, want connect or timeout", err)
	}
	s.Start()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err = p.Publish(ctx, m)
		cancel()
		if err == nil {
			acked++
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("publishing did not resume: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	info, err := st.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if int(info.State.Msgs) != acked {
		t.Fatalf("the stream holds %d messages, %d were acknowledged", info.State.Msgs, acked)
	}
}

// TestNATSOpenBounded: a server that accepts and never answers costs Open
// its context's time, no more: timeout.
func TestNATSOpenBounded(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	silent(t, l)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = New().Open(ctx, json.RawMessage(fmt.Sprintf(`{"url":"nats://%s"}`, l.Addr())), brokertest.Dial)
	if destination.KindOf(err) != destination.KindTimeout {
		t.Fatalf("err = %v, want timeout", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Fatalf("Open took %s", time.Since(start))
	}
}

// TestNATSClosed: Publish after Close fails (connect).
func TestNATSClosed(t *testing.T) {
	t.Parallel()
	brokertest.Require(t, "NATS", sharedAddr)
	p := open(t, fmt.Sprintf(`{"url":"nats://%s"}`, sharedAddr))
	p.Close()
	if err := publish(t, p, message(1, "")); destination.KindOf(err) != destination.KindConnect {
		t.Fatalf("err = %v", err)
	}
}

// silent accepts connections on l and never answers, until the test ends.
func silent(t *testing.T, l net.Listener) {
	var mu sync.Mutex
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		<-done
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
}

const testSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

// sign is the webhook-signature header hookbook sends with a delivery.
func sign(id string, at time.Time, body []byte) string {
	sig, err := webhook.Sign(testSecret, id, at, body)
	if err != nil {
		panic(err)
	}
	return sig
}

// TestNATSHungServer: a server that stops answering mid-run costs each
// Publish its context's time, no more (timeout), and publishing goes on
// once it answers again.
func TestNATSHungServer(t *testing.T) {
	t.Parallel()
	brokertest.Require(t, "NATS", sharedAddr)
	st, prefix := testStream(t, "nats://"+sharedAddr, "", "")
	f := brokertest.NewProxy(t, sharedAddr)
	p := open(t, fmt.Sprintf(`{"url":"nats://%s","subject":"%s.{event}"}`, f.Addr(), prefix))
	if err := publish(t, p, message(0, "k")); err != nil {
		t.Fatal(err)
	}
	f.Freeze()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	start := time.Now()
	err := p.Publish(ctx, message(1, "k"))
	cancel()
	if destination.KindOf(err) != destination.KindTimeout {
		t.Fatalf("err = %v, want timeout", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Fatalf("Publish took %s", time.Since(start))
	}
	f.Restore()
	if err := publish(t, p, message(2, "k")); err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// The timed-out message may have been stored after all (at least once).
	if info.State.Msgs < 2 {
		t.Fatalf("the stream holds %d messages, 2 were acknowledged", info.State.Msgs)
	}
}
