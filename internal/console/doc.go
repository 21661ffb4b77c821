// Package console is the clerk console and the public verify page, served
// by `askonce serve` beside the lookup API (package wiring mounts both on
// one server). The console depends on the API's exported wire types
// (lookup.Problem, lookup.DocumentTypes) and reads issued documents
// through lookup.Attestations; the API knows nothing of the console.
//
// Most connected sites will not integrate the API on day one: their clerks
// sign in at /console with their agency's API key (kept in server memory,
// never in the browser), fill a form (NIN, document type, purpose, clerk
// id) and get the API's answer as a page: the issued document laid out
// like the paper it replaces, with its provenance, validity, verification
// code and QR code, and its as_of (the instant up to which the store held
// every record the answer depends on); or, when not held, the paper to ask
// the citizen for and why, as of when; or, when the store does not yet
// hold the records of the data centers the document reads as of recently
// enough (HTTP 503 source_stale), each lagging data center with its lag,
// when to retry and a button that does, and that the citizen is not to be
// sent away for the paper; or the denial, the invalid fields, the rate
// limit. The console
// is a client of the API in process: each submission is a POST
// /v1/document-requests served by the API's own handler, so
// authentication, policy, rate limits, audit and signing are the API's.
// It asks in the clerk's language (Accept-Language: fr or ar) and shows
// the API's problem detail and field messages as they come, in that
// language (an answer shown again after a switch of language keeps the
// detail it came with, marked with its language).
//
// /verify/{id}?c=CODE is public: the code printed on the paper (a digest
// of the signed document) shows what the paper should say, NINs masked;
// a wrong code and an unknown id get the same answer. A pasted signed JSON
// document is checked against the issuer's Ed25519 keys.
//
// Pages are server-rendered (html/template, embedded), French or Arabic
// (right to left), under 100 KB, with one small script and a print
// stylesheet; browser/ holds the Playwright test that drives them in
// Chromium.
package console
