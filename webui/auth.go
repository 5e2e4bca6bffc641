package webui

import (
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"net/http"
	"strings"
	"sync"

	"golang.org/x/crypto/bcrypt"
)

// Auth is the optional login in front of the UI, the API and the
// websockets (--ui-auth). The health probes stay open (see isProbePath).
//
// Browsers cannot put a header on a websocket handshake, but they do send
// the basic-auth login they keep for the origin, so basic auth covers the
// event stream too. That is why a token is also accepted as a basic-auth
// password: a browser user types any user name and the token into the
// login prompt, and the UI and its websocket work. Tokens are never taken
// from the query string, where they would end up in logs and history.
type Auth struct {
	// Users maps user names to bcrypt hashes ($2a$, $2b$ or $2y$), as an
	// htpasswd file has them.
	Users map[string]string
	// Tokens are accepted as "Authorization: Bearer TOKEN", and as the
	// basic-auth password with any user name.
	Tokens []string
}

// maxAuthCache bounds the cache of logins that passed bcrypt.
const maxAuthCache = 256

// authenticator checks requests against an Auth. bcrypt is slow on
// purpose (tens of milliseconds), and a browser sends the login with every
// request, so logins that passed are remembered by their SHA-256.
type authenticator struct {
	users  map[string]string
	tokens [][sha256.Size]byte
	dummy  string // a hash to spend bcrypt's time on for unknown users

	mu sync.Mutex
	ok map[[sha256.Size]byte]struct{}
}

func newAuthenticator(a *Auth) *authenticator {
	if a == nil || (len(a.Users) == 0 && len(a.Tokens) == 0) {
		return nil
	}
	au := &authenticator{users: a.Users, ok: map[[sha256.Size]byte]struct{}{}}
	for _, t := range a.Tokens {
		au.tokens = append(au.tokens, sha256.Sum256([]byte(t)))
	}
	for _, h := range a.Users {
		au.dummy = h
		break
	}
	return au
}

// check reports whether r carries a valid login.
func (au *authenticator) check(r *http.Request) error {
	authz := r.Header.Get("Authorization")
	scheme, cred, _ := strings.Cut(authz, " ")
	if strings.EqualFold(scheme, "Bearer") {
		if au.token(strings.TrimSpace(cred)) {
			return nil
		}
		return fmt.Errorf("%w: the bearer token is not valid", errUnauthenticated)
	}
	user, pass, ok := r.BasicAuth()
	if !ok {
		return fmt.Errorf("%w: log in (see --ui-auth)", errUnauthenticated)
	}
	if au.token(pass) || au.user(user, pass) {
		return nil
	}
	return fmt.Errorf("%w: wrong user name or password", errUnauthenticated)
}

// token reports whether t is one of the tokens. Hashes are compared, in
// constant time and all of them, so neither length nor position leaks.
func (au *authenticator) token(t string) bool {
	if len(au.tokens) == 0 || t == "" {
		return false
	}
	sum := sha256.Sum256([]byte(t))
	match := 0
	for _, want := range au.tokens {
		match |= subtle.ConstantTimeCompare(sum[:], want[:])
	}
	return match == 1
}

// user reports whether pass is user's password.
func (au *authenticator) user(user, pass string) bool {
	if len(au.users) == 0 {
		return false
	}
	key := sha256.Sum256([]byte(user + "\x00" + pass))
	au.mu.Lock()
	_, cached := au.ok[key]
	au.mu.Unlock()
	if cached {
		return true
	}
	hash, known := au.users[user]
	if !known {
		// Spend the same time as for a known user, so that response times
		// do not tell which user names exist; the result does not count.
		_ = bcrypt.CompareHashAndPassword([]byte(au.dummy), []byte(pass))
		return false
	}
	if bcrypt.CompareHashAndPassword([]byte(hash), []byte(pass)) != nil {
		return false
	}
	au.mu.Lock()
	if len(au.ok) >= maxAuthCache {
		clear(au.ok)
	}
	au.ok[key] = struct{}{}
	au.mu.Unlock()
	return true
}

// challenge sets the WWW-Authenticate headers of a 401: Basic always (the
// scheme browsers prompt for), Bearer too when tokens are configured.
func (au *authenticator) challenge(h http.Header) {
	if len(au.tokens) > 0 {
		h.Add("WWW-Authenticate", `Bearer realm="mailsink"`)
	}
	h.Add("WWW-Authenticate", `Basic realm="mailsink", charset="UTF-8"`)
}
