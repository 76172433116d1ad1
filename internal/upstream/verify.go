package upstream

import (
	"errors"
	"fmt"
	"strings"
)

// Mode is what a verified release must carry.
type Mode string

const (
	// ModeTag needs the release's tag signed by a trusted key.
	ModeTag Mode = "Tag"
	// ModeTagAndCommit needs the tag and the commit it names signed.
	ModeTagAndCommit Mode = "TagAndCommit"
)

// ErrNotVerified is wrapped by every reason Verify refuses a release.
var ErrNotVerified = errors.New("not verified")

// Verify checks t against the armored OpenPGP public keys in keyRings (one
// or more keys each), as Flux's source-controller verifies a
// GitRepository: the signature must verify against one of them. It
// answers which key signed, or why the release is not verified.
func Verify(t Tag, mode Mode, keyRings []string) (signer string, err error) {
	if len(keyRings) == 0 {
		return "", fmt.Errorf("no public keys to verify with: %w", ErrNotVerified)
	}
	if t.object == nil {
		return "", fmt.Errorf("tag %s is a lightweight tag: it carries no signature: %w", t.Name, ErrNotVerified)
	}
	if strings.TrimSpace(t.object.PGPSignature) == "" {
		return "", fmt.Errorf("tag %s is not signed: %w", t.Name, ErrNotVerified)
	}
	signer, err = verifyWith(keyRings, func(ring string) (string, error) {
		e, err := t.object.Verify(ring)
		if err != nil {
			return "", err
		}
		return identity(e.PrimaryKey.KeyIdString(), e.Identities), nil
	})
	if err != nil {
		return "", fmt.Errorf("tag %s: signature does not verify against any trusted key (%v): %w", t.Name, err, ErrNotVerified)
	}
	if mode != ModeTagAndCommit {
		return signer, nil
	}
	if strings.TrimSpace(t.commit.PGPSignature) == "" {
		return "", fmt.Errorf("commit %s of tag %s is not signed: %w", short(t.Commit), t.Name, ErrNotVerified)
	}
	if _, err := verifyWith(keyRings, func(ring string) (string, error) {
		_, err := t.commit.Verify(ring)
		return "", err
	}); err != nil {
		return "", fmt.Errorf("commit %s of tag %s: signature does not verify against any trusted key (%v): %w", short(t.Commit), t.Name, err, ErrNotVerified)
	}
	return signer, nil
}

func verifyWith(keyRings []string, verify func(string) (string, error)) (string, error) {
	var last error
	for _, ring := range keyRings {
		signer, err := verify(ring)
		if err == nil {
			return signer, nil
		}
		last = err
	}
	return "", last
}

func identity[T any](keyID string, identities map[string]T) string {
	for name := range identities {
		return name + " (" + keyID + ")"
	}
	return keyID
}
