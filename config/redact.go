package config

import (
	"log/slog"
	"net/netip"
	"net/url"
	"reflect"
	"strings"
	"time"
)

// Redacted returns the configuration as nested maps keyed like the YAML
// file, ready for a JSON or YAML encoder, with every secret replaced by
// "[redacted]" (or "" when unset). The PostgreSQL DSN keeps its scheme,
// host, port, database and user so operators can see where it points.
func (c *Config) Redacted() map[string]any {
	m := redactSection(reflect.ValueOf(c).Elem(), schema().root)
	m["demo"] = c.Demo
	return m
}

func redactSection(v reflect.Value, sec *field) map[string]any {
	m := make(map[string]any, len(sec.children))
	for _, f := range sec.children {
		fv := v.Field(f.index[len(f.index)-1])
		if f.isSection() {
			m[f.name] = redactSection(fv, f)
		} else {
			m[f.name] = redactLeaf(fv, f)
		}
	}
	return m
}

func redactLeaf(v reflect.Value, f *field) any {
	switch x := v.Interface().(type) {
	case Secret:
		if f.path == "storage.postgres.dsn" {
			return redactDSN(string(x))
		}
		return x.String()
	case Key:
		return x.String()
	case time.Duration:
		return x.String()
	case []netip.Prefix:
		out := make([]string, len(x))
		for i, p := range x {
			out[i] = p.String()
		}
		return out
	case []string:
		return append([]string{}, x...)
	case []SPSource:
		out := make([]map[string]string, len(x))
		for i, s := range x {
			out[i] = map[string]string{"certificate": s.Certificate, "refresh": s.Refresh.String()}
			if s.URL != "" {
				out[i]["url"] = redactURLUser(s.URL)
			} else {
				out[i]["file"] = s.File
			}
		}
		return out
	}
	return v.Interface()
}

// redactDSN keeps only the parts of a connection string that say where it
// points. Anything it cannot parse is redacted whole.
func redactDSN(dsn string) string {
	if dsn == "" {
		return ""
	}
	if strings.Contains(dsn, "://") {
		u, err := url.Parse(dsn)
		if err != nil {
			return redacted
		}
		out := url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}
		if u.User != nil {
			if _, hasPw := u.User.Password(); hasPw {
				out.User = url.UserPassword(u.User.Username(), "redacted")
			} else {
				out.User = url.User(u.User.Username())
			}
		}
		s := out.String()
		if u.RawQuery != "" {
			s += "?[redacted]"
		}
		return s
	}
	// key=value form: keep the harmless keys, in their order.
	keep := map[string]bool{"host": true, "port": true, "dbname": true, "user": true, "sslmode": true}
	var parts []string
	for _, kv := range strings.Fields(dsn) {
		k, _, _ := strings.Cut(kv, "=")
		if keep[k] && !strings.ContainsAny(kv, `'\`) {
			parts = append(parts, kv)
		}
	}
	return strings.Join(append(parts, "[rest redacted]"), " ")
}

// LogValue lets slog log the whole configuration at start-up, secrets
// redacted as in Redacted.
func (c *Config) LogValue() slog.Value {
	return mapToValue(c.Redacted(), schema().root)
}

// mapToValue keeps the struct order so log lines read like the file.
func mapToValue(m map[string]any, sec *field) slog.Value {
	attrs := make([]slog.Attr, 0, len(sec.children)+1)
	for _, f := range sec.children {
		if f.isSection() {
			attrs = append(attrs, slog.Attr{Key: f.name, Value: mapToValue(m[f.name].(map[string]any), f)})
		} else {
			attrs = append(attrs, slog.Any(f.name, m[f.name]))
		}
	}
	if d, ok := m["demo"]; ok {
		attrs = append(attrs, slog.Any("demo", d))
	}
	return slog.GroupValue(attrs...)
}

// redactURLUser hides a password in a URL.
func redactURLUser(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return redacted
	}
	return u.Redacted()
}
