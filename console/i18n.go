package console

import (
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"

	"github.com/keelhq/keel"
)

// The console speaks English and Simplified Chinese, chosen per employee.
// English text is the key: templates say {{t "Customers"}} and handlers
// l.T(…) with a literal, and locales/<area>.zh.json map that text to
// Chinese. A refusal (*keel.Error) is shown the same way: its Key is the
// English text, translated with its Args (lang.Refusal). A text with no
// translation is shown in English; tests check that every text in the
// templates and handlers, and every refusal key of the domain, the stores
// and the console, has one.
//
//go:embed locales/*.json
var localeFS embed.FS

// catalog maps a locale to its translations of English text.
type catalog map[string]map[string]string

// loadCatalog reads every locales/<area>.<locale>.json. The same English
// text translated two different ways is an error, so areas cannot
// contradict each other.
func loadCatalog() (catalog, error) {
	names, err := fs.Glob(localeFS, "locales/*.json")
	if err != nil {
		return nil, err
	}
	c := catalog{}
	for _, n := range names {
		parts := strings.Split(strings.TrimSuffix(path.Base(n), ".json"), ".")
		if len(parts) != 2 {
			return nil, fmt.Errorf("%s: want locales/<area>.<locale>.json", n)
		}
		locale := parts[1]
		b, err := localeFS.ReadFile(n)
		if err != nil {
			return nil, err
		}
		var m map[string]string
		if err := json.Unmarshal(b, &m); err != nil {
			return nil, fmt.Errorf("%s: %w", n, err)
		}
		if c[locale] == nil {
			c[locale] = map[string]string{}
		}
		for en, tr := range m {
			if old, ok := c[locale][en]; ok && old != tr {
				return nil, fmt.Errorf("%s: %q is translated as %q here and as %q elsewhere", n, en, tr, old)
			}
			c[locale][en] = tr
		}
	}
	return c, nil
}

// lang is the UI language of one request.
type lang struct {
	Locale string
	words  map[string]string
}

func (c catalog) lang(locale string) lang {
	if locale == "" {
		locale = keel.Locales[0].Code
	}
	return lang{Locale: locale, words: c[locale]}
}

// Refusal is err as the reader reads it: a *keel.Error's key translated,
// with its arguments, after the field it names ("lines[2].quantity: …",
// the field as the form and the API name it); any other error is a
// sentence that gives nothing away.
func (l lang) Refusal(err error) string {
	var e *keel.Error
	if !errors.As(err, &e) || e.Code == keel.EINTERNAL {
		return l.T("Something went wrong on our side. It has been logged; please try again.")
	}
	if e.Field == "" {
		return l.Reason(e)
	}
	return e.Field + ": " + l.Reason(e)
}

// Reason is what a refusal says, translated, without the field: what a
// form shows beside the input the refusal is about.
func (l lang) Reason(e *keel.Error) string { return l.T(e.Key, e.Args...) }

// T translates English text; with args, the text is a fmt format and the
// translation must keep its verbs in the same order.
func (l lang) T(en string, args ...any) string {
	s := en
	if tr, ok := l.words[en]; ok && tr != "" {
		s = tr
	}
	if len(args) > 0 {
		return fmt.Sprintf(s, args...)
	}
	return s
}
