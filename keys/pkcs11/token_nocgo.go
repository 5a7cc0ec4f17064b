//go:build !cgo

package pkcs11

import "crypto"

// Available reports whether this build can talk to a PKCS#11 module.
const Available = false

// Token is unavailable without cgo.
type Token struct{}

// Open reports ErrUnavailable.
func Open(Config) (*Token, error) { return nil, ErrUnavailable }

func (*Token) Close() error                                   { return nil }
func (*Token) Signer(string) (crypto.Signer, error)           { return nil, ErrUnavailable }
func (*Token) GenerateRSA(string, int) (crypto.Signer, error) { return nil, ErrUnavailable }
func (*Token) GenerateWrappingKey(string) error               { return ErrUnavailable }
func (*Token) Wrap(string, []byte) ([]byte, error)            { return nil, ErrUnavailable }
func (*Token) Unwrap(string, []byte) ([]byte, error)          { return nil, ErrUnavailable }
