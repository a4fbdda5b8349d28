package ingest

// Response is the body of a 202 from POST /v1/events: the collector writes
// it and the client reads it, so it lives with the schema.
type Response struct {
	Accepted int         `json:"accepted"`
	Rejected []Rejection `json:"rejected"`
}

// Rejection says why one event of a batch was refused.
type Rejection struct {
	Index int    `json:"index"`
	ID    string `json:"id,omitempty"`
	Error string `json:"error"`
}
