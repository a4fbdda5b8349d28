package console

import "github.com/go-chi/chi/v5"

// customerPages registers the customers pages.
func (s *server) customerPages(r chi.Router) {}
