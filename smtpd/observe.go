package smtpd

// Observer is told what sessions do, for metrics. smtpd counts nothing
// itself and knows no metrics library: main adapts its Prometheus
// collectors to this interface. Methods are called from every session
// goroutine concurrently, on the hot path (Reply several times per
// message), so they must be quick and must not block.
type Observer interface {
	// SessionStarted and SessionEnded bracket every session that got as
	// far as a goroutine (not the ones turned away by MaxConnections or
	// MaxConnsPerIP before it).
	SessionStarted()
	SessionEnded()
	// TLS is called after each TLS handshake, implicit (SMTPS) or after
	// STARTTLS, with its outcome.
	TLS(implicit, ok bool)
	// Auth is called once the server has judged a client's credentials.
	Auth(ok bool)
	// Reply is called for every reply sent (multi-line replies once).
	Reply(code int)
	// Message is called once per message whose content was received in
	// full (or cut short by a BDAT chunk over MaxMessageSize), with the
	// final reply to it: 250 when it was stored; 0 when chaos hung up
	// instead of replying. size counts the client's octets accepted.
	// Transfers the client abandoned are not reported.
	Message(code int, size int64)
}

// nopObserver stands in for a nil Config.Observer, so the session code
// needs no nil checks.
type nopObserver struct{}

func (nopObserver) SessionStarted()    {}
func (nopObserver) SessionEnded()      {}
func (nopObserver) TLS(_, _ bool)      {}
func (nopObserver) Auth(bool)          {}
func (nopObserver) Reply(int)          {}
func (nopObserver) Message(int, int64) {}
