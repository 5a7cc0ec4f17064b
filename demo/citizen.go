// Package demo provides what demo mode adds to the IdP: a demo citizen to
// log in with and a demo service provider, served by the same binary, to log
// in to.
package demo

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spid-idp/spid-idp/idp/password"
	"github.com/spid-idp/spid-idp/storage"
)

// The demo citizen's credentials, printed at start-up.
const (
	CitizenUsername = "mario.rossi@example.org"
	CitizenPassword = "Demo-Password-2026"
)

// citizenAttributes are plausible, made-up SPID attributes (the fiscal code
// is well formed and matches name, surname, birth date and place).
var citizenAttributes = map[string]string{
	"spidCode":              "DEMO0000000001",
	"name":                  "Mario",
	"familyName":            "Rossi",
	"fiscalNumber":          "TINIT-RSSMRA80A01H501U",
	"gender":                "M",
	"dateOfBirth":           "1980-01-01",
	"placeOfBirth":          "H501",
	"countyOfBirth":         "RM",
	"email":                 CitizenUsername,
	"mobilePhone":           "+393331234567",
	"address":               "Via Roma 1 00100 Roma RM",
	"idCard":                "cartaIdentita CA00000AA ComuneDiRoma 2020-01-01 2030-01-01",
	"expirationDate":        "2030-12-31",
	"digitalAddress":        "mario.rossi@pec.example.org",
	"domicileStreetAddress": "Via Roma 1",
	"domicilePostalCode":    "00100",
	"domicileMunicipality":  "Roma",
	"domicileProvince":      "RM",
	"domicileNation":        "IT",
}

// EnsureCitizen creates the demo citizen unless it exists; created reports
// whether it was made now.
func EnsureCitizen(ctx context.Context, st storage.Store, params password.Params) (created bool, err error) {
	if _, err := st.GetIdentityByUsername(ctx, CitizenUsername); err == nil {
		return false, nil
	} else if !errors.Is(err, storage.ErrNotFound) {
		return false, fmt.Errorf("demo citizen: %w", err)
	}
	hash, err := password.Hash(CitizenPassword, params)
	if err != nil {
		return false, fmt.Errorf("demo citizen: %w", err)
	}
	now := time.Now().UTC()
	attrs := make(map[string]string, len(citizenAttributes))
	for k, v := range citizenAttributes {
		attrs[k] = v
	}
	id := storage.Identity{ID: "demo-citizen", Username: CitizenUsername, Type: storage.IdentityCitizen,
		Status: storage.IdentityActive, Attributes: attrs, CreatedAt: now, UpdatedAt: now}
	if err := st.CreateIdentity(ctx, id); err != nil && !errors.Is(err, storage.ErrAlreadyExists) {
		return false, fmt.Errorf("demo citizen: %w", err)
	}
	err = st.CreateCredential(ctx, storage.Credential{IdentityID: id.ID, PasswordHash: hash, UpdatedAt: now})
	if err != nil && !errors.Is(err, storage.ErrAlreadyExists) {
		return false, fmt.Errorf("demo citizen credential: %w", err)
	}
	return true, nil
}
