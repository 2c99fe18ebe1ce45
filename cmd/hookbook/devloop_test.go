package main

import (
	"flag"
	"strings"
	"testing"
)

// TestInterspersed: flags after a command's positional argument parse as
// flags (`trigger booking.created --data '{…}'`).
func TestInterspersed(t *testing.T) {
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	data := fs.String("data", "", "")
	verbose := fs.Bool("v", false, "")
	args := interspersed(fs, []string{"booking.created", "--data", `{"a":1}`, "-v", "--", "-x"})
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	if *data != `{"a":1}` || !*verbose || strings.Join(fs.Args(), " ") != "booking.created -x" {
		t.Errorf("parsed %q %v %q", *data, *verbose, fs.Args())
	}
}
