package console

import "github.com/go-chi/chi/v5"

// adminPages registers the admin pages.
func (s *server) adminPages(r chi.Router) {}
