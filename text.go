package keel

import "unicode/utf8"

// ValidText returns an EINVALID error naming field unless s is text that
// Postgres can store: valid UTF-8 with no NUL byte. Postgres refuses both
// in a text column, so a value with either would fail deep in a store as
// an internal error; every surface refuses it here first — the console for
// every query parameter, form value and JSON string it reads, and the
// domain's rules for the fields that reach them by other ways (the CLI,
// the demo). Binary data (an attachment's content) is not text and is not
// checked.
func ValidText(field, s string) error {
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == 0:
			return Invalid(field, "is not text: it holds a NUL byte (at byte %d)", i)
		case r == utf8.RuneError && size == 1:
			return Invalid(field, "is not text: it holds bytes that are not UTF-8 (at byte %d)", i)
		}
		i += size
	}
	return nil
}

// validTexts applies ValidText to pairs of field and value, in order.
func validTexts(pairs ...string) error {
	for i := 0; i+1 < len(pairs); i += 2 {
		if err := ValidText(pairs[i], pairs[i+1]); err != nil {
			return err
		}
	}
	return nil
}
