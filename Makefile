# Lotus build. `make` = release build of build/lotus-dashboard and build/lotus-agent.
# See README.md for the targets; flavours build into separate directories:
#   release: build/        sanitizers (SANITIZE=address,undefined): build/asan/

SHELL     := /bin/bash
CC        ?= cc
PREFIX    ?= /usr/local
SANITIZE  ?=
WERROR    ?=
V         ?=
ifeq ($(V),)
Q := @
else
Q :=
endif

ifeq ($(SANITIZE),)
OUT       := build
OPT       := -O2 -g -D_FORTIFY_SOURCE=2
else
OUT       := build/asan
OPT       := -O1 -g -fsanitize=$(SANITIZE) -fno-sanitize-recover=all -fno-omit-frame-pointer
SANLD     := -fsanitize=$(SANITIZE)
endif

WARN := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wold-style-definition \
        -Wpointer-arith -Wvla -Wwrite-strings -Wformat=2 -Wundef -Wimplicit-fallthrough \
        -Wnull-dereference -Wno-unused-parameter
ifneq ($(WERROR),)
WARN += -Werror
endif

DASH_PKGS  := libuv libnghttp2 libprotobuf-c openssl sqlite3 jansson libsodium yaml-0.1 libmaxminddb zlib \
              libcurl snappy
AGENT_PKGS := libuv libnghttp2 libprotobuf-c openssl yaml-0.1

CFLAGS_BASE := -std=c11 -D_GNU_SOURCE -fPIE -fstack-protector-strong $(OPT) $(WARN) \
               -Isrc -I$(OUT)/gen
DASH_CFLAGS  = $(CFLAGS_BASE) $(shell pkg-config --cflags $(DASH_PKGS) 2>/dev/null)
DASH_LIBS    = $(shell pkg-config --libs $(DASH_PKGS) 2>/dev/null) -lhttp_parser -lwslay -lpthread -lm
AGENT_LIBS   = $(shell pkg-config --libs $(AGENT_PKGS) 2>/dev/null) -lpthread -lm
LDFLAGS_BASE := -pie -Wl,-z,relro,-z,now $(SANLD)

# The agent, core and proto modules compile with the agent's libraries only. The dashboard's
# libraries have no pkg-config include path on Debian (they sit in /usr/include), so leaving
# their flags out would not stop an accidental `#include <sqlite3.h>`: POISON holds one header
# per dashboard-only library that fails the build with a clear #error, searched before the system.
POISON      := $(OUT)/poison
POISON_HDRS := sqlite3.h sodium.h jansson.h maxminddb.h http_parser.h wslay/wslay.h zlib.h \
               curl/curl.h snappy-c.h
AGENT_CFLAGS = $(CFLAGS_BASE) -I$(POISON) $(shell pkg-config --cflags $(AGENT_PKGS) 2>/dev/null)
# Flags by source folder: the dashboard, its tests and the generated web assets get DASH_CFLAGS.
cflags_for = $(if $(filter src/agent/% src/core/% src/proto/% $(OUT)/gen/%,$(1)),$(AGENT_CFLAGS),$(DASH_CFLAGS))

# Every .c under a module folder, subfolders included (src/dashboard/api/, src/dashboard/store/...).
srcs_in    = $(sort $(shell find $(1) -name '*.c' 2>/dev/null))
CORE_SRC  := $(call srcs_in,src/core)
PROTO_SRC := $(call srcs_in,src/proto)
DASH_SRC  := $(filter-out src/dashboard/main.c,$(call srcs_in,src/dashboard))
AGENT_SRC := $(filter-out src/agent/main.c,$(call srcs_in,src/agent))
UNIT_SRC  := $(wildcard tests/unit/test_*.c)

GEN_C     := $(OUT)/gen/nezha_v0.pb-c.c
GEN_H     := $(OUT)/gen/nezha_v0.pb-c.h
# The Prometheus remote-write messages belong to the dashboard only (src/dashboard/promrw).
PRW_GEN_C := $(OUT)/gen/prometheus_remote.pb-c.c
PRW_GEN_H := $(OUT)/gen/prometheus_remote.pb-c.h

# Web UI: npm packages pinned in web/package-lock.json, bundled by web/build.mjs into build/web
# (one copy for all flavours), embedded by scripts/embed-assets as a C table linked into libdash.
WEB_OUT   := build/web
WEB_SRC   := web/build.mjs web/index.html $(wildcard web/src/*) scripts/install-agent.sh
WEB_GEN_C := $(OUT)/gen/webassets_data.c
WEB_OBJ   := $(OUT)/obj/gen/webassets_data.o

obj = $(patsubst %.c,$(OUT)/obj/%.o,$(1))
CORE_OBJ  := $(call obj,$(CORE_SRC))
PROTO_OBJ := $(call obj,$(PROTO_SRC)) $(OUT)/obj/gen/nezha_v0.pb-c.o
DASH_OBJ  := $(call obj,$(DASH_SRC)) $(WEB_OBJ) $(OUT)/obj/gen/prometheus_remote.pb-c.o
AGENT_OBJ := $(call obj,$(AGENT_SRC))
UNIT_BIN  := $(patsubst tests/unit/%.c,$(OUT)/tests/%,$(UNIT_SRC))

DASHBOARD := $(OUT)/lotus-dashboard
AGENT     := $(OUT)/lotus-agent

.PHONY: all deps dev run test unit-tests check mutants install uninstall clean static-agent bench bench-tools fuzz \
        fuzz-bins
.DEFAULT_GOAL := all

all: deps $(DASHBOARD) $(AGENT)

deps:
	@bash scripts/deps.sh

dev:
	$(MAKE) WERROR=1 all

$(GEN_C) $(GEN_H): proto/nezha_v0.proto
	@mkdir -p $(OUT)/gen
	@echo "  PROTOC  $<"
	$(Q)protoc-c --c_out=$(OUT)/gen --proto_path=proto $<

$(OUT)/obj/gen/nezha_v0.pb-c.o: $(GEN_C) $(POISON)/.stamp
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)$(CC) $(AGENT_CFLAGS) -Wno-missing-prototypes -MMD -MP -c $< -o $@

$(PRW_GEN_C) $(PRW_GEN_H): proto/prometheus_remote.proto
	@mkdir -p $(OUT)/gen
	@echo "  PROTOC  $<"
	$(Q)protoc-c --c_out=$(OUT)/gen --proto_path=proto $<

$(OUT)/obj/gen/prometheus_remote.pb-c.o: $(PRW_GEN_C)
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)$(CC) $(DASH_CFLAGS) -Wno-missing-prototypes -MMD -MP -c $< -o $@

$(POISON)/.stamp: Makefile
	$(Q)rm -rf $(POISON); for h in $(POISON_HDRS); do mkdir -p $(POISON)/$$(dirname $$h); \
	  printf '#error "<%s> belongs to the dashboard: agent, core and proto code must not include it (see POISON in the Makefile)"\n' $$h > $(POISON)/$$h; done; touch $@

web/node_modules/.package-lock.json: web/package-lock.json
	@echo "  NPM     web/ (npm ci)"
	$(Q)cd web && npm ci --no-audit --no-fund
	$(Q)touch $@

$(WEB_OUT)/index.html: web/node_modules/.package-lock.json $(WEB_SRC)
	@echo "  WEB     $(WEB_OUT)"
	$(Q)node web/build.mjs $(WEB_OUT)

$(WEB_GEN_C): $(WEB_OUT)/index.html scripts/embed-assets
	@echo "  EMBED   $@"
	$(Q)python3 scripts/embed-assets $(WEB_OUT) $@

$(WEB_OBJ): $(WEB_GEN_C)
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)$(CC) $(CFLAGS_BASE) -c $< -o $@

$(OUT)/obj/%.o: %.c $(GEN_H) $(PRW_GEN_H) $(POISON)/.stamp
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)$(CC) $(call cflags_for,$<) -MMD -MP -c $< -o $@

# An archive may be empty while a module has no files yet.
mkar = @mkdir -p $(dir $@); rm -f $@; if [ -n "$^" ]; then ar rcs $@ $^; else printf '!<arch>\n' > $@; fi
$(OUT)/libcore.a: $(CORE_OBJ)
	$(mkar)
$(OUT)/libproto.a: $(PROTO_OBJ)
	$(mkar)
$(OUT)/libdash.a: $(DASH_OBJ)
	$(mkar)
$(OUT)/libagent.a: $(AGENT_OBJ)
	$(mkar)

$(DASHBOARD): $(OUT)/obj/src/dashboard/main.o $(OUT)/libdash.a $(OUT)/libproto.a $(OUT)/libcore.a
	@echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS_BASE) -o $@ $^ $(DASH_LIBS)

$(AGENT): $(OUT)/obj/src/agent/main.o $(OUT)/libagent.a $(OUT)/libproto.a $(OUT)/libcore.a
	@echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS_BASE) -o $@ $^ $(AGENT_LIBS)

$(OUT)/tests/%: tests/unit/%.c $(OUT)/libdash.a $(OUT)/libagent.a $(OUT)/libproto.a $(OUT)/libcore.a
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	$(Q)$(CC) $(DASH_CFLAGS) -Itests/unit $(LDFLAGS_BASE) -o $@ $< $(OUT)/libdash.a $(OUT)/libagent.a \
	    $(OUT)/libproto.a $(OUT)/libcore.a $(DASH_LIBS) -lcmocka

# A static lotus-agent (no shared libraries at all: for routers and old distributions).
# Non-PIE on purpose: a static PIE applies relocations to every data page at start-up.
# glibc's getaddrinfo in a static binary still loads NSS modules for /etc/nsswitch.conf
# lookups; numeric addresses and /etc/hosts work without them.
STATIC_LIBDIR := $(shell pkg-config --variable=libdir libuv 2>/dev/null)
STATIC_LIBS := $(STATIC_LIBDIR)/libuv_a.a $(STATIC_LIBDIR)/libnghttp2.a \
               $(STATIC_LIBDIR)/libprotobuf-c.a $(STATIC_LIBDIR)/libyaml.a \
               $(STATIC_LIBDIR)/libssl.a $(STATIC_LIBDIR)/libcrypto.a
static-agent: $(OUT)/lotus-agent-static
$(OUT)/lotus-agent-static: $(OUT)/obj/src/agent/main.o $(OUT)/libagent.a $(OUT)/libproto.a $(OUT)/libcore.a
	@echo "  LD      $@ (static)"
	$(Q)$(CC) -static -no-pie -Wl,--gc-sections -o $@ $^ $(STATIC_LIBS) -lpthread -ldl -lm \
	    2>&1 | { grep -v "statically linked applications requires at runtime\|in function" || true; }
	$(Q)strip $@

unit-tests: $(UNIT_BIN)

# Bench tools (bench/*.c), linked against the proto and core modules only. Not part of `all`:
# `make bench` builds them, and the bench scripts build them on demand.
BENCH_BIN := $(OUT)/bench/ingest
$(OUT)/bench/%: bench/%.c $(GEN_H) $(OUT)/libproto.a $(OUT)/libcore.a
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	$(Q)$(CC) $(CFLAGS_BASE) $(shell pkg-config --cflags $(AGENT_PKGS)) $(LDFLAGS_BASE) -o $@ $< \
	    $(OUT)/libproto.a $(OUT)/libcore.a $(AGENT_LIBS)

# Bench tools that measure the dashboard's own code (its store, /metrics, remote-write) link the
# dashboard's libraries too.
DASH_BENCH := $(OUT)/bench/monitor_storage $(OUT)/bench/prom_bench $(OUT)/bench/promrw_bench
$(DASH_BENCH): $(OUT)/bench/%: bench/%.c $(OUT)/libdash.a $(OUT)/libagent.a $(OUT)/libproto.a \
                               $(OUT)/libcore.a
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	$(Q)$(CC) $(DASH_CFLAGS) $(LDFLAGS_BASE) -o $@ $< $(OUT)/libdash.a $(OUT)/libagent.a \
	    $(OUT)/libproto.a $(OUT)/libcore.a $(DASH_LIBS)

bench-tools: $(BENCH_BIN) $(DASH_BENCH)

# make bench: the benchmarks of docs/benchmarks.md, full length (about 20 minutes; each script
# takes --quick). Not part of `make test`, which runs a smoke version of each
# (tests/integration/90-bench-smoke.sh).
bench: all bench-tools
	bash bench/agent-footprint.sh $(OUT)
	bash bench/ingest.sh $(OUT)
	bash bench/storage.sh $(OUT)
	bash bench/grpc-unary.sh $(OUT)
	bash bench/api.sh $(OUT)
	bash bench/ws-fanout.sh $(OUT)
	bash bench/https-idle.sh $(OUT)
	bash bench/monitor-storage.sh $(OUT)
	bash bench/remote-write.sh $(OUT)

# make run: build, then start a dashboard on ./data plus a local agent reporting to it.
run: all
	@bash scripts/run-local.sh $(OUT)

# make test: everything CI runs. Release and ASan+UBSan builds, unit and integration tests,
# ending with one line "N passed, N failed, N skipped". Strict skips: a skip of anything
# scripts/deps.sh installs counts as a failure (scripts/run-tests.sh, marker [outside-deps]).
test: deps
	$(MAKE) WERROR=1 all unit-tests
	$(MAKE) WERROR=1 SANITIZE=address,undefined all unit-tests
	LOTUS_STRICT_SKIPS=1 bash scripts/run-tests.sh build build/asan

check:
	bash scripts/check-src

# make mutants: the mutation check of docs/testing.md (tests/mutants.ini). Not part of `make test`
# (it rebuilds once per mutant); run it before resolving an issue that touches a guarded module.
MUTANTS_MIN ?= 90
mutants: deps
	$(MAKE) WERROR=1 all unit-tests
	python3 scripts/mutants --min $(MUTANTS_MIN) $(if $(MUTANTS),--only $(MUTANTS))

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/systemd/system
	install -m 0755 $(DASHBOARD) $(AGENT) $(DESTDIR)$(PREFIX)/bin/
	sed 's#@PREFIX@#$(PREFIX)#g' scripts/lotus-dashboard.service > \
	    $(DESTDIR)$(PREFIX)/lib/systemd/system/lotus-dashboard.service
	sed 's#@PREFIX@#$(PREFIX)#g' scripts/lotus-agent.service > \
	    $(DESTDIR)$(PREFIX)/lib/systemd/system/lotus-agent.service

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/lotus-dashboard $(DESTDIR)$(PREFIX)/bin/lotus-agent \
	    $(DESTDIR)$(PREFIX)/lib/systemd/system/lotus-dashboard.service \
	    $(DESTDIR)$(PREFIX)/lib/systemd/system/lotus-agent.service

clean:
	rm -rf build

# ---- fuzzing: fuzz/fuzz_<name>.c drivers, seeds in fuzz/corpus/<name>/ (STYLE rule 45) ----
# Every driver links against the module archives, so a new driver needs no Makefile change.
# Corpus replayers (driver + fuzz/replay_main.c, gcc, this flavour) are built with the unit tests
# and run by tests/integration/80-fuzz-replay.sh. `make fuzz` builds libFuzzer binaries with clang
# into build/fuzz/ and runs each for FUZZ_SECONDS on a copy of its corpus (fuzz/run.sh).
FUZZ_NAMES   := $(patsubst fuzz/fuzz_%.c,%,$(wildcard fuzz/fuzz_*.c))
FUZZ_ARCHIVES = $(OUT)/libdash.a $(OUT)/libagent.a $(OUT)/libproto.a $(OUT)/libcore.a
FUZZ_SECONDS ?= 60
FUZZ_OPT     := -O1 -g -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all \
                -fno-omit-frame-pointer

$(OUT)/replay/fuzz_%: fuzz/fuzz_%.c fuzz/replay_main.c $(FUZZ_ARCHIVES)
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	$(Q)$(CC) $(DASH_CFLAGS) $(LDFLAGS_BASE) -o $@ $< fuzz/replay_main.c $(FUZZ_ARCHIVES) $(DASH_LIBS)

unit-tests: $(patsubst %,$(OUT)/replay/fuzz_%,$(FUZZ_NAMES))

# Only meaningful inside the clang sub-make started by `fuzz` (OUT=build/fuzz).
$(OUT)/fuzz_%: fuzz/fuzz_%.c $(FUZZ_ARCHIVES)
	@echo "  LD      $@"
	$(Q)$(CC) $(DASH_CFLAGS) -fsanitize=fuzzer,address,undefined -o $@ $< $(FUZZ_ARCHIVES) $(DASH_LIBS)

fuzz-bins: $(patsubst %,$(OUT)/fuzz_%,$(FUZZ_NAMES))

fuzz:
	$(MAKE) CC=clang OUT=build/fuzz OPT="$(FUZZ_OPT)" SANLD= fuzz-bins
	bash fuzz/run.sh build/fuzz $(FUZZ_SECONDS) $(FUZZ_NAMES)

-include $(shell find $(OUT)/obj -name '*.d' 2>/dev/null)
