module github.com/hookbook/hookbook/webhook

// The receivers' library: standard library only, and a go line old enough
// for the receivers that import it.
go 1.21
