# Strongroom. `make run` starts a dev server; `make test` runs every test.
GO       ?= go
VERSION  ?= 0.1.0-dev
LDFLAGS  := -X main.version=$(VERSION) -X main.buildDate=$(shell date -u +%Y-%m-%dT%H:%M:%SZ)
BIN      := bin/strongroom

.PHONY: build run test vet staticcheck fuzz bench clean

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/strongroom

# A dev server: temporary embedded store, initialised and unsealed, printing
# its address, unseal key and root token.
run: build
	./$(BIN) server -dev

# Every test, including the end-to-end tests that start the real binary and
# drive it with the Vault Go client.
test: vet
	$(GO) test -count=1 -timeout 15m ./...

# The FoundationDB backend's tests: storage/fdb's conformance run and the
# multi-node tests on FoundationDB, with the fdb build tag. Needs cgo, the
# FoundationDB client (libfdb_c and its headers, 7.3) and a test cluster
# named by FDB_CLUSTER_FILE; without FDB_CLUSTER_FILE those tests skip. The
# tests write under random prefixes and clear them.
.PHONY: test-fdb
test-fdb:
	$(GO) test -tags fdb -count=1 -timeout 30m ./storage/... ./cmd/...

vet:
	$(GO) vet ./...
	@test -z "$$(gofmt -l .)" || { echo "gofmt needed:"; gofmt -l .; exit 1; }

staticcheck:
	$(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...

# Short runs of every fuzz target (FUZZTIME each).
FUZZTIME ?= 10s
fuzz:
	@for pkg in $$($(GO) list ./...); do \
	  for t in $$($(GO) test -list '^Fuzz' $$pkg 2>/dev/null | grep '^Fuzz'); do \
	    echo "== $$pkg $$t"; $(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

clean:
	rm -rf bin

# The container image with the FoundationDB backend (deploy/container/Dockerfile).
# FDB_CLIENTS_SHA256, the sha256 of the FoundationDB client .deb, is required;
# FDB_VERSION overrides the Dockerfile's. See deploy/README.md.
IMAGE ?= strongroom:$(VERSION)
.PHONY: image
image:
	@test -n "$(FDB_CLIENTS_SHA256)" || { echo "set FDB_CLIENTS_SHA256 (see deploy/README.md)"; exit 1; }
	docker build -f deploy/container/Dockerfile \
	  --build-arg VERSION=$(VERSION) \
	  --build-arg BUILD_DATE=$(shell date -u +%Y-%m-%dT%H:%M:%SZ) \
	  --build-arg FDB_CLIENTS_SHA256=$(FDB_CLIENTS_SHA256) \
	  $(if $(FDB_VERSION),--build-arg FDB_VERSION=$(FDB_VERSION)) \
	  -t $(IMAGE) .
