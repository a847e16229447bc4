package check

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
)

// SSLFiles is the global SSL block of SSL_GET: password, ca, certificate
// and key.
type SSLFiles struct {
	Password, CA, Certificate, Key string
}

// ClientTLS is SSL_GET's TLS configuration (check_ssl.c build_ssl_ctx):
// the certificate and key are a client certificate, the password
// decrypts the key.
//
// keepalived loads the ca but never verifies the server's certificate
// (no SSL_CTX_set_verify): a probe passes whatever certificate the
// server shows. Here, without a ca nothing is verified either; with a
// ca, the server's chain must lead to it (its name is not checked:
// checkers connect to addresses). Verify reports which applies.
func ClientTLS(f SSLFiles) (*tls.Config, error) {
	cfg := &tls.Config{InsecureSkipVerify: true}
	if f.Certificate != "" || f.Key != "" {
		cert, err := loadKeyPair(f)
		if err != nil {
			return nil, err
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	if f.CA != "" {
		b, err := os.ReadFile(f.CA)
		if err != nil {
			return nil, fmt.Errorf("SSL error : Cant load CA file...: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(b) {
			return nil, fmt.Errorf("SSL error : Cant load CA file...: no certificate in %s", f.CA)
		}
		cfg.VerifyConnection = func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("the server sent no certificate")
			}
			inter := x509.NewCertPool()
			for _, c := range cs.PeerCertificates[1:] {
				inter.AddCert(c)
			}
			_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{Roots: pool, Intermediates: inter})
			return err
		}
	}
	return cfg, nil
}

// VerifiesServers tells whether cfg verifies the servers' certificates.
func VerifiesServers(cfg *tls.Config) bool {
	return cfg != nil && (!cfg.InsecureSkipVerify || cfg.VerifyConnection != nil)
}

// loadKeyPair reads the client certificate (a PEM chain) and its key
// (the key file, else the certificate file), decrypting a key in the
// legacy encrypted PEM form with the password.
func loadKeyPair(f SSLFiles) (tls.Certificate, error) {
	certPEM, err := os.ReadFile(f.Certificate)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("SSL error : Cant load certificate file...: %w", err)
	}
	keyPEM := certPEM
	if f.Key != "" {
		if keyPEM, err = os.ReadFile(f.Key); err != nil {
			return tls.Certificate{}, fmt.Errorf("SSL error : Cant load key file...: %w", err)
		}
	}
	if f.Password != "" {
		if keyPEM, err = decryptKey(keyPEM, f.Password); err != nil {
			return tls.Certificate{}, fmt.Errorf("SSL error : Cant load key file...: %w", err)
		}
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("SSL error : Cant load key file...: %w", err)
	}
	return cert, nil
}

// decryptKey decrypts the PEM blocks of a legacy encrypted key
// ("Proc-Type: 4,ENCRYPTED"). Encrypted PKCS#8 keys are not supported.
func decryptKey(b []byte, password string) ([]byte, error) {
	var out []byte
	for {
		block, rest := pem.Decode(b)
		if block == nil {
			break
		}
		b = rest
		if block.Type == "ENCRYPTED PRIVATE KEY" {
			return nil, errors.New("encrypted PKCS#8 keys are not supported: convert the key with openssl rsa or openssl ec")
		}
		//lint:ignore SA1019 keepalived's password decrypts legacy PEM keys; there is no replacement in the standard library.
		if x509.IsEncryptedPEMBlock(block) {
			der, err := x509.DecryptPEMBlock(block, []byte(password)) //lint:ignore SA1019 as above
			if err != nil {
				return nil, err
			}
			block = &pem.Block{Type: block.Type, Bytes: der}
		}
		out = append(out, pem.EncodeToMemory(block)...)
	}
	return out, nil
}
