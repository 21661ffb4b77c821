package audit

// SetVerifyPage changes the page size of Verify until the returned
// function is called.
func SetVerifyPage(n int) (restore func()) {
	old := verifyPage
	verifyPage = n
	return func() { verifyPage = old }
}
