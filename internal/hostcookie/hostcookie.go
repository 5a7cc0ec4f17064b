// Package hostcookie names cookies for the listener they are set on. Over
// https every cookie takes the __Host- prefix: the browser then accepts it
// only with Secure, Path=/ and no Domain, so neither a sibling subdomain nor
// a plain-http page can plant or overwrite it (ui.md §11, security.md C.7).
// Browsers refuse a __Host- cookie without Secure, so over plain http (demo
// mode) names stay bare.
package hostcookie

// Prefix is the __Host- cookie prefix.
const Prefix = "__Host-"

// Name is the name cookie name gets on an https (secure) or plain-http
// listener.
func Name(name string, secure bool) string {
	if secure {
		return Prefix + name
	}
	return name
}
