package webform

import (
	"net/url"
	"reflect"
	"testing"
)

func TestFind(t *testing.T) {
	base, _ := url.Parse("https://idp.example.it/login?flow=1")
	body := `<form method="post" action="/lang"><input type="hidden" name="lang" value="en"></form>
<form class="form" method="post" action="/consent?flow=a&amp;b=c">
  <input type="hidden" name="csrf_token" value="t&#43;k">
  <input type="hidden" name="op" value="none">
  <input type="text" name="username" value="typed">
</form>`
	f, err := Find(base, body, "/consent", url.Values{"op": {"accept"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := f.Action.String(); got != "https://idp.example.it/consent?flow=a&b=c" {
		t.Errorf("action %s", got)
	}
	want := url.Values{"csrf_token": {"t+k"}, "op": {"accept"}}
	if !reflect.DeepEqual(f.Values, want) {
		t.Errorf("values %v, want %v", f.Values, want)
	}
	if _, err := Find(base, body, "/logout", nil); err == nil {
		t.Error("found a form that is not there")
	}
}
