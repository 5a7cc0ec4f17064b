package portal

import (
	"encoding/base64"

	"github.com/beevik/etree"
)

// peekInResponseTo reads the InResponseTo of an unverified Response, only to
// find the pending request; spclient.Check verifies everything afterwards.
func peekInResponseTo(b64 string) string {
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(raw) == 0 || len(raw) > 256<<10 {
		return ""
	}
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(raw); err != nil || doc.Root() == nil {
		return ""
	}
	v := doc.Root().SelectAttrValue("InResponseTo", "")
	if len(v) > 128 {
		return ""
	}
	return v
}
