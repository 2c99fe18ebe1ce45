package outbound

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"slices"

	"github.com/hookbook/hookbook"
	"github.com/hookbook/hookbook/internal/destination"
)

// Broker endpoints: an endpoint whose type is a message broker's has a
// config its type validates (422 naming config.<field>), connects only to
// addresses the network guard allows, and keeps its credentials: answers
// show ConfigView (every credential as "***"), and an update that sends a
// "***" back in place of a credential keeps the stored one. Its url is
// hookbook's description of the destination, credentials redacted
// ("rabbitmq exchange x at amqp://user:***@host/vhost"): set by hookbook,
// never by a client. Transformations are for webhooks only; the
// endpoint's headers travel as broker headers beside the metadata.

// applyType validates and sets the endpoint's type and config; called
// after the other fields, so the url and transformation rules of the
// resulting type apply.
func (s *Service) applyType(ctx context.Context, e *hookbook.Endpoint, in EndpointInput, f hookbook.Fields) {
	prevType, prevConfig := e.Type, e.Config
	if prevType == hookbook.EndpointListen || (in.Type != nil && *in.Type == hookbook.EndpointListen) {
		// Listening endpoints are made by hookbook listen (GET
		// /api/v1/listen) and stay what they are.
		if in.Type != nil && *in.Type != prevType {
			f.Add("type", "listen endpoints are made by hookbook listen and keep their type")
		}
		if len(in.Config) > 0 && string(in.Config) != "null" {
			f.Add("config", "listen endpoints have no config")
		}
		return
	}
	if in.Type != nil {
		e.Type = *in.Type
	}
	if e.Type == "" {
		e.Type = hookbook.EndpointWebhook
	}
	if e.Type == hookbook.EndpointWebhook {
		switch {
		case len(in.Config) > 0 && string(in.Config) != "null":
			f.Add("config", "webhook endpoints have no config; their url says where they deliver")
		case prevType != hookbook.EndpointWebhook && prevType != "" && in.URL == nil:
			f.Add("url", "is required to make this endpoint a webhook")
		}
		e.Config = nil
		return
	}
	t, ok := s.Destinations[e.Type]
	if !ok {
		f.Add("type", "is not offered by this instance (offered: "+s.offeredTypes()+")")
		return
	}
	if in.URL != nil && *in.URL != "" && *in.URL != e.URL {
		f.Add("url", "is not set for "+e.Type+" endpoints: config says where they publish")
		return
	}
	if e.Transformation != nil {
		f.Add("transformation", "only webhook endpoints run transformations")
	}
	// A webhook's receiver security does not carry over to a broker: a
	// change of type names its removal (null), as a transformation's. (What
	// this request sets, applySecurity has checked.)
	if prevType != e.Type {
		if e.Auth != nil && !in.Auth.Set {
			f.Add("auth", "is only for webhook endpoints: remove it with the change of type")
		}
		if e.TLS != nil && !in.TLS.Set {
			f.Add("tls", "is only for webhook endpoints: remove it with the change of type")
		}
	}
	raw := in.Config
	keptStored := false // a stored credential stands for a "***" given back
	switch {
	case len(raw) == 0 && prevType == e.Type:
		raw = prevConfig // unchanged
	case len(raw) == 0:
		f.Add("config", "is required for "+e.Type+" endpoints")
		return
	case prevType == e.Type:
		raw = destination.KeepCredentials(raw, prevConfig)
		keptStored = !bytes.Equal(raw, in.Config)
	}
	if destination.HasRedacted(raw) {
		f.Add("config", `holds "***" where a credential goes, with no stored credential to keep: give the credential`)
		return
	}
	norm, err := t.Validate(raw)
	if err != nil {
		var fe *destination.FieldError
		if errors.As(err, &fe) {
			name := "config"
			if fe.Field != "" {
				name += "." + fe.Field
			}
			f.Add(name, fe.Message)
		} else {
			f.Add("config", err.Error())
		}
		return
	}
	field := "config." + destination.AddressField(t)
	addrs, err := t.Addresses(norm)
	if err != nil {
		f.Add(field, err.Error())
		return
	}
	if keptStored && !knownAddresses(t, addrs, prevConfig) {
		// A stored credential goes only where it went: whoever can edit the
		// endpoint could otherwise send it to a host of their own.
		f.Add(field, `holds "***" for a stored credential, but the broker's address changed: give the credential again to use it with another address`)
		return
	}
	for _, a := range addrs {
		if err := s.Guard.CheckAddress(ctx, a); err != nil {
			f.Add(field, err.Error())
			return
		}
	}
	e.Config = norm
	e.URL = destination.Describe(t, norm)
}

// knownAddresses reports whether next, the addresses of a new config of
// t, are all among those prev connects to: a stored credential kept for
// them goes nowhere it did not go before.
func knownAddresses(t destination.Type, next []string, prev json.RawMessage) bool {
	before, err := t.Addresses(prev)
	if err != nil {
		return false
	}
	for _, a := range next {
		if !slices.Contains(before, a) {
			return false
		}
	}
	return true
}

// offeredTypes lists the endpoint types this instance offers.
func (s *Service) offeredTypes() string {
	out := hookbook.EndpointWebhook
	for _, t := range s.Destinations.Ordered() {
		out += ", " + t.Name()
	}
	return out
}

// OfferedTypes returns the broker types this instance offers, in the order
// forms list them.
func (s *Service) OfferedTypes() []destination.Type { return s.Destinations.Ordered() }

// view sets what answers show of e's config: nil for webhooks, its type's
// redaction otherwise.
func (s *Service) view(e *hookbook.Endpoint) *hookbook.Endpoint {
	if e == nil {
		return e
	}
	e.ConfigView = nil
	if e.Type == hookbook.EndpointWebhook || e.Type == "" || len(e.Config) == 0 {
		return e
	}
	if t, ok := s.Destinations[e.Type]; ok {
		e.ConfigView = t.Redact(e.Config)
	} else {
		e.ConfigView = destination.RedactAny(e.Config)
	}
	return e
}

// ConfigOf returns the stored config of a broker endpoint, decoded, with
// every credential redacted: what a form shows.
func (s *Service) ConfigOf(e *hookbook.Endpoint) map[string]any {
	var m map[string]any
	json.Unmarshal(s.view(e).ConfigView, &m)
	return m
}
