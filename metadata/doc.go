// Package metadata writes the IdP's signed SAML metadata and reads the
// metadata of service providers.
//
// BuildIdP produces the IdP metadata of spec saml-profile.md §1. ParseSP
// runs every check of §2.2 on SP metadata (signature first, against the
// certificates the document publishes, then content read only from the
// signed bytes) and returns the run-time SP or a *ValidationError that
// names each failed check. Registry keeps the trusted SPs in a
// storage.Store, fed by the CLI, a watched directory or a URL.
//
// Findings the profile marks as SHOULD (WantAssertionsSigned, attribute
// NameFormat uri or absent, the billing contact of a private SP outside
// production, aggregator metadata) do not reject the metadata: they are
// returned in SPMetadata.Warnings and logged by the Registry.
package metadata
