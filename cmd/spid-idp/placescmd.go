package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/spid-idp/spid-idp/places"
)

func init() {
	register("places import", "rebuild the table of places of birth from the national code lists (spid-idp places import -h)", runPlacesImport)
}

// runPlacesImport refreshes the table of places of birth (the embedded
// places/data/places.tsv.gz) from newer copies of the public lists.
func runPlacesImport(_ context.Context, e env, args []string) int {
	fs := newFlagSet("places import", e)
	muni := fs.String("municipalities", "", "the ANPR archive of municipalities, CSV (ANPR_archivio_comuni.csv)")
	states := fs.String("states", "", "the ANPR table of foreign states saved as CSV (tab_Stati_Esteri), optional")
	var sources multiFlag
	fs.Var(&sources, "source", "a line naming a list and its date, recorded in the table (repeat for each list)")
	out := fs.String("o", "places/data/places.tsv.gz", "the table to write")
	fs.Usage = func() {
		fmt.Fprintln(e.stderr, "Usage: spid-idp places import -municipalities FILE [-states FILE] -source TEXT... [-o FILE]")
		fmt.Fprintln(e.stderr, "\nRebuilds the table of Italian municipalities (current and suppressed, with their dates) and")
		fmt.Fprintln(e.stderr, "foreign states that the enrolment form resolves places of birth with. Rebuild the binary after")
		fmt.Fprintln(e.stderr, "writing places/data/places.tsv.gz.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	var problems []string
	if *muni == "" {
		problems = append(problems, "-municipalities: required")
	}
	if len(sources) == 0 {
		problems = append(problems, "-source: required (which lists, of which date: it is recorded with the table)")
	}
	if fs.NArg() > 0 {
		problems = append(problems, fmt.Sprintf("unexpected argument %q", fs.Arg(0)))
	}
	if len(problems) > 0 {
		for _, p := range problems {
			fmt.Fprintf(e.stderr, "spid-idp places import: %s\n", p)
		}
		return exitUsage
	}
	mf, err := os.Open(*muni)
	if err != nil {
		fmt.Fprintf(e.stderr, "spid-idp places import: %v\n", err)
		return exitFailure
	}
	defer mf.Close()
	var sf *os.File
	if *states != "" {
		if sf, err = os.Open(*states); err != nil {
			fmt.Fprintf(e.stderr, "spid-idp places import: %v\n", err)
			return exitFailure
		}
		defer sf.Close()
	}
	var ps []places.Place
	if sf != nil {
		ps, err = places.FromANPR(mf, sf)
	} else {
		ps, err = places.FromANPR(mf, nil)
	}
	if err != nil {
		fmt.Fprintf(e.stderr, "spid-idp places import: %v\n", err)
		return exitFailure
	}
	var buf bytes.Buffer
	if err := places.Write(&buf, sources, ps); err != nil {
		fmt.Fprintf(e.stderr, "spid-idp places import: %v\n", err)
		return exitFailure
	}
	// Read it back: a table that does not load is never written.
	t, err := places.Read(bytes.NewReader(buf.Bytes()))
	if err == nil {
		err = os.WriteFile(*out, buf.Bytes(), 0o644)
	}
	if err != nil {
		fmt.Fprintf(e.stderr, "spid-idp places import: %v\n", err)
		return exitFailure
	}
	var muniN, stateN, former int
	for _, p := range ps {
		switch {
		case p.Kind == places.State:
			stateN++
		case p.Current():
			muniN++
		default:
			former++
		}
	}
	fmt.Fprintf(e.stdout, "%s: %d names (%d municipalities in use, %d former names, %d foreign states), %d bytes\n",
		*out, t.Len(), muniN, former, stateN, buf.Len())
	return exitOK
}

// multiFlag collects a repeated string flag.
type multiFlag []string

func (m *multiFlag) String() string { return strings.Join(*m, "; ") }
func (m *multiFlag) Set(v string) error {
	*m = append(*m, v)
	return nil
}
