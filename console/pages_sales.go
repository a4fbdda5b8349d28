package console

import "github.com/go-chi/chi/v5"

// salesPages registers the sales pages.
func (s *server) salesPages(r chi.Router) {}
