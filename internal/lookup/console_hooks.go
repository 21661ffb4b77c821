package lookup

// ClientByAPIKey names the client an API key authenticates under the
// policy in force: the clerk console shows it in its header after the key
// signed in (through GET /v1/document-types, like any API call). ok is
// false for an unknown key.
func (s *Service) ClientByAPIKey(key string) (id, name string, ok bool) {
	c := s.policy().ByAPIKey(key)
	if c == nil {
		return "", "", false
	}
	return c.ID, c.Name, true
}
