package identity

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
)

// publicKey is one usable key of the key set: the one algorithm it verifies and
// the key in the type golang-jwt's method for that algorithm takes.
type publicKey struct {
	kid string
	alg string // RS256, ES256 or EdDSA
	key crypto.PublicKey
}

// jwk is a JSON Web Key (RFC 7517) as far as concertd reads one. The private and
// symmetric members are read only to refuse a key that has them.
type jwk struct {
	Kty    string   `json:"kty"`
	Kid    string   `json:"kid"`
	Use    string   `json:"use"`
	Alg    string   `json:"alg"`
	KeyOps []string `json:"key_ops"`
	Crv    string   `json:"crv"`
	N      string   `json:"n"`
	E      string   `json:"e"`
	X      string   `json:"x"`
	Y      string   `json:"y"`

	D  string `json:"d"`
	P  string `json:"p"`
	Q  string `json:"q"`
	DP string `json:"dp"`
	DQ string `json:"dq"`
	QI string `json:"qi"`
	K  string `json:"k"`
}

// minRSABits is the smallest RSA modulus accepted (NIST SP 800-131A).
const minRSABits = 2048

// parseKeySet reads a JSON Web Key Set of public signing keys: RSA (RS256), EC
// on P-256 (ES256) and OKP Ed25519 (EdDSA). It is strict, because a key it got
// wrong would be a key anyone could sign with: a key of another kind or curve,
// a key for encryption, a private or symmetric key, an RSA modulus under 2048
// bits, a point off its curve, or two keys with one kid is an error naming the
// key, and the operator fixes the file. (Parsing public keys of three kinds is
// a few lines of the standard library; a JOSE library would bring encryption,
// certificate chains and key types concertd has no use for.)
func parseKeySet(data []byte) ([]publicKey, error) {
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&set); err != nil {
		return nil, fmt.Errorf("not a JSON Web Key Set: %v", err)
	}
	if dec.More() {
		return nil, fmt.Errorf("not a JSON Web Key Set: data after the set")
	}
	if len(set.Keys) == 0 {
		return nil, fmt.Errorf(`the key set has no keys (want {"keys": [...]})`)
	}
	out := make([]publicKey, 0, len(set.Keys))
	kids := map[string]bool{}
	for i, raw := range set.Keys {
		var k jwk
		if err := json.Unmarshal(raw, &k); err != nil {
			return nil, fmt.Errorf("key %d: %v", i, err)
		}
		name := fmt.Sprintf("key %d", i)
		if k.Kid != "" {
			name = fmt.Sprintf("key %d (kid %q)", i, k.Kid)
		}
		pk, err := k.publicKey()
		if err != nil {
			return nil, fmt.Errorf("%s: %v", name, err)
		}
		if k.Kid != "" {
			if kids[k.Kid] {
				return nil, fmt.Errorf("%s: another key has this kid", name)
			}
			kids[k.Kid] = true
		}
		out = append(out, pk)
	}
	return out, nil
}

func (k jwk) publicKey() (publicKey, error) {
	if k.D != "" || k.P != "" || k.Q != "" || k.DP != "" || k.DQ != "" || k.QI != "" || k.K != "" {
		return publicKey{}, fmt.Errorf("holds private or symmetric key material; give concertd public keys only")
	}
	if k.Use != "" && k.Use != "sig" {
		return publicKey{}, fmt.Errorf("use %q: only signing keys (\"sig\") verify tokens", k.Use)
	}
	if len(k.KeyOps) > 0 {
		verify := false
		for _, op := range k.KeyOps {
			verify = verify || op == "verify"
		}
		if !verify {
			return publicKey{}, fmt.Errorf("key_ops %q does not include \"verify\"", k.KeyOps)
		}
	}
	var (
		pk  = publicKey{kid: k.Kid}
		err error
	)
	switch k.Kty {
	case "RSA":
		pk.alg = "RS256"
		pk.key, err = k.rsa()
	case "EC":
		pk.alg = "ES256"
		pk.key, err = k.ec()
	case "OKP":
		pk.alg = "EdDSA"
		pk.key, err = k.ed25519()
	default:
		return publicKey{}, fmt.Errorf("kty %q is not supported (RSA, EC or OKP)", k.Kty)
	}
	if err != nil {
		return publicKey{}, err
	}
	// A key may name its algorithm; it must be the one concertd verifies it with.
	// "Ed25519" is RFC 9864's name for EdDSA on that curve.
	if k.Alg != "" && k.Alg != pk.alg && !(pk.alg == "EdDSA" && k.Alg == "Ed25519") {
		return publicKey{}, fmt.Errorf("alg %q: a %s key verifies %s here", k.Alg, k.Kty, pk.alg)
	}
	return pk, nil
}

func (k jwk) rsa() (*rsa.PublicKey, error) {
	n, e, err := b64Pair("n", k.N, "e", k.E)
	if err != nil {
		return nil, err
	}
	if len(e) == 0 || len(e) > 4 || e[0] == 0 {
		return nil, fmt.Errorf("e is not a positive exponent of at most 32 bits")
	}
	exp := 0
	for _, b := range e {
		exp = exp<<8 | int(b)
	}
	pub := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: exp}
	if exp < 3 || exp%2 == 0 {
		return nil, fmt.Errorf("e = %d is not an RSA public exponent", exp)
	}
	if bits := pub.N.BitLen(); bits < minRSABits {
		return nil, fmt.Errorf("RSA modulus of %d bits; at least %d are needed", bits, minRSABits)
	}
	return pub, nil
}

func (k jwk) ec() (*ecdsa.PublicKey, error) {
	if k.Crv != "P-256" {
		return nil, fmt.Errorf("crv %q: ES256 needs P-256", k.Crv)
	}
	x, y, err := b64Pair("x", k.X, "y", k.Y)
	if err != nil {
		return nil, err
	}
	if len(x) != 32 || len(y) != 32 {
		return nil, fmt.Errorf("x and y must be 32 bytes each for P-256")
	}
	pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, x...), y...))
	if err != nil {
		return nil, fmt.Errorf("not a point of P-256: %v", err)
	}
	return pub, nil
}

func (k jwk) ed25519() (ed25519.PublicKey, error) {
	if k.Crv != "Ed25519" {
		return nil, fmt.Errorf("crv %q: EdDSA keys must be Ed25519", k.Crv)
	}
	x, err := b64("x", k.X)
	if err != nil {
		return nil, err
	}
	if len(x) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("x must be %d bytes for Ed25519", ed25519.PublicKeySize)
	}
	return ed25519.PublicKey(x), nil
}

// b64 decodes a key member: base64url without padding (RFC 7518, section 2).
func b64(member, s string) ([]byte, error) {
	if s == "" {
		return nil, fmt.Errorf("%s is missing", member)
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("%s is not base64url without padding", member)
	}
	return b, nil
}

// b64Pair decodes the two members an RSA (n, e) or EC (x, y) key is made of; the
// first one's error is the one reported.
func b64Pair(first, a, second, b string) ([]byte, []byte, error) {
	x, err := b64(first, a)
	if err != nil {
		return nil, nil, err
	}
	y, err := b64(second, b)
	if err != nil {
		return nil, nil, err
	}
	return x, y, nil
}
