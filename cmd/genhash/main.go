// Command genhash is keepalived's genhash: it prints the MD5 digest of a
// web page's body for the digest of an HTTP_GET or SSL_GET url block.
//
//	genhash [-S [-I]] -s ADDRESS -p PORT -u PATH [-V VHOST] [-P 1.0|1.0c|1.1] [-t SECS] [-m FWMARK] [-v]
package main

import (
	"os"

	"github.com/keepalived-go/keepalived-go/internal/genhash"
)

func main() {
	os.Exit(genhash.Run(os.Args[0], os.Args[1:], os.Stdout, os.Stderr))
}
