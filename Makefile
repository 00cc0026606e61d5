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
