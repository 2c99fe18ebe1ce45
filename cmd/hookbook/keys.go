package main

import (
	"context"
	"encoding/json"
	"flag"
	"io"

	"github.com/hookbook/hookbook/internal/httpapi"
	"github.com/hookbook/hookbook/internal/org"
)

// orgList prints every organization as {"data":[…]}, the shape of the
// API's lists.
func orgList(ctx context.Context, fs *flag.FlagSet, args []string, out io.Writer) error {
	if err := parse(fs, args, 0); err != nil {
		return err
	}
	st, err := openMigrated(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	list, err := (&org.Service{DB: st}).Organizations(ctx)
	if err != nil {
		return err
	}
	type row struct {
		ID   string `json:"organization_id"`
		Name string `json:"name"`
	}
	rows := make([]row, len(list))
	for i, o := range list {
		rows[i] = row{o.ID, o.Name}
	}
	return json.NewEncoder(out).Encode(httpapi.NewList(rows, ""))
}

// keyService opens the database and checks that the organization exists.
func keyService(ctx context.Context, orgID string) (*org.Service, func(), error) {
	st, err := openMigrated(ctx)
	if err != nil {
		return nil, nil, err
	}
	s := &org.Service{DB: st}
	if _, err := s.Organization(ctx, orgID); err != nil {
		st.Close()
		return nil, nil, err
	}
	return s, func() { st.Close() }, nil
}

func keyCreate(ctx context.Context, fs *flag.FlagSet, args []string, out io.Writer) error {
	orgID := fs.String("org", "", "the organization's id, org_… (required)")
	name := fs.String("name", "", "the key's name, e.g. the system that uses it (required)")
	if err := parse(fs, args, 0); err != nil {
		return err
	}
	if err := required("key create", "org", *orgID, "name", *name); err != nil {
		return err
	}
	s, done, err := keyService(ctx, *orgID)
	if err != nil {
		return err
	}
	defer done()
	k, err := s.CreateAPIKey(ctx, *orgID, *name)
	if err != nil {
		return err
	}
	return json.NewEncoder(out).Encode(k)
}

func keyList(ctx context.Context, fs *flag.FlagSet, args []string, out io.Writer) error {
	orgID := fs.String("org", "", "the organization's id, org_… (required)")
	if err := parse(fs, args, 0); err != nil {
		return err
	}
	if err := required("key list", "org", *orgID); err != nil {
		return err
	}
	s, done, err := keyService(ctx, *orgID)
	if err != nil {
		return err
	}
	defer done()
	keys, err := s.APIKeys(ctx, *orgID)
	if err != nil {
		return err
	}
	// The same answer as GET /api/v1/api-keys.
	return json.NewEncoder(out).Encode(httpapi.NewList(keys, ""))
}

func keyRevoke(ctx context.Context, fs *flag.FlagSet, args []string, out io.Writer) error {
	orgID := fs.String("org", "", "the organization's id, org_… (required)")
	id := fs.String("id", "", "the key's id, key_… (required; see 'hookbook key list')")
	if err := parse(fs, args, 0); err != nil {
		return err
	}
	if err := required("key revoke", "org", *orgID, "id", *id); err != nil {
		return err
	}
	s, done, err := keyService(ctx, *orgID)
	if err != nil {
		return err
	}
	defer done()
	if err := s.RevokeAPIKey(ctx, *orgID, *id); err != nil {
		return err
	}
	return json.NewEncoder(out).Encode(map[string]string{"revoked": *id})
}
