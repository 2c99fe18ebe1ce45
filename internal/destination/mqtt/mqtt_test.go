package mqtt

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/eclipse/paho.mqtt.golang/packets"
	"github.com/hookbook/hookbook/internal/brokertest"
	"github.com/hookbook/hookbook/internal/destination"
)

const sharedAddr = brokertest.Mosquitto

func randomID() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
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

func message(i int) *destination.Message {
	id := fmt.Sprintf("evt_%s_%04d", randomID(), i)
	return &destination.Message{
		EventID: id, EventType: "booking.created", Timestamp: time.Now(), Key: "bkg_1", Sequence: int64(i + 1),
		Body:    []byte(fmt.Sprintf(`{"id":%q,"n":%d}`, id, i)),
		Headers: []destination.Header{{Name: "webhook-id", Value: id}},
	}
}

func publish(t testing.TB, p destination.Publisher, m *destination.Message) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return p.Publish(ctx, m)
}

// subscribe is a consumer written with paho: it receives topic's messages
// at QoS 2 on a channel.
func subscribe(t testing.TB, addr, user, pass, topic string) <-chan paho.Message {
	t.Helper()
	ch := make(chan paho.Message, 10000)
	opts := paho.NewClientOptions().AddBroker("tcp://" + addr).SetClientID("hbtest-" + randomID()).
		SetUsername(user).SetPassword(pass).SetAutoReconnect(false)
	c := paho.NewClient(opts)
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("subscriber connect: %v", tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(0) })
	if tok := c.Subscribe(topic, 2, func(_ paho.Client, m paho.Message) { ch <- m }); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe: %v", tok.Error())
	}
	return ch
}

func receive(t testing.TB, ch <-chan paho.Message) paho.Message {
	t.Helper()
	select {
	case m := <-ch:
		return m
	case <-time.After(10 * time.Second):
		t.Fatal("no message within 10s")
		return nil
	}
}

// TestMQTTPublishConsume: at each QoS, N messages (half concurrently, half
// in order) reach a paho subscriber on the {event} topic with their exact
// body, the ordered half in order.
func TestMQTTPublishConsume(t *testing.T) {
	t.Parallel()
	brokertest.Require(t, "Mosquitto", sharedAddr)
	for _, qos := range []int{0, 1, 2} {
		t.Run(fmt.Sprint("qos", qos), func(t *testing.T) {
			t.Parallel()
			prefix := "hbtest/" + randomID()
			ch := subscribe(t, sharedAddr, "", "", prefix+"/#")
			p := open(t, fmt.Sprintf(`{"url":"tcp://%s","topic":"%s/{event}","qos":%d}`, sharedAddr, prefix, qos))
			const n = 100
			msgs := make([]*destination.Message, n)
			byBody := map[string]int{}
			for i := range msgs {
				msgs[i] = message(i)
				byBody[string(msgs[i].Body)] = i
			}
			var wg sync.WaitGroup
			errs := make(chan error, n)
			for w := 0; w < 5; w++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := w; i < n/2; i += 5 {
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
			next := n / 2
			for range n {
				m := receive(t, ch)
				if m.Topic() != prefix+"/booking.created" {
					t.Fatalf("topic %s", m.Topic())
				}
				i, ok := byBody[string(m.Payload())]
				if !ok {
					t.Fatalf("unexpected body %s", m.Payload())
				}
				delete(byBody, string(m.Payload()))
				if i >= n/2 {
					if i != next {
						t.Fatalf("ordered message %d arrived where %d was due", i, next)
					}
					next++
				}
				if !bytes.Equal(m.Payload(), msgs[i].Body) {
					t.Fatal("body differs")
				}
			}
		})
	}
}

// TestMQTTWrongPassword: a private mosquitto refuses a wrong password: auth.
func TestMQTTWrongPassword(t *testing.T) {
	t.Parallel()
	b := startPrivateBroker(t, "hb", "right")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, cred := range []string{"hb:wrong@", ""} {
		_, err := New().Open(ctx, json.RawMessage(fmt.Sprintf(`{"url":"tcp://%s%s"}`, cred, b.Addr())), brokertest.Dial)
		if destination.KindOf(err) != destination.KindAuth {
			t.Fatalf("%q: err = %v, want auth", cred, err)
		}
		if strings.Contains(err.Error(), "wrong") {
			t.Fatalf("the error shows the password: %v", err)
		}
	}
	p := open(t, fmt.Sprintf(`{"url":"tcp://hb:right@%s"}`, b.Addr()))
	if err := publish(t, p, message(1)); err != nil {
		t.Fatal(err)
	}
}

// TestMQTTOutage: the private broker is killed: publishing fails with
// connect (or timeout), and resumes after it is started again; what is
// acknowledged afterwards reaches a subscriber.
func TestMQTTOutage(t *testing.T) {
	t.Parallel()
	b := startPrivateBroker(t, "hb", "pw")
	p := open(t, fmt.Sprintf(`{"url":"tcp://hb:pw@%s","topic":"out/{event}"}`, b.Addr()))
	if err := publish(t, p, message(0)); err != nil {
		t.Fatal(err)
	}
	b.Stop()
	err := publish(t, p, message(1))
	if k := destination.KindOf(err); k != destination.KindConnect && k != destination.KindTimeout {
		t.Fatalf("during the outage: err = %v, want connect or timeout", err)
	}
	b.Start()
	ch := subscribe(t, b.Addr(), "hb", "pw", "out/#")
	m := message(2)
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err = p.Publish(ctx, m)
		cancel()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("publishing did not resume: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The attempt that timed out in the outage may arrive too (at least
	// once); the acknowledged one must.
	for got := receive(t, ch); !bytes.Equal(got.Payload(), m.Body); got = receive(t, ch) {
	}
}

// TestMQTTOpenBounded: a broker that accepts and never answers costs Open
// its context's time: timeout.
func TestMQTTOpenBounded(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	silent(t, l)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = New().Open(ctx, json.RawMessage(fmt.Sprintf(`{"url":"tcp://%s"}`, l.Addr())), brokertest.Dial)
	if destination.KindOf(err) != destination.KindTimeout {
		t.Fatalf("err = %v, want timeout", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Fatalf("Open took %s", time.Since(start))
	}
}

// TestMQTTConnectRefused: nothing listening: connect.
func TestMQTTConnectRefused(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := New().Open(ctx, json.RawMessage(fmt.Sprintf(`{"url":"tcp://127.0.0.1:%d"}`, brokertest.FreePort(t))), brokertest.Dial)
	if destination.KindOf(err) != destination.KindConnect {
		t.Fatalf("err = %v, want connect", err)
	}
}

// TestMQTTClosed: Publish after Close fails (connect).
func TestMQTTClosed(t *testing.T) {
	t.Parallel()
	brokertest.Require(t, "Mosquitto", sharedAddr)
	p := open(t, fmt.Sprintf(`{"url":"tcp://%s"}`, sharedAddr))
	p.Close()
	if err := publish(t, p, message(1)); destination.KindOf(err) != destination.KindConnect {
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

// TestMQTTHungBroker: a broker that stops answering mid-run costs each
// Publish its context's time, no more (timeout), and publishing goes on
// once it answers again.
func TestMQTTHungBroker(t *testing.T) {
	t.Parallel()
	brokertest.Require(t, "Mosquitto", sharedAddr)
	f := brokertest.NewProxy(t, sharedAddr)
	p := open(t, fmt.Sprintf(`{"url":"tcp://%s","topic":"hbtest/%s/{event}"}`, f.Addr(), randomID()))
	if err := publish(t, p, message(0)); err != nil {
		t.Fatal(err)
	}
	f.Freeze()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	start := time.Now()
	err := p.Publish(ctx, message(1))
	cancel()
	if destination.KindOf(err) != destination.KindTimeout {
		t.Fatalf("err = %v, want timeout", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Fatalf("Publish took %s", time.Since(start))
	}
	f.Restore()
	if err := publish(t, p, message(2)); err != nil {
		t.Fatal(err)
	}
}

// TestMQTTUnacknowledgedIsNeverSuccess: a broker that takes each publish
// and drops the connection before its PUBACK, and takes the client back
// when it connects again. No publish may succeed: one the broker never
// acknowledged fails and is hookbook's to retry. (paho's own reconnect
// resent such publishes and completed them as acknowledged.)
func TestMQTTUnacknowledgedIsNeverSuccess(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				for {
					p, err := packets.ReadPacket(c)
					if err != nil {
						return
					}
					switch p.(type) {
					case *packets.ConnectPacket:
						if packets.NewControlPacket(packets.Connack).Write(c) != nil {
							return
						}
					case *packets.PingreqPacket:
						packets.NewControlPacket(packets.Pingresp).Write(c)
					case *packets.PublishPacket:
						return // taken, never acknowledged: the connection drops
					}
				}
			}()
		}
	}()
	p := open(t, fmt.Sprintf(`{"url":"tcp://%s","topic":"t","qos":1}`, ln.Addr()))
	for i := range 3 {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err := p.Publish(ctx, message(i))
		cancel()
		if err == nil {
			t.Fatalf("publish %d succeeded, but the broker acknowledged nothing", i)
		}
		if k := destination.KindOf(err); k != destination.KindConnect && k != destination.KindTimeout {
			t.Errorf("publish %d: %v, want connect or timeout", i, err)
		}
	}
}
