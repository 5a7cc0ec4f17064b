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
	err = st.CreateCredential(ctx, storage.Credential{IdentityID: id.ID, PasswordHash: hash, PasswordSetAt: now, UpdatedAt: now})
	if err != nil && !errors.Is(err, storage.ErrAlreadyExists) {
		return false, fmt.Errorf("demo citizen credential: %w", err)
	}
	return true, nil
}

// OperatorPassword is the password of every demo operator, printed at
// start-up with their usernames.
const OperatorPassword = "Demo-Operator-2026"

// Operators are the demo back-office accounts: one per role, so every
// console page can be tried (the verifier must not be the agent who
// recognised a request: four eyes).
var Operators = []struct {
	Username string
	Roles    []string
	ShopID   string
}{
	{"verificatore", []string{"verifier"}, ""},
	{"supervisore", []string{"supervisor"}, ""},
	{"tabaccheria", []string{"shop_agent"}, "DEMO-SHOP-1"},
	{"sportello", []string{"counter_operator"}, "DEMO-COUNTER-1"},
	{"video", []string{"video_operator"}, ""},
	{"assistenza", []string{"care_agent"}, ""},
}

// EnsureOperators creates the demo operators that do not exist yet.
func EnsureOperators(ctx context.Context, st storage.Store, params password.Params) error {
	hash, err := password.Hash(OperatorPassword, params)
	if err != nil {
		return fmt.Errorf("demo operators: %w", err)
	}
	now := time.Now().UTC()
	for _, o := range Operators {
		err := st.CreateOperator(ctx, storage.Operator{ID: "demo-op-" + o.Username, Username: o.Username, Name: o.Username,
			Roles: o.Roles, PasswordHash: hash, ShopID: o.ShopID, Status: storage.OperatorActive, CreatedAt: now, UpdatedAt: now})
		if err != nil && !errors.Is(err, storage.ErrAlreadyExists) {
			return fmt.Errorf("demo operator %s: %w", o.Username, err)
		}
	}
	return nil
}
