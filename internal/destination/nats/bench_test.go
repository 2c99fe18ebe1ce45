package nats

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/hookbook/hookbook/internal/brokertest"
	"github.com/hookbook/hookbook/internal/destination"
	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// BenchmarkNATSPublish compares the nats Publisher with nats.go's
// JetStream publishing directly to the same stream in the same run, one
// message at a time (each waiting for its ack) and from 8 goroutines at
// once. Run: go test -run XXX -bench NATSPublish ./internal/destination/nats/
func BenchmarkNATSPublish(b *testing.B) {
	brokertest.Require(b, "NATS", sharedAddr)
	nc, err := natsgo.Connect("nats://" + sharedAddr)
	if err != nil {
		b.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	prefix := "hbbench" + randomID()
	ctx := context.Background()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: prefix, Subjects: []string{prefix + ".>"}, Storage: jetstream.FileStorage}); err != nil {
		b.Fatal(err)
	}
	defer js.DeleteStream(ctx, prefix)
	p := open(b, fmt.Sprintf(`{"url":"nats://%s","subject":"%s.{event}"}`, sharedAddr, prefix))
	var n atomic.Int64
	msg := func() *destination.Message {
		m := message(int(n.Add(1)), "k")
		m.EventID = fmt.Sprintf("evt_%s_%d", prefix, n.Load())
		return m
	}
	direct := func(m *destination.Message) error {
		out := natsgo.NewMsg(prefix + ".booking.created")
		out.Data = m.Body
		for _, h := range m.Headers {
			out.Header.Add(h.Name, h.Value)
		}
		_, err := js.PublishMsg(ctx, out, jetstream.WithMsgID(m.EventID))
		return err
	}
	hookbook := func(m *destination.Message) error { return p.Publish(ctx, m) }
	brokertest.BenchPublish(b, func() error { return direct(msg()) }, func() error { return hookbook(msg()) })
}
