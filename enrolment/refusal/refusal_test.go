package refusal

import (
	"errors"
	"fmt"
	"testing"
)

type catA struct{}

func (catA) Text(code string) (string, string) { return "rifiutato " + code, "refused " + code + "." }

type catB struct{}

func (catB) Text(code string) (string, string) { return "no", "no" }

func TestError(t *testing.T) {
	cause := errors.New("boom")
	e := &Error[catA]{Code: "a.x", Detail: "serial 7", Err: cause}
	if got, want := e.Error(), "a.x: refused a.x (serial 7): boom"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if got := e.Message("it-IT"); got != "rifiutato a.x" {
		t.Errorf("Message(it) = %q", got)
	}
	if got := e.Message("EN-gb"); got != "refused a.x." {
		t.Errorf("Message(en) = %q", got)
	}
	wrapped := fmt.Errorf("ctx: %w", e)
	if !errors.Is(wrapped, &Error[catA]{Code: "a.x"}) || !errors.Is(wrapped, cause) {
		t.Error("errors.Is misses the code or the cause")
	}
	if errors.Is(wrapped, &Error[catA]{Code: "a.y"}) {
		t.Error("errors.Is matched another code")
	}
	// Another catalogue is another type, even with the same code.
	if errors.Is(wrapped, &Error[catB]{Code: "a.x"}) {
		t.Error("errors.Is crossed catalogues")
	}
	var b *Error[catB]
	if errors.As(wrapped, &b) {
		t.Error("errors.As crossed catalogues")
	}
}
