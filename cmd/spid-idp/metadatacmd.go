package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/spid-idp/spid-idp/app"
	"github.com/spid-idp/spid-idp/keys"
	"github.com/spid-idp/spid-idp/metadata"
)

func init() {
	register("metadata", "print the IdP's signed SAML metadata, as served at /metadata (-o FILE to write it)", runMetadata)
}

func runMetadata(_ context.Context, e env, args []string) int {
	fs := newFlagSet("metadata", e)
	path := configFlag(fs, e)
	out := fs.String("o", "", "write the metadata to `FILE` instead of standard output")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(e.stderr, "spid-idp metadata: unexpected argument %q\n", fs.Arg(0))
		return exitUsage
	}
	cfg, code, ok := loadConfig(*path, e)
	if !ok {
		return code
	}
	pair, err := app.SigningKeys(cfg, quietLogger(e))
	if err != nil {
		fmt.Fprintf(e.stderr, "spid-idp metadata: %v\n", err)
		return exitFailure
	}
	// The server refuses to start with an expired certificate; publishing
	// metadata that names one would only move the failure to the SPs.
	if err := keys.CheckValidity(pair.Cert, time.Now()); err != nil {
		fmt.Fprintf(e.stderr, "spid-idp metadata: signing certificate: %v\n", err)
		return exitFailure
	}
	extra, err := app.ExtraCerts(cfg)
	if err != nil {
		fmt.Fprintf(e.stderr, "spid-idp metadata: %v\n", err)
		return exitFailure
	}
	md, err := metadata.BuildIdP(app.IdPMetadataOptions(cfg, pair, extra...))
	if err != nil {
		fmt.Fprintf(e.stderr, "spid-idp metadata: %v\n", err)
		return exitFailure
	}
	if *out == "" {
		if _, err := e.stdout.Write(md); err != nil {
			fmt.Fprintf(e.stderr, "spid-idp metadata: %v\n", err)
			return exitFailure
		}
		return exitOK
	}
	if err := writeFileAtomic(*out, md, 0o644); err != nil {
		fmt.Fprintf(e.stderr, "spid-idp metadata: %v\n", err)
		return exitFailure
	}
	fmt.Fprintf(e.stderr, "wrote %s (%d bytes, entityID %s)\n", *out, len(md), cfg.IdP.EntityID)
	return exitOK
}

// writeFileAtomic writes through a temporary file in the same directory so
// a reader (a web server publishing the file) never sees half a document.
func writeFileAtomic(name string, data []byte, mode os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(name), "."+filepath.Base(name)+".tmp*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // no-op once renamed
	if err := f.Chmod(mode); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, name)
}

// quietLogger is the logger of administration commands: their output is
// the report they print, so only warnings and errors go to stderr.
func quietLogger(e env) *slog.Logger {
	w := e.stderr
	if w == nil {
		w = io.Discard
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelWarn}))
}
