package keel

import (
	_ "embed"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
)

//go:generate go run passwords_gen.go

// Password length bounds: the floor keeps short, guessable passwords out
// (length is what makes a password hard to guess); the ceiling keeps
// hashing cheap.
const (
	MinPasswordLen = 12   // characters
	MaxPasswordLen = 1024 // bytes
)

// commonPasswordsText is the list of common passwords (passwords_gen.go
// writes it from the patterns of published leaks; nothing is downloaded).
//
//go:embed passwords_common.txt
var commonPasswordsText string

// commonPasswords is that list as passwordForms reads each entry, so an
// entry stands for its variations too.
var commonPasswords = sync.OnceValue(func() map[string]bool {
	set := map[string]bool{}
	for _, line := range strings.Split(commonPasswordsText, "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		for _, f := range passwordForms(line) {
			set[f] = true
		}
	}
	return set
})

// ValidPassword checks a password an employee is to sign in with: at
// least MinPasswordLen characters and at most MaxPasswordLen bytes, not a
// common password and not a simple pattern, and not the employee's own
// email or name (personal) dressed up. The refusal is EINVALID naming field.
func ValidPassword(field, password string, personal ...string) error {
	if utf8.RuneCountInString(password) < MinPasswordLen || len(password) > MaxPasswordLen {
		return Invalid(field, "must be %d to %d characters", MinPasswordLen, MaxPasswordLen)
	}
	forms := passwordForms(password)
	common := commonPasswords()
	for _, f := range forms {
		if common[f] || simplePattern(f) {
			return Invalid(field, "is too common or too simple: a well-known password, a word with digits or symbols around it, or a keyboard or number pattern; choose another")
		}
	}
	for _, p := range personal {
		if p == "" {
			continue
		}
		mine := passwordForms(p)
		if local, _, ok := strings.Cut(p, "@"); ok {
			mine = append(mine, passwordForms(local)...)
		}
		for _, f := range forms {
			for _, m := range mine {
				if f != "" && f == m {
					return Invalid(field, "is too close to the employee's email or name; choose another")
				}
			}
		}
	}
	return nil
}

// leet reads the digits and symbols people put for letters as the letters.
var leet = strings.NewReplacer("0", "o", "1", "i", "3", "e", "4", "a", "5", "s", "7", "t", "8", "b", "@", "a", "$", "s", "!", "i")

// passwordForms are the ways a guesser reads password: as typed, lower
// case and without spaces or separators (raw); and its core, the word left
// once digits and symbols around it are dropped and the rest read as
// leetspeak ("P@ssw0rd-2024!" is "password"). Either form repeated ("abcabc")
// is read as once.
func passwordForms(password string) []string {
	raw := strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) || strings.ContainsRune("-_.,;:+~'\"`", r) {
			return -1
		}
		return unicode.ToLower(r)
	}, password)
	core := strings.TrimRightFunc(raw, func(r rune) bool { return !unicode.IsLetter(r) })
	core = strings.TrimLeftFunc(core, func(r rune) bool { return !unicode.IsLetter(r) && r != '@' && r != '$' })
	core = leet.Replace(core)
	return []string{once(raw), once(core)}
}

// once is s without repetition: "abcabcabc" is "abc".
func once(s string) string {
	for n := 1; n <= len(s)/2; n++ {
		if len(s)%n == 0 && strings.Repeat(s[:n], len(s)/n) == s {
			return s[:n]
		}
	}
	return s
}

// simplePattern reports whether a password form is too simple to be a
// password of its own: nearly one character ("aaaaaaaaaaab"), or a run
// up or down the alphabet or the digits ("abcdefghijkl", "890123456789").
// The empty core (a password of digits and symbols only) is not a pattern:
// its raw form is judged.
func simplePattern(f string) bool {
	if f == "" {
		return false
	}
	distinct := map[rune]bool{}
	for _, r := range f {
		distinct[r] = true
	}
	if len(distinct) < 5 {
		return true
	}
	step := func(a, b byte) int {
		d := int(b) - int(a)
		if a >= '0' && a <= '9' && b >= '0' && b <= '9' { // 9 → 0 and back continue a run of digits
			switch d {
			case -9:
				d = 1
			case 9:
				d = -1
			}
		}
		return d
	}
	run := step(f[0], f[1])
	if run != 1 && run != -1 {
		return false
	}
	for i := 2; i < len(f); i++ {
		if step(f[i-1], f[i]) != run {
			return false
		}
	}
	return true
}
