package upstream

import (
	"errors"
	"fmt"
	"strings"
)

// Mode is what a verified release must carry.
type Mode string

const (
	// ModeCommit needs the commit the release's tag names signed by a
	// trusted key; the tag may be lightweight. The one mode Porch v1.3.0
	// can serve: it lists a release only for a lightweight tag.
	ModeCommit Mode = "Commit"
	// ModeTag needs the release's annotated tag signed by a trusted key.
	ModeTag Mode = "Tag"
	// ModeTagAndCommit needs the tag and the commit it names signed.
	ModeTagAndCommit Mode = "TagAndCommit"
)

// ErrNotVerified is wrapped by every reason Verify refuses a release.
var ErrNotVerified = errors.New("not verified")

// Verify checks t against the armored OpenPGP public keys in keyRings (one
// or more keys each), as Flux's source-controller verifies a
// GitRepository: a signature must verify against one of them. It answers
// which key signed, or why the release is not verified.
func Verify(t Tag, mode Mode, keyRings []string) (signer string, err error) {
	if len(keyRings) == 0 {
		return "", fmt.Errorf("no public keys to verify with: %w", ErrNotVerified)
	}
	if mode == ModeTag || mode == ModeTagAndCommit {
		if signer, err = verifyTag(t, keyRings); err != nil {
			return "", err
		}
	}
	if mode == ModeCommit || mode == ModeTagAndCommit {
		commitSigner, err := verifyCommit(t, keyRings)
		if err != nil {
			return "", err
		}
		if signer == "" {
			signer = commitSigner
		}
	}
	if signer == "" {
		return "", fmt.Errorf("unknown verification mode %q: %w", mode, ErrNotVerified)
	}
	return signer, nil
}

func verifyTag(t Tag, keyRings []string) (string, error) {
	if t.object == nil {
		return "", fmt.Errorf("tag %s is a lightweight tag: it carries no signature: %w", t.Name, ErrNotVerified)
	}
	if strings.TrimSpace(t.object.PGPSignature) == "" {
		return "", fmt.Errorf("tag %s is not signed: %w", t.Name, ErrNotVerified)
	}
	signer, err := verifyWith(keyRings, func(ring string) (string, error) {
		e, err := t.object.Verify(ring)
		if err != nil {
			return "", err
		}
		return identity(e.PrimaryKey.KeyIdString(), e.Identities), nil
	})
	if err != nil {
		return "", fmt.Errorf("tag %s: its signature does not verify against any trusted key (%w): %w", t.Name, err, ErrNotVerified)
	}
	return signer, nil
}

func verifyCommit(t Tag, keyRings []string) (string, error) {
	if strings.TrimSpace(t.commit.PGPSignature) == "" {
		return "", fmt.Errorf("commit %s of tag %s is not signed: %w", short(t.Commit), t.Name, ErrNotVerified)
	}
	signer, err := verifyWith(keyRings, func(ring string) (string, error) {
		e, err := t.commit.Verify(ring)
		if err != nil {
			return "", err
		}
		return identity(e.PrimaryKey.KeyIdString(), e.Identities), nil
	})
	if err != nil {
		return "", fmt.Errorf("commit %s of tag %s: its signature does not verify against any trusted key (%w): %w", short(t.Commit), t.Name, err, ErrNotVerified)
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
