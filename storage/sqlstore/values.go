package sqlstore

import (
	"encoding/json"
	"fmt"
	"time"
)

// textTime is how instants are written where the column is text: UTC,
// fixed width, so that text order is time order.
const textTime = "2006-01-02T15:04:05.000000Z"

// timeArg is the value to bind for t: NULL for the zero time, otherwise t in
// UTC truncated to microseconds (the precision every flavour keeps).
func (s *Store) timeArg(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	t = t.UTC().Truncate(time.Microsecond)
	if s.f.TimeAsText {
		return t.Format(textTime)
	}
	return t
}

// jsonArg encodes a string map as JSON text; nil becomes {}.
func jsonArg(m map[string]string) string {
	if m == nil {
		return "{}"
	}
	b, err := json.Marshal(m)
	if err != nil {
		// A map of strings always marshals.
		panic("sqlstore: marshal map: " + err.Error())
	}
	return string(b)
}

// bytesArg keeps an empty byte slice from being bound as NULL.
func bytesArg(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// timeDest scans an instant stored either way; NULL is the zero time and the
// result is always UTC.
type timeDest struct{ t *time.Time }

func (d timeDest) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*d.t = time.Time{}
	case time.Time:
		*d.t = v.UTC()
	case string:
		return d.parse(v)
	case []byte:
		return d.parse(string(v))
	default:
		return fmt.Errorf("sqlstore: cannot scan %T into a time", src)
	}
	return nil
}

func (d timeDest) parse(v string) error {
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return fmt.Errorf("sqlstore: stored time %q: %w", v, err)
	}
	*d.t = t.UTC()
	return nil
}

// mapDest scans a JSON object of strings.
type mapDest struct{ m *map[string]string }

func (d mapDest) Scan(src any) error {
	var m map[string]string
	if _, err := scanJSON(src, &m, "JSON map"); err != nil {
		return err
	}
	*d.m = m // nil for NULL
	return nil
}

// scanJSON decodes a JSON column as the drivers return it (text or bytes)
// into dst; null reports SQL NULL, leaving dst untouched. into names the
// destination in errors.
func scanJSON(src, dst any, into string) (null bool, err error) {
	var b []byte
	switch v := src.(type) {
	case nil:
		return true, nil
	case string:
		b = []byte(v)
	case []byte:
		b = v
	default:
		return false, fmt.Errorf("sqlstore: cannot scan %T into %s", src, into)
	}
	if err := json.Unmarshal(b, dst); err != nil {
		return false, fmt.Errorf("sqlstore: stored %s: %w", into, err)
	}
	return false, nil
}

func nowUTC() time.Time { return time.Now().UTC() }
