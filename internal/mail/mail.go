// Package mail sends hookbook's alert mails through an SMTP server
// (HOOKBOOK_SMTP_URL): smtp://user:pass@host:port, upgraded with STARTTLS
// whenever the server offers it, or smtps://… for TLS from the first byte.
// It knows nothing of what the mails say (package outbound renders them).
// The password is only ever sent to the server: errors and String show the
// URL with it replaced.
package mail

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/smtp"
	"net/url"
	"strings"
	"time"
)

// DefaultTimeout bounds one mail's whole conversation with the server.
const DefaultTimeout = 30 * time.Second

// Mailer sends mails from From through the server of URL.
type Mailer struct {
	url      *url.URL
	from     string
	implicit bool // smtps: TLS from the first byte
	// TLSConfig, when set, replaces the default (the system's roots, the
	// server's host name): tests trust their own certificate with it.
	TLSConfig *tls.Config
	// Timeout bounds one mail (0: DefaultTimeout).
	Timeout time.Duration
}

// New checks an SMTP URL and a sender address and returns their Mailer.
func New(rawURL, from string) (*Mailer, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, errors.New("not a URL such as smtp://user:pass@mail.example.com:587")
	}
	if u.Scheme != "smtp" && u.Scheme != "smtps" {
		return nil, fmt.Errorf("scheme %q is neither smtp nor smtps", u.Scheme)
	}
	if u.Hostname() == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
		return nil, fmt.Errorf("%s is not smtp://user:pass@host:port", u.Redacted())
	}
	a, err := mail.ParseAddress(from)
	if err != nil || a.Address != from {
		return nil, fmt.Errorf("sender %q is not an e-mail address such as hookbook@example.com", from)
	}
	return &Mailer{url: u, from: from, implicit: u.Scheme == "smtps"}, nil
}

// String is the server's URL with its password replaced.
func (m *Mailer) String() string { return m.url.Redacted() }

// From is the sender address.
func (m *Mailer) From() string { return m.from }

// addr is host:port, the port defaulting to 587 (smtp) or 465 (smtps).
func (m *Mailer) addr() string {
	port := m.url.Port()
	if port == "" {
		port = "587"
		if m.implicit {
			port = "465"
		}
	}
	return net.JoinHostPort(m.url.Hostname(), port)
}

func (m *Mailer) tlsConfig() *tls.Config {
	if m.TLSConfig != nil {
		c := m.TLSConfig.Clone()
		if c.ServerName == "" {
			c.ServerName = m.url.Hostname()
		}
		return c
	}
	return &tls.Config{ServerName: m.url.Hostname(), MinVersion: tls.VersionTLS12}
}

// Send sends one plain-text mail to every address of to. It gives up when
// ctx ends or the Mailer's Timeout passes.
func (m *Mailer) Send(ctx context.Context, to []string, subject, text string) error {
	if len(to) == 0 {
		return errors.New("send mail: no recipient")
	}
	timeout := m.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := m.send(ctx, to, Message(m.from, to, subject, text, time.Now())); err != nil {
		return fmt.Errorf("send mail through %s: %w", m.String(), err)
	}
	return nil
}

func (m *Mailer) send(ctx context.Context, to []string, msg []byte) error {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", m.addr())
	if err != nil {
		return err
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Now()) })
	defer stop()
	if m.implicit {
		conn = tls.Client(conn, m.tlsConfig())
	}
	c, err := smtp.NewClient(conn, m.url.Hostname())
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.Hello("localhost"); err != nil {
		return err
	}
	if !m.implicit {
		if ok, _ := c.Extension("STARTTLS"); ok {
			if err := c.StartTLS(m.tlsConfig()); err != nil {
				return fmt.Errorf("starttls: %w", err)
			}
		}
	}
	if user := m.url.User; user != nil {
		pass, _ := user.Password()
		// net/smtp sends PLAIN credentials only over TLS or to localhost.
		if err := c.Auth(smtp.PlainAuth("", user.Username(), pass, m.url.Hostname())); err != nil {
			return fmt.Errorf("auth: %w", err)
		}
	}
	if err := c.Mail(m.from); err != nil {
		return err
	}
	for _, r := range to {
		if err := c.Rcpt(r); err != nil {
			return fmt.Errorf("recipient %s: %w", r, err)
		}
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write(msg); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	return c.Quit()
}

// Message writes a plain-text mail (RFC 5322, UTF-8, quoted-printable
// body, CRLF line ends) dated now.
func Message(from string, to []string, subject, text string, now time.Time) []byte {
	var b bytes.Buffer
	id := make([]byte, 12)
	_, _ = rand.Read(id)
	domain := from[strings.LastIndex(from, "@")+1:]
	header := func(k, v string) { b.WriteString(k + ": " + v + "\r\n") }
	header("From", from)
	header("To", strings.Join(to, ", "))
	header("Subject", mime.QEncoding.Encode("utf-8", subject))
	header("Date", now.UTC().Format(time.RFC1123Z))
	header("Message-ID", "<"+hex.EncodeToString(id)+"@"+domain+">")
	header("MIME-Version", "1.0")
	header("Content-Type", "text/plain; charset=utf-8")
	header("Content-Transfer-Encoding", "quoted-printable")
	header("Auto-Submitted", "auto-generated")
	b.WriteString("\r\n")
	qp := quotedprintable.NewWriter(&b)
	_, _ = qp.Write([]byte(strings.ReplaceAll(strings.ReplaceAll(text, "\r\n", "\n"), "\n", "\r\n")))
	_ = qp.Close()
	return b.Bytes()
}
