//go:build tools

// Package deps pins the modules the project builds on while packages that
// import them are being written; go mod tidy keeps them because of this file.
package deps

import (
	_ "github.com/beevik/etree"
	_ "github.com/chromedp/chromedp"
	_ "github.com/crewjam/saml"
	_ "github.com/digitorus/pdfsign/verify"
	_ "github.com/digitorus/pkcs7"
	_ "github.com/emersion/go-smtp"
	_ "github.com/wneessen/go-mail"
	_ "github.com/crewjam/saml/samlsp"
	_ "github.com/gorilla/sessions"
	_ "github.com/jackc/pgx/v5"
	_ "github.com/jackc/pgx/v5/pgxpool"
	_ "github.com/jackc/pgx/v5/stdlib"
	_ "github.com/mattermost/xml-roundtrip-validator"
	_ "github.com/pquerna/otp/totp"
	_ "github.com/prometheus/client_golang/prometheus"
	_ "github.com/prometheus/client_golang/prometheus/collectors"
	_ "github.com/prometheus/client_golang/prometheus/promhttp"
	_ "github.com/prometheus/client_golang/prometheus/testutil"
	_ "github.com/redis/go-redis/v9"
	_ "github.com/russellhaering/goxmldsig"
	_ "go.yaml.in/yaml/v3"
	_ "golang.org/x/crypto/argon2"
	_ "modernc.org/sqlite"
)
