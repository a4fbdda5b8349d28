package console

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/keelhq/keel"
)

// FollowUpStore is what the follow-up handlers read and add: a customer's
// follow-up records and their attachments.
type FollowUpStore interface {
	AddFollowUp(ctx context.Context, by keel.Employee, f keel.FollowUp) (keel.FollowUp, error)
	FollowUps(ctx context.Context, customerID int64, p keel.Page) ([]keel.FollowUp, int, error)
	FollowUpsBetween(ctx context.Context, from, to time.Time, customerIDs []int64) ([]keel.FollowUp, error)
	Attachment(ctx context.Context, id int64) (keel.Attachment, error)
}

// followUpJSON is a follow-up record; its attachments are listed without
// their contents, which GET /attachments/{id} serves.
type followUpJSON struct {
	ID          int64            `json:"id"`
	CustomerID  int64            `json:"customer_id"`
	At          string           `json:"at"`
	AuthorID    int64            `json:"author_id"`
	Kind        string           `json:"kind"`
	Text        string           `json:"text"`
	Attachments []attachmentJSON `json:"attachments"`
	CreatedAt   string           `json:"created_at"`
}

type attachmentJSON struct {
	ID          int64  `json:"id"`
	Name        string `json:"name"`
	ContentType string `json:"content_type"`
	Size        int64  `json:"size"`
	URL         string `json:"url"`
}

func toFollowUpJSON(f keel.FollowUp) followUpJSON {
	out := followUpJSON{ID: f.ID, CustomerID: f.CustomerID, At: stamp(f.At), AuthorID: f.AuthorID, Kind: string(f.Kind),
		Text: f.Text, Attachments: make([]attachmentJSON, len(f.Attachments)), CreatedAt: stamp(f.CreatedAt)}
	for i, a := range f.Attachments {
		size := a.Size
		if size == 0 {
			size = int64(len(a.Data))
		}
		out.Attachments[i] = attachmentJSON{ID: a.ID, Name: a.Name, ContentType: a.ContentType, Size: size, URL: location("attachments", a.ID)}
	}
	return out
}

// followUpRequest is the body of POST /customers/{id}/followups. At is an
// RFC 3339 time or a day (its start in the reporting timezone), now when
// absent.
type followUpRequest struct {
	At          string            `json:"at"`
	Kind        string            `json:"kind"`
	Text        string            `json:"text"`
	Attachments []json.RawMessage `json:"attachments"`
}

// attachmentRequest is one file of a follow-up, its contents in base64.
type attachmentRequest struct {
	Name        string `json:"name"`
	ContentType string `json:"content_type"`
	Data        string `json:"data"`
}

func (req followUpRequest) followUp(customerID int64, now time.Time, cal keel.Calendar) (keel.FollowUp, error) {
	f := keel.FollowUp{CustomerID: customerID, Kind: keel.FollowUpKind(req.Kind), Text: req.Text, At: now.UTC()}
	if req.At != "" {
		at, err := parseTime(cal, "at", req.At)
		if err != nil {
			return f, err
		}
		f.At = at
	}
	for i, raw := range req.Attachments {
		field := fmt.Sprintf("attachments[%d]", i)
		var a attachmentRequest
		if err := decodeInto(raw, field+".", &a); err != nil {
			return f, err
		}
		ct, ok := mediaType(a.ContentType)
		if !ok {
			return f, keel.Invalid(field+".content_type", "%q is not a media type like application/pdf", a.ContentType)
		}
		data, err := base64.StdEncoding.DecodeString(a.Data)
		if err != nil {
			return f, keel.Invalid(field+".data", "not base64 (standard alphabet, with padding)")
		}
		f.Attachments = append(f.Attachments, keel.Attachment{Name: a.Name, ContentType: ct, Size: int64(len(data)), Data: data})
	}
	return f, nil
}

func (s *server) handleFollowUpCreate() http.HandlerFunc {
	return s.api(func(w http.ResponseWriter, r *http.Request) error {
		id, err := pathID(r, keel.CustomerNotFound)
		if err != nil {
			return err
		}
		var req followUpRequest
		if err := decodeBody(w, r, maxFollowUpBytes, false, &req); err != nil {
			return err
		}
		f, err := req.followUp(id, s.Now(), s.Calendar)
		if err != nil {
			return err
		}
		f, err = s.followUps.AddFollowUp(r.Context(), employeeFrom(r.Context()), f)
		if err != nil {
			return err
		}
		writeCreated(w, fmt.Sprintf("/api/v1/customers/%d/followups", id), toFollowUpJSON(f))
		return nil
	})
}

func (s *server) handleFollowUpList() http.HandlerFunc {
	return s.api(func(w http.ResponseWriter, r *http.Request) error {
		id, err := pathID(r, keel.CustomerNotFound)
		if err != nil {
			return err
		}
		q, err := queryParams(r, "limit", "offset")
		if err != nil {
			return err
		}
		p, err := queryPage(q)
		if err != nil {
			return err
		}
		rows, total, err := s.followUps.FollowUps(r.Context(), id, p)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, newList(rows, total, p, toFollowUpJSON))
		return nil
	})
}
