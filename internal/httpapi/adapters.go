package httpapi

import (
	"bytes"
	"context"
	"net/http"

	"github.com/hookbook/hookbook"
	"github.com/hookbook/hookbook/internal/db"
)

// The generic adapters below turn a service method into an OrgHandler;
// every route whose handler only decodes, calls and answers uses them.

// create decodes In, calls fn and answers 201 with its result.
func create[In, Out any](fn func(context.Context, string, In) (Out, error)) OrgHandler {
	return func(w http.ResponseWriter, r *http.Request, org *hookbook.Organization) error {
		var in In
		if err := Decode(w, r, &in); err != nil {
			return err
		}
		out, err := fn(r.Context(), org.ID, in)
		if err != nil {
			return err
		}
		WriteJSON(w, http.StatusCreated, out)
		return nil
	}
}

// update decodes In (an empty body counts as {}), calls fn with the path id
// and answers 200.
func update[In, Out any](fn func(context.Context, string, string, In) (Out, error)) OrgHandler {
	return withBody(fn, decodeOptional)
}

// patch is update for a PATCH, whose body must be a JSON object.
func patch[In, Out any](fn func(context.Context, string, string, In) (Out, error)) OrgHandler {
	return withBody(fn, Decode)
}

func withBody[In, Out any](fn func(context.Context, string, string, In) (Out, error), decode func(http.ResponseWriter, *http.Request, any) error) OrgHandler {
	return func(w http.ResponseWriter, r *http.Request, org *hookbook.Organization) error {
		var in In
		if err := decode(w, r, &in); err != nil {
			return err
		}
		out, err := fn(r.Context(), org.ID, r.PathValue("id"), in)
		if err != nil {
			return err
		}
		WriteJSON(w, http.StatusOK, out)
		return nil
	}
}

// action calls fn with the path id (any body is ignored) and answers 200.
func action[Out any](fn func(context.Context, string, string) (Out, error)) OrgHandler {
	return func(w http.ResponseWriter, r *http.Request, org *hookbook.Organization) error {
		out, err := fn(r.Context(), org.ID, r.PathValue("id"))
		if err != nil {
			return err
		}
		WriteJSON(w, http.StatusOK, out)
		return nil
	}
}

// get calls fn with the path id and answers 200.
func get[Out any](fn func(context.Context, string, string) (Out, error)) OrgHandler {
	return action(fn)
}

// remove calls fn with the path id and answers 204.
func remove(fn func(context.Context, string, string) error) OrgHandler {
	return func(w http.ResponseWriter, r *http.Request, org *hookbook.Organization) error {
		if err := fn(r.Context(), org.ID, r.PathValue("id")); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
}

// list calls fn with the page of ?limit= and ?cursor= (ids starting with
// prefix) and answers 200 with a list.
func list[Out any](prefix string, fn func(context.Context, string, db.Page) ([]Out, string, error)) OrgHandler {
	return func(w http.ResponseWriter, r *http.Request, org *hookbook.Organization) error {
		p, err := ParsePage(r, prefix)
		if err != nil {
			return err
		}
		items, next, err := fn(r.Context(), org.ID, p)
		if err != nil {
			return err
		}
		WriteJSON(w, http.StatusOK, NewList(items, next))
		return nil
	}
}

// decodeOptional is Decode that takes an empty body as {}.
func decodeOptional(w http.ResponseWriter, r *http.Request, dst any) error {
	body, err := readJSON(w, r)
	if err != nil {
		return err
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	return DecodeBytes(body, dst)
}
