package server

import (
	"github.com/hookbook/hookbook/internal/destination"
	"github.com/hookbook/hookbook/internal/destination/kafka"
	"github.com/hookbook/hookbook/internal/destination/mqtt"
	"github.com/hookbook/hookbook/internal/destination/nats"
	"github.com/hookbook/hookbook/internal/destination/rabbitmq"
	"github.com/hookbook/hookbook/internal/destination/redis"
)

// destinationTypes are the broker types this build has, each offered when
// HOOKBOOK_DESTINATION_TYPES names it. A new broker type is one more entry
// here (and a row in e2e/destinations_test.go).
func destinationTypes() []destination.Type {
	return []destination.Type{
		rabbitmq.New(),
		nats.New(),
		kafka.New(),
		redis.New(),
		mqtt.New(),
	}
}
