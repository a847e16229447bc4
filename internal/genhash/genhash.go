// Package genhash is keepalived's genhash (check/check_genhash.c): it
// fetches a page as HTTP_GET or SSL_GET would and prints the MD5 digest
// of its body, for a url block's digest. It shares its fetch and digest
// with the checkers (internal/check), so the digest it prints is the one
// they check: for a chunked body that is the digest of the decoded body,
// where keepalived 2.2.7's genhash hashes the chunk sizes with the data.
package genhash

import (
	"context"
	"crypto/md5"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strings"
	"time"

	"github.com/keepalived-go/keepalived-go/internal/check"
)

// options are genhash's command line.
type options struct {
	ssl, sni, verbose bool
	server            netip.Addr
	port              uint16
	url               string
	vhost             string
	fwmark            int
	protocol          check.HTTPProtocol
	timeout           time.Duration
	has               map[byte]bool
}

// usage is genhash_usage; amGenhash is false under keepalived -T.
func usage(w io.Writer, prog string, amGenhash bool) {
	sub := " --genhash"
	if amGenhash {
		sub = ""
	}
	fmt.Fprintf(w, "Usage: %s%s COMMAND [OPTIONS]\n"+
		"Commands:\n"+
		"   -s server-address -p port -u url\n"+
		"   -S -s server-address -p port -u url\n"+
		"   -h\n\n", prog, sub)
	fmt.Fprint(w, "Options:\n"+
		"Either long or short options are allowed.\n"+
		"   --use-ssl         -S       Use SSL connection to remote server.\n"+
		"   --use-sni         -I       Use SNI during SSL handshake (uses virtualhost setting; see -V).\n"+
		"   --server          -s       Use the specified remote server address.\n"+
		"   --port            -p       Use the specified remote server port.\n"+
		"   --url             -u       Use the specified remote server url.\n"+
		"   --use-virtualhost -V       Use the specified virtualhost in GET query.\n"+
		"   --verbose         -v       Use verbose mode output.\n"+
		"   --help            -h       Display this short inlined help screen.\n"+
		"   --fwmark          -m       Use the specified FW mark.\n"+
		"   --protocol        -P       Use the specified HTTP protocol - '1.0', 1.0c', '1.1'.\n"+
		"                                1.0c means 1.0 with 'Connection: close'\n"+
		"   --timeout         -t       Timeout in seconds\n")
}

var longOptions = []struct {
	name   string
	hasArg bool
	short  byte
}{
	{"help", false, 'h'}, {"verbose", false, 'v'}, {"use-ssl", false, 'S'}, {"use-sni", false, 'I'},
	{"server", true, 's'}, {"use-virtualhost", true, 'V'}, {"port", true, 'p'}, {"url", true, 'u'},
	{"fwmark", true, 'm'}, {"protocol", true, 'P'}, {"timeout", true, 't'},
}

// shortArg tells, for each short option, whether it takes an argument
// (getopt's ":hvSs:V:p:u:m:P:t:I").
var shortArg = map[byte]bool{'h': false, 'v': false, 'S': false, 'I': false,
	's': true, 'V': true, 'p': true, 'u': true, 'm': true, 'P': true, 't': true}

// errUsage asks for the usage text.
var errUsage = errors.New("usage")

// parse is check_genhash_parse_cmdline with getopt_long's rules: short
// options may be grouped and take their argument attached or next; long
// options may be abbreviated and take theirs after '=' or next;
// arguments that are not options are gathered (and refused) as GNU
// getopt permutes them, until "--".
func parse(argc int, args []string, stderr io.Writer) (*options, error) {
	o := &options{has: map[byte]bool{}}
	if argc <= 2 { // keepalived's "trivial sanity check", on its whole argc
		return nil, errUsage
	}
	bad := false
	var rest []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			rest = append(rest, args[i+1:]...)
			i = len(args)
		case strings.HasPrefix(a, "--"):
			name, val, hasVal := strings.Cut(a[2:], "=")
			opt := -1
			for k, l := range longOptions {
				if l.name == name {
					opt = k
					break
				}
				if strings.HasPrefix(l.name, name) {
					if opt >= 0 {
						opt = -2 // ambiguous
						break
					}
					opt = k
				}
			}
			if opt < 0 || hasVal && !longOptions[opt].hasArg {
				fmt.Fprintf(stderr, "Unknown option %s\n", a)
				bad = true
				continue
			}
			l := longOptions[opt]
			if l.hasArg && !hasVal {
				if i+1 >= len(args) {
					fmt.Fprintf(stderr, "Missing parameter for option --%s\n", l.name)
					bad = true
					continue
				}
				i++
				val = args[i]
			}
			if err := o.set(l.short, val, &bad, stderr); err != nil {
				return nil, err
			}
		case len(a) > 1 && a[0] == '-':
			for j := 1; j < len(a); j++ {
				c := a[j]
				takes, known := shortArg[c]
				if !known {
					fmt.Fprintf(stderr, "Unknown option -%c\n", c)
					bad = true
					continue
				}
				val := ""
				if takes {
					switch {
					case j+1 < len(a):
						val = a[j+1:]
					case i+1 < len(args):
						i++
						val = args[i]
					default:
						fmt.Fprintf(stderr, "Missing parameter for option -%c\n", c)
						bad = true
						j = len(a)
						continue
					}
					j = len(a)
				}
				if err := o.set(c, val, &bad, stderr); err != nil {
					return nil, err
				}
			}
		default:
			rest = append(rest, a)
		}
	}
	if bad {
		return nil, errUsage
	}
	if len(rest) > 0 {
		fmt.Fprintf(stderr, "Unexpected argument(s): %s\n", strings.Join(rest, " "))
		return nil, errUsage
	}
	if !o.has['s'] || !o.has['p'] || !o.has['u'] {
		return nil, errUsage
	}
	return o, nil
}

// set records one option, with keepalived's messages for bad values.
func (o *options) set(c byte, val string, bad *bool, stderr io.Writer) error {
	fail := func(format string, args ...any) error {
		fmt.Fprintf(stderr, format, args...)
		return errUsage
	}
	switch c {
	case 'h':
		*bad = true
	case 'v':
		o.verbose = true
	case 'S':
		o.ssl = true
	case 'I':
		o.sni = true
	case 's':
		// inet_stosockaddr: a range or mask is cut off; inet_pton takes
		// no zone.
		ip := val
		if i := strings.IndexAny(ip, "-/"); i >= 0 {
			ip = ip[:i]
		}
		a, err := netip.ParseAddr(ip)
		if err != nil || a.Zone() != "" || strings.Contains(val, ":") != a.Is6() {
			return fail("server should be an IP, not %s\n", val)
		}
		o.server = a
	case 'V':
		o.vhost = val
	case 'p':
		n, rest := strtol(val)
		if rest != "" || n <= 0 || n > 65535 {
			return fail("invalid port number '%s'\n", val)
		}
		o.port = uint16(n)
	case 'u':
		o.url = val
	case 'm':
		start := strings.TrimLeft(val, " \t")
		n, rest := strtol(start)
		if rest != "" || strings.HasPrefix(start, "-") || n > 1<<32-1 {
			return fail("invalid fwmark '%s'\n", val)
		}
		o.fwmark = int(n)
	case 'P':
		p, ok := check.ParseHTTPProtocol(val)
		if !ok || val == "" {
			return fail("invalid HTTP protocol version '%s'\n", val)
		}
		o.protocol = p
	case 't':
		start := strings.TrimLeft(val, " \t")
		n, rest := strtol(start)
		if rest != "" || start == "" || strings.HasPrefix(start, "-") {
			return fail("invalid timeout '%s'\n", val)
		}
		o.timeout = time.Duration(n) * time.Second
	}
	o.has[c] = true
	return nil
}

// strtol reads a decimal number as strtol does (leading blanks, a sign)
// and returns what follows it; no digits leaves the whole string.
func strtol(s string) (int64, string) {
	t := strings.TrimLeft(s, " \t\n\v\f\r")
	neg := false
	if t != "" && (t[0] == '+' || t[0] == '-') {
		neg = t[0] == '-'
		t = t[1:]
	}
	i := 0
	var n int64
	for ; i < len(t) && t[i] >= '0' && t[i] <= '9'; i++ {
		if n < 1<<40 {
			n = n*10 + int64(t[i]-'0')
		}
	}
	if i == 0 {
		return 0, s
	}
	if neg {
		n = -n
	}
	return n, t[i:]
}

// Run is genhash: args are the arguments after the program's name; prog
// is the program's name as the usage text shows it. It returns the exit
// status: 1 for a usage error, else 0 (as keepalived's, whatever the
// fetch did).
func Run(prog string, args []string, stdout, stderr io.Writer) int {
	return run(prog, true, len(args)+1, args, stdout, stderr)
}

// RunFromKeepalived is keepalived -T (--genhash): argc counts the whole
// command line, args are those after -T.
func RunFromKeepalived(prog string, argc int, args []string, stdout, stderr io.Writer) int {
	return run(prog, false, argc, args, stdout, stderr)
}

func run(prog string, amGenhash bool, argc int, args []string, stdout, stderr io.Writer) int {
	o, err := parse(argc, args, stderr)
	if err != nil {
		usage(stderr, prog, amGenhash)
		return 1
	}
	start := time.Now()
	fetch(o, stdout, stderr)
	if o.verbose {
		fmt.Fprintf(stdout, "\nGlobal response time for [%s] = %d usecs\n", o.url, time.Since(start).Microseconds())
	}
	return 0
}

func fetch(o *options, stdout, stderr io.Writer) {
	addr := netip.AddrPortFrom(o.server, o.port)
	f := &check.Fetch{
		Conn:    check.Conn{Addr: addr, Fwmark: o.fwmark, Timeout: o.timeout},
		Request: check.HTTPRequest(o.url, check.HostHeader(o.vhost, addr), o.protocol),
		Digest:  true,
	}
	if o.ssl {
		cfg, _ := check.ClientTLS(check.SSLFiles{})
		if o.sni && o.vhost != "" {
			cfg.ServerName = o.vhost
		}
		f.TLS = cfg
	}
	if o.verbose {
		f.Observer = &dumper{w: stdout}
	}
	ctx := context.Background()
	if o.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.timeout)
		defer cancel()
	}
	resp, err := f.Do(ctx)
	if err != nil {
		var fe *check.FetchError
		switch {
		case errors.As(err, &fe) && fe.Msg == "Read, no data received from":
			fmt.Fprintln(stderr, "no data received from remote webserver")
		case errors.As(err, &fe) && fe.Skip:
			fmt.Fprintln(stderr, err)
		case errors.As(err, &fe):
			fmt.Fprintln(stdout, fe.Msg)
		default:
			fmt.Fprintln(stdout, err)
		}
		return
	}
	fmt.Fprintf(stdout, "%x\n", resp.Sum)
	if resp.Chunked {
		fmt.Fprintf(stderr, "(the body came chunked: this is the digest of the decoded body, which keepalived-go checks; keepalived 2.2.7 hashes the chunked coding: %x)\n", resp.RawSum)
	}
}

// Keepalived's banners (check_http.c).
const (
	delimBegin      = "-----------------------["
	delimEnd        = "]-----------------------\n"
	httpHeaderHexa  = delimBegin + "    HTTP Header Buffer    " + delimEnd
	httpHeaderASCII = delimBegin + " HTTP Header Ascii Buffer " + delimEnd
	htmlHeaderHexa  = delimBegin + "        HTML Buffer        " + delimEnd
	htmlHash        = delimBegin + "    HTML hash resulting    " + delimEnd
	htmlHashFinal   = delimBegin + " HTML hash final resulting " + delimEnd
)

// dumper prints a response as genhash -v does (http_process_response,
// http_dump_header, dump_digest).
type dumper struct{ w io.Writer }

func (d *dumper) HeaderRead() { io.WriteString(d.w, httpHeaderHexa) }

func (d *dumper) Header(h []byte) {
	DumpBuffer(d.w, h)
	io.WriteString(d.w, httpHeaderASCII)
	d.w.Write(h)
	io.WriteString(d.w, "\n")
}

func (d *dumper) Body(b []byte, first bool) {
	if first {
		io.WriteString(d.w, htmlHeaderHexa)
	}
	DumpBuffer(d.w, b)
}

func (d *dumper) End(sum [md5.Size]byte, _ bool) {
	io.WriteString(d.w, "\n"+htmlHash)
	DumpBuffer(d.w, sum[:])
	io.WriteString(d.w, htmlHashFinal)
}

// DumpBuffer is keepalived's dump_buffer (lib/utils.c): rows of 16 bytes,
// each with its decimal offset, the bytes in hex with a '-' after the
// eighth, and their printable characters.
func DumpBuffer(w io.Writer, b []byte) {
	var out strings.Builder
	n := len(b)
	c := (n + 15) / 16 * 16
	for i := 0; i < c; i++ {
		if i%16 == 0 {
			fmt.Fprintf(&out, "%.4d ", i&0xffff)
		}
		if i < n {
			fmt.Fprintf(&out, "%3.2x", b[i])
		} else {
			out.WriteString("   ")
		}
		if (i+1)%8 != 0 {
			continue
		}
		if (i+1)%16 != 0 {
			out.WriteString(" -")
			continue
		}
		out.WriteString("   ")
		for j := i - 15; j <= i; j++ {
			switch {
			case j >= n:
				out.WriteByte(' ')
			case b[j] >= 0x20 && b[j] <= 0x7e:
				out.WriteByte(b[j])
			default:
				out.WriteByte('.')
			}
		}
		out.WriteByte('\n')
	}
	io.WriteString(w, out.String())
}
