package mail_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"io"
	"mime/quotedprintable"
	"net"
	netmail "net/mail"
	"strings"
	"testing"
	"time"

	"github.com/hookbook/hookbook/internal/mail"
	"github.com/hookbook/hookbook/internal/mail/mailtest"
)

// TestSend: a mail goes through a real SMTP server on 127.0.0.1 in plain
// text, upgraded with STARTTLS when offered, and over smtps, authenticated
// with the URL's user; it arrives with its headers and its UTF-8 body.
func TestSend(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		mode   mailtest.Mode
		scheme string
	}{{"plain", mailtest.Plain, "smtp"}, {"starttls", mailtest.StartTLS, "smtp"}, {"smtps", mailtest.Implicit, "smtps"}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := mailtest.Start(t, tc.mode, "hookbook", "s3cret-pass")
			m, err := mail.New(tc.scheme+"://hookbook:s3cret-pass@"+srv.Addr, "alerts@hooks.example.com")
			if err != nil {
				t.Fatal(err)
			}
			if srv.Roots != nil {
				m.TLSConfig = &tls.Config{RootCAs: srv.Roots}
			}
			if strings.Contains(m.String(), "s3cret-pass") {
				t.Errorf("String() shows the password: %s", m)
			}
			text := "Deliveries fail — since 10:00.\nLast line with a trailing dot\n.\n"
			if err := m.Send(context.Background(), []string{"ops@example.com", "dev@example.com"}, "Webhook endpoint failing: https://crm.example.com/hooks", text); err != nil {
				t.Fatal(err)
			}
			got := srv.Messages()
			if len(got) != 1 {
				t.Fatalf("the server took %d mails, want 1", len(got))
			}
			msg := got[0]
			if msg.From != "alerts@hooks.example.com" || len(msg.To) != 2 || msg.User != "hookbook" || msg.TLS != (tc.mode != mailtest.Plain) {
				t.Errorf("mail from %q to %v as %q, tls %v", msg.From, msg.To, msg.User, msg.TLS)
			}
			parsed, err := netmail.ReadMessage(bytes.NewReader(msg.Data))
			if err != nil {
				t.Fatal(err)
			}
			if s := parsed.Header.Get("Subject"); s != "Webhook endpoint failing: https://crm.example.com/hooks" {
				t.Errorf("Subject = %q", s)
			}
			body, err := io.ReadAll(quotedprintable.NewReader(parsed.Body))
			if err != nil {
				t.Fatal(err)
			}
			if strings.ReplaceAll(string(body), "\r\n", "\n") != text {
				t.Errorf("body = %q, want %q", body, text)
			}
		})
	}
}

// TestSendFailures: a wrong password and a server nobody runs are errors
// that never show the password, and a server that does not answer costs
// at most the timeout.
func TestSendFailures(t *testing.T) {
	t.Parallel()
	srv := mailtest.Start(t, mailtest.Plain, "hookbook", "right-pass")
	m, err := mail.New("smtp://hookbook:wrong-pass@"+srv.Addr, "alerts@example.com")
	if err != nil {
		t.Fatal(err)
	}
	err = m.Send(context.Background(), []string{"ops@example.com"}, "s", "t")
	if err == nil || strings.Contains(err.Error(), "wrong-pass") {
		t.Errorf("wrong password: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	silent := ln.Addr().String()
	t.Cleanup(func() { ln.Close() })
	go func() { // accepts and never speaks
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { c.Close() })
		}
	}()
	m, _ = mail.New("smtp://hookbook:pw-123456@"+silent, "alerts@example.com")
	m.Timeout = 300 * time.Millisecond
	start := time.Now()
	err = m.Send(context.Background(), []string{"ops@example.com"}, "s", "t")
	if err == nil || strings.Contains(err.Error(), "pw-123456") || time.Since(start) > 10*time.Second {
		t.Errorf("silent server: %v after %s", err, time.Since(start))
	}
	ln2, _ := net.Listen("tcp", "127.0.0.1:0")
	closed := ln2.Addr().String()
	ln2.Close()
	m, _ = mail.New("smtp://hookbook:pw-123456@"+closed, "alerts@example.com")
	if err := m.Send(context.Background(), []string{"ops@example.com"}, "s", "t"); err == nil || strings.Contains(err.Error(), "pw-123456") {
		t.Errorf("closed port: %v", err)
	}
	for _, bad := range []string{"http://x:1", "smtp://", "smtp://host:25/path", "::"} {
		if _, err := mail.New(bad, "alerts@example.com"); err == nil {
			t.Errorf("New(%q) passed", bad)
		}
	}
	if _, err := mail.New("smtp://u:p@host:25", "Alerts <a@example.com>"); err == nil {
		t.Error("a sender with a display name passed")
	}
}
