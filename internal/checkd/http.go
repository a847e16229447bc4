package checkd

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"strconv"
	"strings"

	"github.com/keepalived-go/keepalived-go/internal/check"
	"github.com/keepalived-go/keepalived-go/internal/config"
)

// httpKeywords are HTTP_GET's and SSL_GET's keywords, and the global SSL
// block's.
var httpKeywords = []string{
	"HTTP_GET", "SSL_GET", "url", "path", "digest", "status_code", "virtualhost", "regex",
	"regex_no_match", "regex_options", "regex_min_offset", "regex_max_offset", "regex_stack",
	"http_protocol", "enable_sni", "sni_name", "fast_recovery", "tls_compliant",
	"log_all_failures", "checker_log_all_failures",
	"SSL", "password", "ca", "certificate", "key",
}

// sslContext is SSL_GET's TLS configuration, built once per
// configuration from the global SSL block (check_daemon.c start_check,
// init_ssl_ctx); err says why it could not be.
type sslContext struct {
	cfg *tls.Config
	err error
}

// newSSLContext builds the TLS configuration if an SSL_GET needs it, and
// logs whether server certificates are verified.
func newSSLContext(log *slog.Logger, cfg *config.Config) *sslContext {
	needed := false
	for _, spec := range cfg.VirtualServerSpecs() {
		for _, rs := range spec.RealServers {
			for _, c := range rs.Checkers {
				needed = needed || c.Keyword == "SSL_GET"
			}
		}
	}
	if !needed {
		return nil
	}
	var files check.SSLFiles
	if b := cfg.SSL; b != nil {
		files = check.SSLFiles{Password: b.Password, CA: b.CA, Certificate: b.Certificate, Key: b.Key}
	}
	tc, err := check.ClientTLS(files)
	if err != nil {
		// keepalived's checker process exits here; its SSL_GET probes
		// fail instead.
		log.Error("Error Initialize SSL, ctx Instance")
		log.Error(fmt.Sprintf("  SSL  keyfile:%s", files.Key))
		log.Error(fmt.Sprintf("  SSL   cafile:%s", files.CA))
		log.Error(err.Error() + ": SSL_GET checks fail until the SSL block is fixed")
		return &sslContext{err: err}
	}
	if check.VerifiesServers(tc) {
		log.Info("SSL_GET: server certificates are verified against the ca " + files.CA)
	} else {
		log.Info("SSL_GET: server certificates are not verified (keepalived never verifies them); set ca in the SSL block to verify them")
	}
	return &sslContext{cfg: tc}
}

// failing is a checker that cannot run: every probe fails with why.
type failing struct {
	name string
	why  string
}

func (f *failing) String() string                     { return f.name }
func (f *failing) Check(context.Context) check.Result { return check.Result{Reason: f.why} }

// newHTTPChecker is HTTP_GET or SSL_GET for real server rs of spec.
func newHTTPChecker(log *slog.Logger, g *config.GlobalDefs, c *config.Checker, rs *config.RealServerSpec,
	spec *config.VirtualServerSpec, service string, ssl *sslContext) (check.Checker, bool) {
	conn := connOf(c, rs.Addr)
	if c.Keyword == "SSL_GET" && (ssl == nil || ssl.err != nil) {
		why := "no SSL context"
		if ssl != nil {
			why = ssl.err.Error()
		}
		return &failing{name: conn.String(), why: why}, true
	}
	proto, _ := check.ParseHTTPProtocol(c.HTTPProtocol)
	h := &check.HTTP{Conn: conn, Protocol: proto, FastRecovery: c.FastRecovery, TLSCompliant: c.TLSCompliant,
		Server: trio(rs.Addr, spec.Protocol), Service: service,
		Log: func(s string) { log.Info(s) }}
	if c.Keyword == "SSL_GET" {
		h.TLS = ssl.cfg
	}
	rsVhost := ""
	if rs.RealServer != nil {
		rsVhost = rs.RealServer.Virtualhost
	}
	for _, u := range c.URLs {
		if !u.IsSet("path") {
			continue
		}
		vhost := firstSet(u.Virtualhost, c.Virtualhost, rsVhost, spec.VirtualServer.Virtualhost)
		url := &check.URL{Path: u.Path, Host: check.HostHeader(vhost, conn.Addr), Virtualhost: u.Virtualhost,
			TLSCompliant: u.TLSCompliant}
		if c.EnableSNI {
			url.SNI = firstSet(c.SNIName, vhost)
		}
		if u.IsSet("digest") {
			url.Digest, _ = check.ParseDigest(u.Digest) // validation reported a bad one; keepalived ignores it
		}
		url.Status, _ = check.ParseStatusCodes(u.StatusCode)
		url.Regex, url.RegexErr = regexOf(log, u)
		h.URLs = append(h.URLs, url)
	}
	if len(h.URLs) == 0 {
		return nil, false
	}
	return h, true
}

// regexOf is a url's regex with its options and offsets (check_http.c
// url_check, prepare_regex), and why it cannot be used.
func regexOf(log *slog.Logger, u *config.URL) (*check.Regex, error) {
	if !u.IsSet("regex") {
		if u.IsSet("regex_options") || u.RegexNoMatch || u.IsSet("regex_min_offset") || u.IsSet("regex_max_offset") ||
			u.IsSet("regex_stack") {
			log.Info("regex parameters specified without regex")
		}
		return nil, nil
	}
	pattern := unescape(u.Regex)
	re, err := check.CompileRegex(pattern, u.RegexOptions)
	if err != nil {
		log.Info(fmt.Sprintf("Invalid regex: '%s': %v", pattern, err))
		return nil, err
	}
	re.NoMatch = u.RegexNoMatch
	re.MinOffset = int64(max(0, u.RegexMinOffset))
	if u.IsSet("regex_max_offset") {
		re.MaxOffset, re.HasMax = int64(max(0, u.RegexMaxOffset)), true
		if re.MinOffset > re.MaxOffset {
			log.Info(fmt.Sprintf("regex min offset %d > regex_max_offset %d - ignoring", re.MinOffset, re.MaxOffset))
			re.MinOffset, re.MaxOffset, re.HasMax = 0, 0, false
		}
	}
	return re, nil
}

func firstSet(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// unescape reads a regex's escapes as keepalived's
// alloc_strvec_quoted_escaped does (lib/parser.c): \xHH, \cX, octal,
// \a \b \E \f \n \r \t \v, and any other escaped character as itself,
// so that a PCRE escape is written with two backslashes (\\d). The
// configuration keeps the regex's backslashes as written.
func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' || i+1 == len(s) {
			b.WriteByte(c)
			continue
		}
		i++
		c = s[i]
		switch {
		case c == 'x' && i+1 < len(s) && isHex(s[i+1]):
			var v byte
			for i+1 < len(s) && isHex(s[i+1]) {
				i++
				n, _ := strconv.ParseUint(s[i:i+1], 16, 8)
				v = v<<4 | byte(n)
			}
			b.WriteByte(v)
		case c == 'c' && i+1 < len(s):
			i++
			b.WriteByte(s[i] & 0x1f)
		case c >= '0' && c <= '7':
			v := c - '0'
			for k := 0; k < 2 && i+1 < len(s) && s[i+1] >= '0' && s[i+1] <= '7'; k++ {
				i++
				v = v<<3 + s[i] - '0'
			}
			b.WriteByte(v)
		default:
			if r, ok := map[byte]byte{'a': '\a', 'b': '\b', 'E': 0x1b, 'f': '\f', 'n': '\n', 'r': '\r', 't': '\t', 'v': '\v'}[c]; ok {
				c = r
			}
			b.WriteByte(c)
		}
	}
	return b.String()
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}
