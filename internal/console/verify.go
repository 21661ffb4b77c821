package console

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/askonce/askonce/internal/attest"
	"github.com/askonce/askonce/internal/lookup"
)

// verifyView is the verify page: the form, or a result.
type verifyView struct {
	ID, Code string
	Result   string // "", "authentic", "expired", "not_authentic", "signature_valid", "signature_invalid", "malformed", "rate_limited"
	Doc      *docView
	Pasted   string
}

// Results of a verification, as shown and counted.
const (
	resAuthentic    = "authentic"
	resExpired      = "expired"
	resNotAuthentic = "not_authentic"
	resSigValid     = "signature_valid"
	resSigInvalid   = "signature_invalid"
	resMalformed    = "malformed"
	resRateLimited  = "rate_limited"
)

func (c *Console) verifyPage(w http.ResponseWriter, r *http.Request) *page {
	p := c.newPage(w, r, "verify.title")
	p.CSRF = c.preCSRF(w, r)
	return p
}

// verifyForm is GET /verify: the form, or, with ?id= and ?c= (the form
// submitted), the check of that id.
func (c *Console) verifyForm(w http.ResponseWriter, r *http.Request) {
	if id := strings.TrimSpace(r.URL.Query().Get("id")); id != "" {
		q := url.Values{"c": {r.URL.Query().Get("c")}}
		http.Redirect(w, r, "/verify/"+url.PathEscape(id)+"?"+q.Encode(), http.StatusSeeOther)
		return
	}
	p := c.verifyPage(w, r)
	p.Verify = &verifyView{}
	c.render(w, "verify", http.StatusOK, p)
}

// verifyID is GET /verify/{id}?c=CODE. Without a code it asks for one and
// reads nothing. With one, an unknown id and a wrong code get the same
// answer, so the page tells nothing to whoever has only an id; the right
// code shows what is printed on the paper (NINs masked) to compare.
func (c *Console) verifyID(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	code := r.URL.Query().Get("c")
	p := c.verifyPage(w, r)
	v := &verifyView{ID: id, Code: code}
	p.Verify = v
	if code == "" {
		c.render(w, "verify", http.StatusOK, p)
		return
	}
	if ok, retry := c.verifyRL.Take(c.clientAddr(r), c.opt.Now()); !ok {
		c.countVerify("code", resRateLimited)
		v.Result = resRateLimited
		w.Header().Set("Retry-After", strconv.Itoa(retry))
		c.render(w, "verify", http.StatusTooManyRequests, p)
		return
	}
	v.Result = resNotAuthentic
	status := http.StatusNotFound
	doc, err := c.checkCode(r, id, code)
	switch {
	case err == nil:
		v.Doc = buildDoc(doc, p.L, true, c.opt.Now())
		v.Result = resAuthentic
		if v.Doc.Expired {
			v.Result = resExpired
		}
		status = http.StatusOK
	case errors.Is(err, errNotAuthentic):
	default:
		c.log.Error("verify: lookup failed", "err", err)
		c.countVerify("code", "error")
		c.message(w, r, http.StatusServiceUnavailable, "unavailable.title", "unavailable.lead")
		return
	}
	c.countVerify("code", v.Result)
	c.log.Debug("verify", "document_id", id, "result", v.Result, "remote", c.clientAddr(r))
	c.render(w, "verify", status, p)
}

// checkCode finds the stored document id and checks the code against its
// canonical bytes and its signature against the issuer's keys (so that a
// row changed in the store is not authentic either).
func (c *Console) checkCode(r *http.Request, id, code string) (document, error) {
	doc, err := c.atts.Get(r.Context(), id, "")
	if errors.Is(err, lookup.ErrNoAttestation) {
		return document{}, errNotAuthentic
	}
	if err != nil {
		return document{}, err
	}
	canon, sig := []byte(doc.Document), doc.Signature
	if !codeMatches(canon, code) {
		return document{}, errNotAuthentic
	}
	if err := attest.Verify(attest.Signed{Document: canon, Signature: sig}, c.keys()); err != nil {
		c.log.Warn("verify: a stored attestation fails its signature", "document_id", id, "err", err)
		return document{}, errNotAuthentic
	}
	d, err := parseDocument(canon)
	if err != nil || d.ID != id {
		return document{}, errNotAuthentic
	}
	return d, nil
}

// verifySigned is POST /verify: a pasted signed document (as the API
// returns it and `askonce verify` reads it), checked offline against the
// issuer's public keys.
func (c *Console) verifySigned(w http.ResponseWriter, r *http.Request) {
	if !c.parseForm(w, r) {
		return
	}
	p := c.verifyPage(w, r)
	v := &verifyView{Pasted: r.PostFormValue("signed")}
	p.Verify = v
	if !preCSRFOK(r) {
		c.message(w, r, http.StatusForbidden, "csrf.title", "csrf.lead")
		return
	}
	if ok, retry := c.verifyRL.Take(c.clientAddr(r), c.opt.Now()); !ok {
		c.countVerify("signature", resRateLimited)
		v.Result = resRateLimited
		w.Header().Set("Retry-After", strconv.Itoa(retry))
		c.render(w, "verify", http.StatusTooManyRequests, p)
		return
	}
	status := http.StatusOK
	s, err := attest.ParseSigned([]byte(v.Pasted))
	if err == nil {
		err = attest.Verify(s, c.keys())
	}
	switch {
	case err == nil:
		d, perr := parseDocument(s.Document)
		if perr != nil {
			v.Result, status = resMalformed, http.StatusUnprocessableEntity
			break
		}
		v.Result = resSigValid
		v.Doc = buildDoc(d, p.L, true, c.opt.Now())
		v.Doc.KID = s.Signature.KID
	case errors.Is(err, attest.ErrMalformed):
		v.Result, status = resMalformed, http.StatusUnprocessableEntity
	default: // bad signature, unknown key
		v.Result, status = resSigInvalid, http.StatusUnprocessableEntity
	}
	c.countVerify("signature", v.Result)
	c.log.Debug("verify signed document", "result", v.Result, "remote", c.clientAddr(r))
	c.render(w, "verify", status, p)
}

func (c *Console) countVerify(method, result string) {
	c.m.verify.WithLabelValues(method, result).Inc()
}
