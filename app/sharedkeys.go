package app

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"reflect"

	"github.com/spid-idp/spid-idp/keys"
	"github.com/spid-idp/spid-idp/keys/datakey"
	"github.com/spid-idp/spid-idp/metadata"
	"github.com/spid-idp/spid-idp/storage"
)

// sharedKeyPrefix names the shared values holding the key pairs of the
// service providers this IdP runs itself (the personal area, the demo SP).
const sharedKeyPrefix = "sp-key|"

// SharedSPKey returns the key pair of one of the IdP's own service
// providers (name plus its entityID, so a new base URL gets a new key).
// It lives in the store, sealed, so every node of a cluster signs with
// the same key the registry trusts: the first node to start makes it, the
// others read it. Keys made on one node's disk broke the personal area on
// every other node (nr05: the registry held the last starter's
// certificate).
func (a *App) SharedSPKey(ctx context.Context, name string, opts keys.GenerateOptions) (keys.Pair, error) {
	sealer, err := a.sharedKeySealer()
	if err != nil {
		return keys.Pair{}, err
	}
	vname := sharedKeyPrefix + name + "|" + opts.EntityID
	ad := []byte("spid-idp shared SP key v1|" + vname)
	st := a.Backends.Store
	for attempt := 0; attempt < 2; attempt++ {
		sealed, err := st.GetSharedValue(ctx, vname)
		if err == nil {
			pemData, _, err := sealer.Open(sealed, ad)
			if err != nil {
				return keys.Pair{}, fmt.Errorf("the %s key in the database does not open with this node's key (is security.data_key the same on every node?): %w", name, err)
			}
			return parsePairPEM(pemData)
		}
		if !errors.Is(err, storage.ErrNotFound) {
			return keys.Pair{}, fmt.Errorf("reading the %s key: %w", name, err)
		}
		pair, err := keys.Generate(opts)
		if err != nil {
			return keys.Pair{}, fmt.Errorf("generating the %s key: %w", name, err)
		}
		pemData, err := pairPEM(pair)
		if err != nil {
			return keys.Pair{}, err
		}
		sealed, err = sealer.Seal(pemData, ad)
		if err != nil {
			return keys.Pair{}, fmt.Errorf("sealing the %s key: %w", name, err)
		}
		err = st.CreateSharedValue(ctx, vname, sealed)
		if err == nil {
			a.Log.Info("generated a key for one of the IdP's own service providers; every node uses it", "sp", name, "entity_id", opts.EntityID)
			return pair, nil
		}
		if !errors.Is(err, storage.ErrAlreadyExists) {
			return keys.Pair{}, fmt.Errorf("storing the %s key: %w", name, err)
		}
		// Another node made it first: read theirs.
	}
	return keys.Pair{}, fmt.Errorf("the %s key: created and vanished", name)
}

// sharedKeySealer seals shared keys with the data key; without one (only
// in tests) with a key derived from the cookie key, which every node also
// shares.
func (a *App) sharedKeySealer() (*datakey.Sealer, error) {
	if len(a.Config.Security.DataKey) > 0 {
		return DataSealer(a.Config)
	}
	return datakey.New(derive32(a.Config.IdP.Session.CookieKey, "shared-sp-keys"))
}

func pairPEM(p keys.Pair) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(p.Key)
	if err != nil {
		return nil, fmt.Errorf("encoding the key: %w", err)
	}
	var b bytes.Buffer
	pem.Encode(&b, &pem.Block{Type: "PRIVATE KEY", Bytes: der})
	pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: p.Cert.Raw})
	return b.Bytes(), nil
}

func parsePairPEM(data []byte) (keys.Pair, error) {
	var keyPEM, certPEM []byte
	for rest := data; ; {
		var blk *pem.Block
		blk, rest = pem.Decode(rest)
		if blk == nil {
			break
		}
		switch blk.Type {
		case "PRIVATE KEY":
			keyPEM = pem.EncodeToMemory(blk)
		case "CERTIFICATE":
			certPEM = pem.EncodeToMemory(blk)
		}
	}
	p, err := keys.Parse(keyPEM, certPEM)
	if err != nil {
		return keys.Pair{}, fmt.Errorf("stored SP key: %w", err)
	}
	return p, nil
}

// registerOwnSP registers the metadata of one of the IdP's own SPs unless
// the registry already holds an equivalent one (same certificates and
// endpoints): every node starts with the same key, so re-registering at
// each start would only churn the registry (and every node's cache).
func (a *App) registerOwnSP(ctx context.Context, md []byte, source string) error {
	opts := metadata.ParseOptions{Production: !a.Config.Demo}
	want, err := metadata.ParseSPMetadata(md, opts)
	if err != nil {
		return err
	}
	rec, err := a.Backends.Store.GetServiceProvider(ctx, want.SP.EntityID)
	switch {
	case err == nil:
		if have, perr := metadata.ParseSPMetadata(rec.MetadataXML, opts); perr == nil && sameSP(have.SP, want.SP) {
			return nil
		}
	case !errors.Is(err, storage.ErrNotFound):
		return err
	}
	_, err = a.SPs.Add(ctx, md, source)
	return err
}

func sameSP(a, b *metadata.SP) bool {
	if len(a.Certificates) != len(b.Certificates) {
		return false
	}
	for i := range a.Certificates {
		if !a.Certificates[i].Equal(b.Certificates[i]) {
			return false
		}
	}
	return reflect.DeepEqual(a.ACS, b.ACS) && reflect.DeepEqual(a.SLO, b.SLO) &&
		reflect.DeepEqual(a.AttributeServices, b.AttributeServices) && reflect.DeepEqual(a.DisplayName, b.DisplayName)
}
