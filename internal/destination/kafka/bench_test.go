package kafka

import (
	"context"
	"fmt"
	"testing"

	"github.com/hookbook/hookbook/internal/brokertest"
	"github.com/hookbook/hookbook/internal/destination"
	"github.com/twmb/franz-go/pkg/kgo"
)

// BenchmarkKafkaPublish compares the kafka Publisher with a franz-go
// idempotent producer's ProduceSync directly, against the same kfake
// cluster in the same run (kfake is in-process, so this measures the
// client side, not a Kafka broker).
// Run: go test -run XXX -bench KafkaPublish ./internal/destination/kafka/
func BenchmarkKafkaPublish(b *testing.B) {
	c := cluster(b)
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.DefaultProduceTopic("bookings"), kgo.ProducerLinger(0))
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	p := open(b, fmt.Sprintf(`{"brokers":%s,"topic":"bookings"}`, brokersJSON(c)), brokertest.Dial)
	ctx := context.Background()
	m := message(1, "bkg_1", 1)
	direct := func(m *destination.Message) error {
		rec := &kgo.Record{Key: []byte(m.Key), Value: m.Body}
		for _, h := range m.Headers {
			rec.Headers = append(rec.Headers, kgo.RecordHeader{Key: h.Name, Value: []byte(h.Value)})
		}
		return cl.ProduceSync(ctx, rec).FirstErr()
	}
	hookbook := func(m *destination.Message) error { return p.Publish(ctx, m) }
	brokertest.BenchPublish(b, func() error { return direct(m) }, func() error { return hookbook(m) })
}
