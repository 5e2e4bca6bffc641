// Command mailsink is a development mail catcher: an SMTP server that
// accepts every message, relays nothing, keeps everything in SQLite and
// shows it over a Mailpit-compatible HTTP API and a browser UI.
package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"embed"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"net/textproto"
	"os"
	"os/signal"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	// The container image has no zoneinfo; searches take a tz= parameter.
	_ "time/tzdata"

	"mailsink/smtpd"
	"mailsink/smtpd/chaos"
	"mailsink/store"
	"mailsink/webui"
)

//go:embed assets
var assetsFS embed.FS

// version is set at link time (-ldflags "-X main.version=…"); when empty the
// module's build information is used.
var version string

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		// After the first signal starts the graceful shutdown, a second one
		// gets Go's default behaviour again: exit at once.
		<-ctx.Done()
		stop()
	}()
	// Linked as "sendmail", the binary is `mailsink sendmail`.
	os.Exit(dispatch(ctx, sendmailArgs(os.Args), os.Getenv, os.Stdin, os.Stdout, os.Stderr))
}

// dispatch runs a subcommand or the server and returns the exit code.
func dispatch(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		switch args[0] {
		case "healthcheck", "list", "wait", "delete", "sendmail", "bench":
			getenv = serverSettings(getenv) // they find the server as its config file says
		}
		switch args[0] {
		case "version":
			fmt.Fprintln(stdout, "mailsink", buildVersion())
			return 0
		case "healthcheck":
			return healthcheck(ctx, args[1:], getenv, stderr)
		case "readyz":
			return cmdReadyz(ctx, args[1:], getenv, stderr)
		case "list":
			return cmdList(ctx, args[1:], getenv, stdout, stderr)
		case "wait":
			return cmdWait(ctx, args[1:], getenv, stdout, stderr)
		case "delete":
			return cmdDelete(ctx, args[1:], getenv, stderr)
		case "sendmail":
			return cmdSendmail(ctx, args[1:], getenv, stdin, stderr)
		case "bench":
			return cmdBench(ctx, args[1:], getenv, stdout, stderr)
		}
	}
	err := run(ctx, args, getenv, stderr, nil)
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	default:
		fmt.Fprintln(stderr, "mailsink:", err)
		return 1
	}
}

func buildVersion() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		rev, dirty := "", false
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				dirty = s.Value == "true"
			}
		}
		if bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			return bi.Main.Version
		}
		if len(rev) > 12 {
			rev = rev[:12]
		}
		if rev != "" {
			if dirty {
				rev += "-dirty"
			}
			return "dev-" + rev
		}
	}
	return "dev"
}

// readyFunc receives the bound addresses once every listener is up.
type readyFunc func(smtpAddr, httpAddr, smtpsAddr string)

// run starts the servers and blocks until ctx is done or a server fails,
// then shuts down gracefully: stop accepting, let transfers in flight
// finish within --shutdown-timeout, close the database.
func run(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer, ready readyFunc) error {
	cfg, err := parseConfig(args, getenv, stderr)
	if err != nil {
		return err
	}
	log := newLogger(cfg, stderr)
	started := time.Now()
	// A process-wide setting: only for the real server, not for tests that
	// run servers in their own process.
	if cfg.MemoryLimit > 0 && getenv("GOMEMLIMIT") == "" && !testing.Testing() {
		debug.SetMemoryLimit(int64(cfg.MemoryLimit))
		// With the heap capped, it may grow to three times what is live
		// instead of two between collections: a few MiB more at most, and
		// under load about 4 % less CPU per message.
		if getenv("GOGC") == "" {
			debug.SetGCPercent(200)
		}
	}

	tlsCfg, err := loadTLS(cfg)
	if err != nil {
		return err
	}

	hub := webui.NewHub(log.With("component", "events"))
	db, err := store.Open(ctx, cfg.DBPath, store.Options{
		Notify:      hub.Publish,
		Log:         log.With("component", "store"),
		MaxMessages: cfg.MaxMessages,
		MaxAge:      time.Duration(cfg.MaxAge),
		InboxHeader: cfg.InboxHeader,
		PlusTags:    cfg.PlusTags,
	})
	if err != nil {
		return fmt.Errorf("open store %s: %w", cfg.DBPath, err)
	}
	defer func() {
		if err := db.Close(); err != nil {
			log.Error("close store", "err", err)
		}
	}()

	// Bind synchronously so that a busy port fails the start with a clear error.
	lns, err := listenAll(cfg)
	if err != nil {
		return err
	}

	chaosCfg, err := chaosConfig(cfg)
	if err != nil {
		return err
	}
	var engine *chaos.Engine
	engine, err = chaos.New(chaosCfg, chaos.Options{
		Inbox: func(authUser string, h textproto.MIMEHeader, rcpts []string) string {
			return db.RouteInbox(authUser, h.Get, rcpts)
		},
		Log:     log.With("component", "chaos"),
		Changed: func() { hub.ChaosChanged(engine.Active()) }, // not called before New returns
	})
	if err != nil {
		return fmt.Errorf("chaos: %w", err)
	}
	if engine.Active() {
		log.Warn("chaos is on: the SMTP server will fail on purpose", "rules", len(chaosCfg.Rules), "magic", chaosCfg.Magic, "seed", engine.Config().Seed)
	}

	met := newMetrics(metricsSources{Version: buildVersion(), Stats: db.Stats, Chaos: engine})

	smtpCfg := smtpd.Config{
		Observer:       met,
		Chaos:          engine,
		Hostname:       cfg.Hostname,
		MaxMessageSize: int64(cfg.MaxMessageSize),
		MaxRecipients:  cfg.MaxRecipients,
		MaxConnections: cfg.MaxConnections,
		MaxConnsPerIP:  cfg.MaxConnsPerIP,
		CommandTimeout: cfg.CommandTimeout,
		DataTimeout:    cfg.DataTimeout,
		MinDataRate:    cfg.MinDataRate,
		TLS:            tlsCfg,
		Auth:           cfg.AuthMode,
		Users:          cfg.Users,
	}
	smtpLog := log.With("component", "smtpd")
	smtpSrv := smtpd.New(smtpCfg, deliverTo(db, met), smtpLog)
	smtpsSrv := smtpSrv
	if !cfg.StartTLS {
		// STARTTLS is offered whenever the server has a TLS config, so the
		// plain listener gets a server without one; SMTPS keeps its own.
		plainCfg := smtpCfg
		plainCfg.TLS = nil
		smtpSrv = smtpd.New(plainCfg, deliverTo(db, met), smtpLog)
	}

	ui, err := fs.Sub(assetsFS, "assets")
	if err != nil {
		return err
	}
	httpSrv := &http.Server{
		Handler: webui.New(webui.Config{
			Version:  buildVersion(),
			Database: cfg.DBPath,
			Started:  started,
			Chaos:    engine,

			LoopbackOnly: isLoopbackListener(lns.http),
			AllowedHosts: cfg.AllowedHosts,
			CORSOrigins:  cfg.CORSOrigins,
			Auth:         cfg.WebAuth,
			Root:         cfg.Webroot,

			Observer: met,
			Metrics:  met.handler(log.With("component", "metrics")),
		}, db, hub, ui, log.With("component", "webui")),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.With("component", "http").Handler(), slog.LevelWarn),
	}

	if cfg.HTTPTLS {
		httpSrv.TLSConfig = tlsCfg.Clone()
		httpSrv.TLSConfig.MinVersion = tls.VersionTLS12 // browsers need no less; SMTP clients may
		// HTTP/1.1 only: the websockets hijack the connection, which an
		// HTTP/2 stream cannot be.
		httpSrv.TLSConfig.NextProtos = []string{"http/1.1"}
	}

	// Shutdown does not close hijacked (websocket) connections; the hub does.
	httpSrv.RegisterOnShutdown(hub.Close)

	errc := make(chan error, 3)
	var wg sync.WaitGroup
	serve := func(f func() error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := f(); err != nil && !errors.Is(err, smtpd.ErrServerClosed) && !errors.Is(err, http.ErrServerClosed) {
				errc <- err
			}
		}()
	}
	if cfg.PprofAddr != "" {
		// Profiles on their own listener and mux: never on the public HTTP port.
		pl, err := net.Listen("tcp", cfg.PprofAddr)
		if err != nil {
			return fmt.Errorf("--pprof-addr: %w", err)
		}
		mux := http.NewServeMux()
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		ps := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		go ps.Serve(pl) //nolint:errcheck // debugging aid; closed with the process
		defer ps.Close()
		log.Info("pprof", "addr", pl.Addr().String())
	}
	serve(func() error { return smtpSrv.Serve(lns.smtp) })
	if cfg.HTTPTLS {
		serve(func() error { return httpSrv.ServeTLS(lns.http, "", "") })
	} else {
		serve(func() error { return httpSrv.Serve(lns.http) })
	}
	if lns.smtps != nil {
		serve(func() error { return smtpsSrv.ServeTLS(lns.smtps) })
	}
	if !isLoopbackListener(lns.http) && len(cfg.AllowedHosts) == 0 && cfg.WebAuth == nil {
		log.Info("the UI and API answer any host name without a login; --allowed-hosts and --ui-auth restrict them",
			"http", lns.http.Addr().String())
	}
	log.Info("listening", "smtp", lns.smtp.Addr().String(), "http", lns.http.Addr().String(), "https", cfg.HTTPTLS,
		"smtps", lns.smtpsAddr(), "webroot", cfg.Webroot, "db", cfg.DBPath, "version", buildVersion(), "startup", time.Since(started).String())
	if ready != nil {
		ready(lns.smtp.Addr().String(), lns.http.Addr().String(), lns.smtpsAddr())
	}

	select {
	case err = <-errc:
		log.Error("server failed", "err", err)
	case <-ctx.Done():
		log.Info("shutting down", "deadline", cfg.ShutdownTimeout.String())
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.ShutdownTimeout)
	defer cancel()
	var smtpErr, smtpsErr, httpErr error
	var sw sync.WaitGroup
	sw.Add(2)
	go func() { defer sw.Done(); smtpErr = smtpSrv.Shutdown(sctx) }()
	go func() { defer sw.Done(); httpErr = httpSrv.Shutdown(sctx) }()
	if smtpsSrv != smtpSrv {
		sw.Add(1)
		go func() { defer sw.Done(); smtpsErr = smtpsSrv.Shutdown(sctx) }()
	}
	sw.Wait()
	wg.Wait()
	if err := errors.Join(smtpErr, smtpsErr); err != nil {
		smtpErr = fmt.Errorf("smtp shutdown: %w", err)
	}
	if httpErr != nil {
		httpErr = fmt.Errorf("http shutdown: %w", httpErr)
	}
	err = errors.Join(err, smtpErr, httpErr)
	if err == nil {
		log.Info("stopped")
	}
	return err
}

// deliverTo adapts the store to smtpd's Backend: the one place that knows
// both. met times each message from the end of its data to its commit,
// after which smtpd answers 250.
func deliverTo(db *store.DB, met *metrics) smtpd.Backend {
	return smtpd.BackendFunc(func(ctx context.Context, env *smtpd.Envelope, r io.Reader) error {
		// Sized by the client's SIZE= when it sent one: growing a buffer to
		// 25 MB by doubling allocates twice that on the way.
		var buf bytes.Buffer
		if n := declaredSize(env.FromParams); n > 0 {
			buf.Grow(n + 4<<10) // + our Received and Return-Path lines
		}
		if _, err := buf.ReadFrom(r); err != nil {
			return fmt.Errorf("read message: %w", err)
		}
		_, err := db.Insert(ctx, env.ID, storeEnvelope(env), buf.Bytes())
		if err == nil {
			// env.Received is set at the end of data, before r reports EOF.
			met.ingested(time.Since(env.Received))
		}
		if errors.Is(err, store.ErrStorageFull) {
			// RFC 3463 X.3.1 "mail system full"; 452 is RFC 5321's
			// "insufficient system storage". The store logged the cause.
			// Any other failure becomes smtpd's 451 4.3.0.
			return &smtpd.Error{Code: 452, Enhanced: "4.3.1", Message: "Insufficient system storage"}
		}
		return err
	})
}

// declaredSize is MAIL FROM's SIZE parameter (RFC 1870) when it is a
// plausible size, else 0. smtpd refuses a SIZE above --max-message-size;
// the cap stands for when that is unlimited.
func declaredSize(params []smtpd.Param) int {
	for _, p := range params {
		if strings.EqualFold(p.Key, "SIZE") {
			if n, err := strconv.Atoi(p.Value); err == nil && n > 0 && n <= 256<<20 {
				return n
			}
		}
	}
	return 0
}

func storeEnvelope(env *smtpd.Envelope) store.Envelope {
	se := store.Envelope{
		Helo:       env.Helo,
		ESMTP:      env.ESMTP,
		AuthUser:   env.AuthUser,
		MailFrom:   env.From,
		MailParams: storeParams(env.FromParams),
		Rcpts:      make([]store.Recipient, 0, len(env.Rcpts)),
		Protocol:   env.Protocol,
		Body:       env.Body,
		SMTPUTF8:   env.SMTPUTF8,
		Chunked:    env.Chunked,
		Transcript: make([]store.TranscriptLine, 0, len(env.Transcript)),
		ReceivedAt: env.Received,
		Source:     "smtp",
	}
	if env.RemoteAddr != nil {
		se.RemoteAddr = env.RemoteAddr.String()
	}
	if env.LocalAddr != nil {
		se.LocalAddr = env.LocalAddr.String()
	}
	if env.TLS != nil {
		se.TLSVersion, se.TLSCipher, se.TLSServer = env.TLS.Version, env.TLS.CipherSuite, env.TLS.ServerName
	}
	for _, r := range env.Rcpts {
		se.Rcpts = append(se.Rcpts, store.Recipient{Address: r.Address, Params: storeParams(r.Params)})
	}
	for _, l := range env.Transcript {
		se.Transcript = append(se.Transcript, store.TranscriptLine{Time: l.Time, Dir: l.Dir, Text: l.Text})
	}
	return se
}

func storeParams(ps []smtpd.Param) []store.Param {
	out := make([]store.Param, 0, len(ps))
	for _, p := range ps {
		out = append(out, store.Param{Key: p.Key, Value: p.Value})
	}
	return out
}

func newLogger(cfg *config, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.LogLevel}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// loadTLS returns the certificate for STARTTLS and SMTPS: the configured
// one, or a self-signed one for --hostname so that STARTTLS always works.
func loadTLS(cfg *config) (*tls.Config, error) {
	var cert tls.Certificate
	var err error
	if cfg.TLSCert != "" {
		cert, err = tls.LoadX509KeyPair(cfg.TLSCert, cfg.TLSKey)
		if err != nil {
			return nil, fmt.Errorf("--tls-cert/--tls-key: %w", err)
		}
	} else {
		cert, err = smtpd.SelfSignedCert(cfg.Hostname)
		if err != nil {
			return nil, fmt.Errorf("self-signed certificate: %w", err)
		}
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS10}, nil
}

// isLoopbackListener reports whether l accepts loopback connections only
// (127.0.0.0/8, ::1; "localhost" resolves to one of them), where the Host
// check against DNS rebinding is on by default.
func isLoopbackListener(l net.Listener) bool {
	a, ok := l.Addr().(*net.TCPAddr)
	return ok && a.IP.IsLoopback()
}

type listeners struct {
	smtp, http, smtps net.Listener
}

func (l *listeners) smtpsAddr() string {
	if l.smtps == nil {
		return ""
	}
	return l.smtps.Addr().String()
}

func listenAll(cfg *config) (*listeners, error) {
	var lns listeners
	var err error
	closeAll := func() {
		for _, l := range []net.Listener{lns.smtp, lns.http, lns.smtps} {
			if l != nil {
				l.Close() // error irrelevant: we are failing the start anyway
			}
		}
	}
	if lns.smtp, err = net.Listen("tcp", cfg.SMTPAddr); err != nil {
		return nil, fmt.Errorf("--smtp-addr: %w", err)
	}
	if lns.http, err = net.Listen("tcp", cfg.HTTPAddr); err != nil {
		closeAll()
		return nil, fmt.Errorf("--http-addr: %w", err)
	}
	if cfg.SMTPSAddr != "" {
		if lns.smtps, err = net.Listen("tcp", cfg.SMTPSAddr); err != nil {
			closeAll()
			return nil, fmt.Errorf("--smtps-addr: %w", err)
		}
	}
	return &lns, nil
}
