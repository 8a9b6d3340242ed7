# Signet's build, run and test commands. `make test` is what CI runs (.ci/run).
SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := build
# The steps share two cores and one target/ directory: run them one after another, in the order listed.
.NOTPARALLEL:

ROOT := $(abspath $(dir $(lastword $(MAKEFILE_LIST))))

# cargo-leptos is built with `no_downloads`: it takes wasm-bindgen from ~/.cargo/bin and wasm-opt
# from the npm package binaryen (end2end/node_modules/.bin). Everything else in the environment
# (e.g. SIGNET_TEST_DATABASE_URL) passes through untouched.
export PATH := $(or $(CARGO_HOME),$(HOME)/.cargo)/bin:$(ROOT)/end2end/node_modules/.bin:$(PATH)
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD := 1

# Where the server binary finds the site that `cargo leptos build --release` wrote.
SITE_ENV := LEPTOS_SITE_ROOT=$(ROOT)/target/site LEPTOS_SITE_PKG_DIR=pkg LEPTOS_OUTPUT_NAME=signet LEPTOS_ENV=PROD

.PHONY: tools build run test e2e e2e-repeat compat fmt-check check-architecture clippy unit playwright sdk fuzz

## tools: install what the build and tests need (each step skipped when already there)
tools:
	bash scripts/ensure-tools.sh

## build: release server binary (target/release/signet) and site (target/site); every file of the
## site gets a brotli (.br) and a gzip (.gz) copy beside it, which the server sends to a browser
## that accepts them: the hydrate WASM crosses the network at a quarter of its size. `--split`
## cuts the WASM where the app says `#[lazy]` (the pages other than Signing Keys, the dialogs) into
## files of their own, fetched when needed; a WASM built without it cannot load those parts
build: tools
	cargo leptos build --release --precompress --split

## run: build, then serve from the repo root (data in ./data, http://127.0.0.1:3000 by default)
run: build
	$(SITE_ENV) target/release/signet serve

## test: format, layering, lints, unit and integration tests, release build, end-to-end suite, Auth0 SDK suite
test: tools fmt-check check-architecture clippy unit build playwright sdk

## e2e: release build, then the end-to-end suite only
e2e: tools build playwright

fmt-check:
	cargo fmt --all -- --check

# Layers only import downwards; no source file over 500 lines of non-test code (docs/architecture.md).
check-architecture:
	bash scripts/check-architecture.sh

clippy:
	cargo clippy -p server -p app --all-targets -- -D warnings
	cargo clippy -p frontend --target wasm32-unknown-unknown -- -D warnings

# The PostgreSQL variants are #[ignore]d (shown as skipped) unless SIGNET_TEST_DATABASE_URL is set.
unit:
	if [[ -n "$${SIGNET_TEST_DATABASE_URL:-}" ]]; then \
	  cargo test -p server -p app -- --include-ignored; \
	else \
	  cargo test -p server -p app; \
	fi

## e2e-repeat: the end-to-end suite RUNS times in a row (default 10) against the existing release
## build, stopping at the first failure: how a flaky story is caught before CI catches it by chance
RUNS ?= 10
e2e-repeat:
	cd end2end && for run in $$(seq $(RUNS)); do \
	  echo "e2e run $$run of $(RUNS)"; \
	  npx playwright test --reporter=dot || { echo "e2e run $$run of $(RUNS) failed"; exit 1; }; \
	done

## compat: release build, then the Auth0 Python SDK compatibility suite only
compat: tools build sdk

# Runs against the existing release build; `make e2e` or `make test` build it first.
playwright:
	cd end2end && npx playwright test

# The Auth0 SDK suite against the existing release build (makes compat/.venv when missing).
sdk:
	bash compat/run.sh

## fuzz: run each cargo-fuzz target for FUZZ_SECONDS (nightly toolchain; not part of `make test`)
# New inputs go to fuzz/corpus/<target> (ignored by git); fuzz/seeds/<target> are read-only
# starting points. A crash stops the run and leaves its input in fuzz/artifacts/<target>.
FUZZ_SECONDS ?= 60
FUZZ_TARGETS := bearer_token kid_path config
fuzz:
	command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
	for target in $(FUZZ_TARGETS); do \
	  mkdir -p $(ROOT)/fuzz/corpus/$$target; \
	  cargo +nightly fuzz run $$target $(ROOT)/fuzz/corpus/$$target $(ROOT)/fuzz/seeds/$$target -- \
	    -max_total_time=$(FUZZ_SECONDS) -dict=$(ROOT)/fuzz/dictionaries/$$target.dict -print_final_stats=1; \
	done
