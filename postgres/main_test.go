package postgres

import (
	"testing"

	"github.com/keelhq/keel/devstack/teststack"
)

func TestMain(m *testing.M) { teststack.Main(m) }
