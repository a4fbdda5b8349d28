# Keel's two commands: `make run` and `make test`. Both install what is
# missing (Debian packages with apt-get, Go modules, chDB in a virtualenv;
# the Kafka and ZooKeeper jars are fetched from Maven Central by the tests
# that need them).

GO      ?= go
SUDO    := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
VENV    := .keel/venv
TIMEOUT ?= 80m

.PHONY: run test build deps-run deps-test vet clean

## run: build keel and start everything on this machine (keel dev)
run: deps-run build
	./keel dev

## test: every test, against real Postgres, ClickHouse and Kafka
test: deps-test vet
	@# Everything against a real Apache Kafka broker, the crash tests of
	@# cmd/keel included (KEEL_TEST_NO_SKIP: a test that would skip fails) …
	KEEL_TEST_KAFKA=apache KEEL_TEST_NO_SKIP=1 KEEL_PYTHON=$(CURDIR)/$(VENV)/bin/python KEEL_ARTIFACTS=$(CURDIR)/.keel/artifacts \
		$(GO) test -count=1 -p 1 -timeout $(TIMEOUT) ./...
	@# … and the collector, loader and outbox suites again against kfake,
	@# the in-process broker `make run` uses.
	KEEL_TEST_KAFKA=kfake $(GO) test -count=1 -p 1 -timeout 20m ./warehouse/ ./ingest/... ./postgres/

build:
	$(GO) build -o keel ./cmd/keel

vet:
	$(GO) vet ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))" || { echo "gofmt needed:"; gofmt -l .; exit 1; }

# Debian packages keel dev needs: PostgreSQL and ClickHouse servers.
deps-run:
	@command -v $(GO) >/dev/null || { echo "Go 1.26 or newer is needed (https://go.dev/dl/)"; exit 1; }
	@missing=""; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$$missing postgresql"; \
	[ -x /usr/sbin/clickhouse-server ] || command -v clickhouse-server >/dev/null || missing="$$missing clickhouse-server"; \
	command -v clickhouse-client >/dev/null || missing="$$missing clickhouse-client"; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		$(SUDO) apt-get update -q && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q $$missing; \
	fi
	$(GO) mod download

# Plus what the tests need: Java and Maven for a real Kafka broker, chDB (a
# current ClickHouse, in-process) to check every statement on it, and
# Chromium and a Chinese font for the console's browser tests (screenshots
# land in .keel/artifacts/screenshots).
deps-test: deps-run
	@missing=""; \
	command -v java >/dev/null || missing="$$missing default-jre-headless"; \
	command -v mvn >/dev/null || missing="$$missing maven"; \
	command -v python3 >/dev/null || missing="$$missing python3"; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	[ -e /usr/share/fonts/truetype/wqy/wqy-microhei.ttc ] || missing="$$missing fonts-wqy-microhei"; \
	python3 -c 'import ensurepip' 2>/dev/null || missing="$$missing python3-venv"; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		$(SUDO) apt-get update -q && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q $$missing; \
	fi
	@[ -x $(VENV)/bin/python ] || python3 -m venv $(VENV)
	@$(VENV)/bin/python -c 'import chdb' 2>/dev/null || $(VENV)/bin/pip install -q chdb

clean:
	rm -rf keel .keel
