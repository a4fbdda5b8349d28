package console

import (
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/keelhq/keel"
)

// followUpForm is the add-a-follow-up form, as typed.
type followUpForm struct {
	Kind, At, Text string
	Zone           string // the timezone At is typed in
	Error          string
	Kinds          []option
}

// custLocalMinute is the format of an <input type="datetime-local">.
const custLocalMinute = "2006-01-02T15:04"

// followUpOfForm reads the posted follow-up: at is a datetime-local in the
// reporting timezone (or a day, or an RFC 3339 time, as the API takes);
// the files of "attachment" become its attachments.
func followUpOfForm(r *http.Request, customerID int64, now time.Time, cal keel.Calendar) (keel.FollowUp, followUpForm, error) {
	ff := followUpForm{Kind: r.PostFormValue("kind"), At: strings.TrimSpace(r.PostFormValue("at")), Text: r.PostFormValue("text")}
	f := keel.FollowUp{CustomerID: customerID, Kind: keel.FollowUpKind(ff.Kind), Text: ff.Text, At: now.UTC()}
	if ff.At != "" {
		if t, err := time.ParseInLocation(custLocalMinute, ff.At, cal.Location()); err == nil {
			if err := keel.InYears("at", t); err != nil {
				return f, ff, err
			}
			f.At = t.UTC()
		} else if f.At, err = parseTime(cal, "at", ff.At); err != nil {
			return f, ff, err
		}
	}
	var files []*multipart.FileHeader
	if r.MultipartForm != nil {
		for _, fh := range r.MultipartForm.File["attachment"] {
			if fh.Filename == "" && fh.Size == 0 { // the file input left empty
				continue
			}
			files = append(files, fh)
		}
	}
	for i, fh := range files {
		a, err := custAttachmentOf(fmt.Sprintf("attachments[%d]", i), fh)
		if err != nil {
			return f, ff, err
		}
		f.Attachments = append(f.Attachments, a)
	}
	return f, ff, f.Validate(now)
}

// custAttachmentOf reads one uploaded file. Its type is the one the browser
// sent when that is a media type, else application/octet-stream; its
// name is the file's base name (some browsers send the whole path).
func custAttachmentOf(field string, fh *multipart.FileHeader) (keel.Attachment, error) {
	name := path.Base(strings.ReplaceAll(fh.Filename, `\`, "/"))
	if name == "." || name == "/" {
		name = ""
	}
	ct, ok := mediaType(fh.Header.Get("Content-Type"))
	if !ok {
		ct = "application/octet-stream"
	}
	if fh.Size > keel.MaxAttachmentBytes {
		return keel.Attachment{}, keel.FieldErrorf(keel.ETOOLARGE, field, "%s is over %d MiB", name, keel.MaxAttachmentBytes>>20)
	}
	file, err := fh.Open()
	if err != nil {
		return keel.Attachment{}, fmt.Errorf("open upload %s: %w", field, err)
	}
	defer file.Close()
	data, err := io.ReadAll(io.LimitReader(file, keel.MaxAttachmentBytes+1))
	if err != nil {
		return keel.Attachment{}, fmt.Errorf("read upload %s: %w", field, err)
	}
	return keel.Attachment{Name: name, ContentType: ct, Size: int64(len(data)), Data: data}, nil
}

func (s *server) handleFollowUpAddPage() http.HandlerFunc {
	return s.page(func(w http.ResponseWriter, r *http.Request) error {
		l := s.langOf(r)
		id, err := pathID(r, keel.CustomerNotFound)
		if err != nil {
			return err
		}
		f, ff, err := followUpOfForm(r, id, s.Now(), s.Calendar)
		if err == nil {
			_, err = s.followUps.AddFollowUp(r.Context(), employeeFrom(r.Context()), f)
		}
		if formRefused(err) {
			ff.Error = l.Refusal(err)
			return s.render360(w, r, id, statusOf(keel.ErrorCode(err)), &ff)
		}
		if err != nil {
			return err
		}
		s.redirect(w, r, "/customers/"+strconv.FormatInt(id, 10)+"#followups", l.T("Follow-up added."))
		return nil
	})
}
