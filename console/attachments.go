package console

import (
	"mime"
	"net/http"
	"path"
	"strconv"
	"strings"

	"github.com/keelhq/keel"
)

// handleAttachment serves a follow-up's file to the JSON API (token) and
// handleAttachmentDownload to the pages (session); both answer with the
// same download.
func (s *server) handleAttachment() http.HandlerFunc { return s.api(s.serveAttachment) }

func (s *server) handleAttachmentDownload() http.HandlerFunc { return s.page(s.serveAttachment) }

// serveAttachment writes a follow-up's file as a download: never rendered
// by the browser in the console's origin, whatever its type says.
func (s *server) serveAttachment(w http.ResponseWriter, r *http.Request) error {
	a, err := pathRecord(r, keel.AttachmentNotFound, s.followUps.Attachment)
	if err != nil {
		return err
	}
	ct := a.ContentType
	if _, _, err := mime.ParseMediaType(ct); err != nil || ct == "" {
		ct = "application/octet-stream"
	}
	disposition := mime.FormatMediaType("attachment", map[string]string{"filename": safeFilename(a.Name)})
	if disposition == "" {
		disposition = "attachment"
	}
	h := w.Header()
	h.Set("Content-Type", ct)
	h.Set("Content-Disposition", disposition)
	h.Set("Content-Length", strconv.Itoa(len(a.Data)))
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	w.WriteHeader(http.StatusOK)
	w.Write(a.Data)
	return nil
}

// safeFilename keeps a stored name fit for a download: no path, no
// control characters, never empty.
func safeFilename(name string) string {
	name = path.Base(strings.ReplaceAll(name, `\`, "/"))
	name = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == '"' {
			return '_'
		}
		return r
	}, name)
	if name == "" || name == "." || name == "/" || name == ".." {
		return "attachment"
	}
	return name
}

// mediaType cleans an attachment's declared content type, or reports that
// it is not one (or is longer than Keel keeps). The API refuses such a
// file; a browser upload, whose type the browser guessed, is kept as
// application/octet-stream.
func mediaType(v string) (string, bool) {
	if v == "" {
		return "application/octet-stream", true
	}
	mt, params, err := mime.ParseMediaType(v)
	if err != nil || len(v) > 200 {
		return "", false
	}
	return mime.FormatMediaType(mt, params), true
}
