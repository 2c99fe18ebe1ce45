package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"

	"github.com/hookbook/hookbook/internal/org"
)

// orgList prints every organization as a JSON array.
func orgList(ctx context.Context, out io.Writer) error {
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
	return json.NewEncoder(out).Encode(rows)
}

// keyCommand runs "hookbook key create|list|revoke --org ORG_ID …".
func keyCommand(ctx context.Context, args []string, out io.Writer) error {
	const keyUsage = "usage: hookbook key create --org ORG_ID --name NAME | key list --org ORG_ID | key revoke --org ORG_ID --id KEY_ID"
	if len(args) == 0 {
		return errors.New(keyUsage)
	}
	fs := flag.NewFlagSet("key "+args[0], flag.ContinueOnError)
	orgID := fs.String("org", "", "the organization's id (org_…)")
	name := fs.String("name", "", "create: the key's name, e.g. the system that uses it")
	id := fs.String("id", "", "revoke: the key's id (key_…)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if *orgID == "" {
		return errors.New(keyUsage)
	}
	st, err := openMigrated(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	s := &org.Service{DB: st}
	if _, err := s.Organization(ctx, *orgID); err != nil {
		return err
	}
	enc := json.NewEncoder(out)
	switch args[0] {
	case "create":
		k, err := s.CreateAPIKey(ctx, *orgID, *name)
		if err != nil {
			return err
		}
		return enc.Encode(k)
	case "list":
		keys, err := s.APIKeys(ctx, *orgID)
		if err != nil {
			return err
		}
		return enc.Encode(keys)
	case "revoke":
		if *id == "" {
			return errors.New(keyUsage)
		}
		if err := s.RevokeAPIKey(ctx, *orgID, *id); err != nil {
			return err
		}
		return enc.Encode(map[string]string{"revoked": *id})
	}
	return errors.New(keyUsage)
}
