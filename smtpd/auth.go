package smtpd

import (
	"bytes"
	"crypto/hmac"
	"crypto/md5"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"math/big"
	"strconv"
	"strings"
	"time"
)

// auth is the AUTH stage (RFC 4954): PLAIN, LOGIN and CRAM-MD5. Client
// responses are recorded as "[credentials elided]".
func (c *conn) auth(arg string) {
	switch {
	case c.srv.cfg.Auth == AuthNone:
		c.reply(502, "5.5.1", textNotImplemented)
		return
	case !c.greeted || !c.esmtp:
		c.reply(503, "5.5.1", textNeedEhlo)
		return
	case c.authUser != "":
		c.reply(503, "5.5.1", "Already authenticated")
		return
	case c.tx != nil:
		c.reply(503, "5.5.1", "AUTH not allowed during a mail transaction")
		return
	}
	mech, ir, hasIR := strings.Cut(arg, " ")
	ir = strings.TrimSpace(ir)
	if mech == "" || hasIR && ir == "" {
		c.reply(501, "5.5.4", "Syntax: AUTH mechanism [initial-response]")
		return
	}
	var user, pass string
	var ok bool
	switch strings.ToUpper(mech) {
	case "PLAIN":
		user, pass, ok = c.authPlain(ir, hasIR)
	case "LOGIN":
		user, pass, ok = c.authLogin(ir, hasIR)
	case "CRAM-MD5":
		if hasIR {
			c.reply(501, "5.5.4", "CRAM-MD5 takes no initial response")
			return
		}
		c.authCRAM()
		return
	default:
		c.reply(504, "5.5.4", "Unrecognized authentication mechanism")
		return
	}
	if !ok {
		return
	}
	c.authResult(user, c.checkPassword(user, pass))
}

// authPlain handles PLAIN: authzid NUL authcid NUL passwd.
func (c *conn) authPlain(ir string, hasIR bool) (user, pass string, ok bool) {
	var msg []byte
	if hasIR {
		if msg, ok = c.decodeAuth(ir); !ok {
			return "", "", false
		}
	} else if msg, ok = c.authChallenge(""); !ok {
		return "", "", false
	}
	parts := bytes.Split(msg, []byte{0})
	if len(parts) != 3 {
		c.reply(501, "5.5.2", "Invalid PLAIN response")
		return "", "", false
	}
	authz, authc := string(parts[0]), string(parts[1])
	if authz != "" && authz != authc {
		c.obs.Auth(false)
		c.reply(535, "5.7.8", textAuthFailed)
		c.log.Warn("authentication failed", "mech", "PLAIN", "user", authc, "authzid", authz)
		return "", "", false
	}
	return authc, string(parts[2]), true
}

// authLogin handles LOGIN: username and password prompts.
func (c *conn) authLogin(ir string, hasIR bool) (user, pass string, ok bool) {
	var u, p []byte
	if hasIR {
		u, ok = c.decodeAuth(ir)
	} else {
		u, ok = c.authChallenge("VXNlcm5hbWU6") // "Username:"
	}
	if !ok {
		return "", "", false
	}
	if p, ok = c.authChallenge("UGFzc3dvcmQ6"); !ok { // "Password:"
		return "", "", false
	}
	return string(u), string(p), true
}

// authCRAM handles CRAM-MD5 (RFC 2195). With AuthUsers the digest is
// checked against Config.Users; otherwise any well-formed answer passes.
func (c *conn) authCRAM() {
	n, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	challenge := "<" + n.String() + "." + strconv.FormatInt(time.Now().Unix(), 10) + "@" + c.srv.cfg.Hostname + ">"
	resp, ok := c.authChallenge(base64.StdEncoding.EncodeToString([]byte(challenge)))
	if !ok {
		return
	}
	i := bytes.LastIndexByte(resp, ' ')
	if i <= 0 {
		c.reply(501, "5.5.2", "Invalid CRAM-MD5 response")
		return
	}
	user, digest := string(resp[:i]), strings.ToLower(string(resp[i+1:]))
	if _, err := hex.DecodeString(digest); err != nil || len(digest) != 2*md5.Size {
		c.reply(501, "5.5.2", "Invalid CRAM-MD5 response")
		return
	}
	valid := true
	if c.srv.cfg.Auth == AuthUsers {
		pass, known := c.srv.cfg.Users[user]
		m := hmac.New(md5.New, []byte(pass))
		m.Write([]byte(challenge))
		want := hex.EncodeToString(m.Sum(nil))
		valid = known && subtle.ConstantTimeCompare([]byte(want), []byte(digest)) == 1
	}
	c.authResult(user, valid)
}

// checkPassword accepts anything but an empty user, except with
// AuthUsers, where the pair must match Config.Users.
func (c *conn) checkPassword(user, pass string) bool {
	if user == "" {
		return false
	}
	if c.srv.cfg.Auth != AuthUsers {
		return true
	}
	want, known := c.srv.cfg.Users[user]
	eq := subtle.ConstantTimeCompare([]byte(want), []byte(pass)) == 1
	return known && eq
}

func (c *conn) authResult(user string, ok bool) {
	c.obs.Auth(ok && user != "")
	if !ok || user == "" {
		c.log.Warn("authentication failed", "user", user)
		c.reply(535, "5.7.8", textAuthFailed)
		return
	}
	p := c.point(StageAuth)
	p.AuthUser = user
	if act, handled := c.chaos(p); handled {
		c.chaosFinish(act)
		return
	}
	c.authUser = user
	c.log.Info("authenticated", "user", user)
	c.reply(235, "2.7.0", textAuthOK)
}

// authChallenge sends "334 challenge" and reads the client's answer.
func (c *conn) authChallenge(challenge string) ([]byte, bool) {
	c.reply(334, "", challenge)
	c.raw.SetReadDeadline(time.Now().Add(c.srv.cfg.CommandTimeout)) //nolint:errcheck // a failure surfaces on Read
	line, err := c.readLine()
	if err != nil {
		c.readFailed(err)
		return nil, false
	}
	line = strings.TrimSpace(line)
	if line == "*" {
		c.record("C", "*")
		c.reply(501, "5.7.0", textAuthCancelled)
		return nil, false
	}
	c.record("C", "[credentials elided]")
	return c.decodeAuth(line)
}

// decodeAuth decodes a base64 response; "=" (and an empty line) is empty.
func (c *conn) decodeAuth(s string) ([]byte, bool) {
	if s == "=" || s == "" {
		return []byte{}, true
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		c.reply(501, "5.5.2", textBadBase64)
		return nil, false
	}
	return b, true
}
