package mqtt

import (
	"context"
	"fmt"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/hookbook/hookbook/internal/brokertest"
	"github.com/hookbook/hookbook/internal/destination"
)

// BenchmarkMQTTPublish compares the mqtt Publisher with paho publishing
// directly at the same QoS (1, waiting for each PUBACK) in the same run,
// one message at a time and from 8 goroutines at once.
// Run: go test -run XXX -bench MQTTPublish ./internal/destination/mqtt/
func BenchmarkMQTTPublish(b *testing.B) {
	brokertest.Require(b, "Mosquitto", sharedAddr)
	topic := "hbbench/" + randomID()
	opts := paho.NewClientOptions().AddBroker("tcp://" + sharedAddr).SetClientID("hbbench-" + randomID()).SetOrderMatters(false)
	c := paho.NewClient(opts)
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		b.Fatal(tok.Error())
	}
	defer c.Disconnect(0)
	p := open(b, fmt.Sprintf(`{"url":"tcp://%s","topic":"%s/{event}","qos":1}`, sharedAddr, topic))
	m := message(1)
	ctx := context.Background()
	direct := func(m *destination.Message) error {
		tok := c.Publish(topic+"/booking.created", 1, false, m.Body)
		tok.Wait()
		return tok.Error()
	}
	hookbook := func(m *destination.Message) error { return p.Publish(ctx, m) }
	brokertest.BenchPublish(b, func() error { return direct(m) }, func() error { return hookbook(m) })
}
