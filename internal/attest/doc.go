// Package attest signs the documents the lookup API issues and verifies
// them offline. It sits at the end of the data flow: the lookup API signs
// every issued document with it; `askonce verify`, the public verify page
// and any agency holding the published keys check them with it.
//
// A document is signed over its canonical JSON form (Canonical: RFC 8785
// restricted to objects, arrays, strings, integers, booleans and null)
// with Ed25519 ("EdDSA", RFC 8032/8037). The envelope is
//
//	{"document": {...}, "signature": {"alg": "EdDSA", "kid": "ak-2026-11-25-1f2e3d4c", "value": "<base64url>"}}
//
// and anyone holding the issuer's KeySet (a JWKS: GET /v1/keys, or
// `askonce keys export`) can check it with Verify or `askonce verify`,
// without asking the issuer. Because the signature covers the canonical
// form, re-indenting a saved document keeps it valid; changing any value
// does not.
//
// Signing keys live in a directory managed by Keyring and Rotate: one
// active key signs, retired keys remain published so that everything they
// signed still verifies.
package attest
