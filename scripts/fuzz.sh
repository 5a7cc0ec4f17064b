#!/bin/sh
# Runs every fuzz target of every package for FUZZTIME each, one after the
# other, and goes on after a failure so one crasher does not hide the others.
# Go writes each failing input under the package's testdata/fuzz/, where it
# stays as a regression seed that plain `go test` replays.
# Environment: GO, PKGS, FUZZTIME, FUZZFLAGS (set by the Makefile).
set -u
GO=${GO:-go}
failed=""
ran=0
start=$(date +%s)
# Only packages whose tests declare a fuzz target: `go test -list` would build
# every test binary of the module just to find none in most.
for pkg in $($GO list -f '{{.ImportPath}} {{.Dir}}' ${PKGS:-./...} | while read -r ip dir; do
	grep -qs '^func Fuzz' "$dir"/*_test.go && echo "$ip"
done); do
	for f in $(cd "$($GO list -f '{{.Dir}}' "$pkg")" && grep -h '^func Fuzz' *_test.go | sed 's/^func \(Fuzz[A-Za-z0-9_]*\).*/\1/'); do
		ran=$((ran + 1))
		echo "== $pkg $f ($FUZZTIME)"
		# The last progress line carries the totals of the run.
		if ! $GO test -run '^$' -fuzz "^$f\$" -fuzztime "$FUZZTIME" $FUZZFLAGS "$pkg" >"${TMPDIR:-/tmp}/fuzz.$$.log" 2>&1; then
			cat "${TMPDIR:-/tmp}/fuzz.$$.log"
			failed="$failed $pkg.$f"
		else
			grep '^fuzz: elapsed' "${TMPDIR:-/tmp}/fuzz.$$.log" | tail -n 1
		fi
	done
done
rm -f "${TMPDIR:-/tmp}/fuzz.$$.log"
echo "fuzz: $ran targets, $(( $(date +%s) - start )) s, FUZZTIME=$FUZZTIME"
if [ -n "$failed" ]; then
	echo "fuzz: failed:$failed"
	exit 1
fi
