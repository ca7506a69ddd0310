# trawl: one non-recursive Makefile for the library, daemon, client, tests and benchmarks.
# `make help` lists the targets.

BUILD ?= build
PREFIX ?= /usr/local
DESTDIR ?=
CC ?= cc

ifeq ($(SAN),1)
BUILD := $(BUILD)-san
SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
endif

# CRoaring 0.2.66 on Debian 12 ships no pkg-config file: fall back to plain -lroaring.
PKGS := libutf8proc liburing jansson
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null || echo -lutf8proc -luring -ljansson)
ROARING_LIBS := $(shell pkg-config --libs roaring 2>/dev/null || echo -lroaring)
CMOCKA_LIBS := $(shell pkg-config --libs cmocka 2>/dev/null || echo -lcmocka)

WARNINGS := -Wall -Wextra -Wpedantic -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
	-Werror=vla -Wformat=2 -Wundef
OPT ?= -O2
CFLAGS ?= $(OPT) -g
ALL_CFLAGS := -std=c17 -D_GNU_SOURCE $(WARNINGS) $(CFLAGS) $(SANFLAGS) $(PKG_CFLAGS) \
	-Iindex -Idaemon -Iclient -MMD -MP -pthread
ALL_LDFLAGS := $(LDFLAGS) $(SANFLAGS) -pthread
LIBS := $(PKG_LIBS) $(ROARING_LIBS) -lm

INDEX_SRC := $(wildcard index/*.c)
INDEX_OBJ := $(INDEX_SRC:%.c=$(BUILD)/%.o)
INDEX_LIB := $(BUILD)/libtrawlindex.a

# Each program is its main.c plus a library of its other files, which tests link too.
CLIENT_SRC := $(wildcard client/*.c)
CLIENT_OBJ := $(CLIENT_SRC:%.c=$(BUILD)/%.o)
CLIENT_LIB := $(BUILD)/libtrawlclient.a
TRAWL := $(BUILD)/trawl

DAEMON_SRC := $(wildcard daemon/*.c)
DAEMON_OBJ := $(DAEMON_SRC:%.c=$(BUILD)/%.o)
DAEMON_LIB := $(BUILD)/libtrawld.a
TRAWLD := $(BUILD)/trawld

TEST_SRC := $(wildcard tests/test_*.c)
TEST_BIN := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
# Script tests drive the built programs; they find them through $TRAWL_BUILD.
TEST_SCRIPTS := $(wildcard tests/*.sh tests/*.py)

BENCH_SRC := $(wildcard bench/*.c)
BENCH_BIN := $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)

PROGRAMS := $(TRAWL) $(if $(wildcard daemon/main.c),$(TRAWLD))

.SECONDARY:
.PHONY: all help deps test test-c fuzz bench bench-rank bench-index bench-fresh bench-soak bench-walk bench-picker run install uninstall clean fmt lint

all: $(PROGRAMS)

help:
	@echo 'make            build trawl into $(BUILD)/'
	@echo 'make run        install missing packages, build, run a sample query'
	@echo 'make test       install missing packages, build with ASan+UBSan, run every test'
	@echo 'make bench      run the benchmarks (see bench/README.md), results in bench/RESULTS.md'
	@echo 'make SAN=1      build with ASan+UBSan into $(BUILD)-san/'
	@echo 'make install    install into $$(DESTDIR)$$(PREFIX) (default /usr/local)'
	@echo 'make fmt|lint   clang-format the tree | clang-tidy and format check'

deps:
	@scripts/deps.sh build

$(BUILD)/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(INDEX_LIB): $(INDEX_OBJ)
	@rm -f $@
	$(AR) rcs $@ $^

$(CLIENT_LIB): $(filter-out %/main.o,$(CLIENT_OBJ))
	@rm -f $@
	$(AR) rcs $@ $^

$(DAEMON_LIB): $(filter-out %/main.o,$(DAEMON_OBJ))
	@rm -f $@
	$(AR) rcs $@ $^

$(TRAWL): $(BUILD)/client/main.o $(CLIENT_LIB) $(INDEX_LIB)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS)

$(TRAWLD): $(BUILD)/daemon/main.o $(DAEMON_LIB) $(INDEX_LIB)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS)

$(BUILD)/tests/%: $(BUILD)/tests/%.o $(DAEMON_LIB) $(CLIENT_LIB) $(INDEX_LIB)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS) $(CMOCKA_LIBS)

$(BUILD)/bench/%: $(BUILD)/bench/%.o $(DAEMON_LIB) $(INDEX_LIB)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS)

# The C tests run under ASan+UBSan: `make test` re-enters make with SAN=1, then runs
# each fuzz target briefly.
test:
	@scripts/deps.sh test
	$(MAKE) --no-print-directory SAN=1 test-c
	$(MAKE) --no-print-directory fuzz FUZZ_SECONDS=$(TEST_FUZZ_SECONDS)

# Fuzz targets (tests/fuzz/) are built with clang's libFuzzer, ASan and UBSan into their
# own folder; `make fuzz` runs each for FUZZ_SECONDS.
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 300
TEST_FUZZ_SECONDS ?= 10
FUZZ_CC ?= clang
FUZZ_CFLAGS := -std=c17 -D_GNU_SOURCE -g -O1 -fno-omit-frame-pointer \
	-fsanitize=fuzzer-no-link,address,undefined -DFUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION \
	$(PKG_CFLAGS) -Iindex -Idaemon -MMD -MP -pthread
FUZZ_LIB_OBJ := $(INDEX_SRC:%.c=$(FUZZ_BUILD)/%.o) $(FUZZ_BUILD)/daemon/protocol.o
FUZZ_TARGETS := $(patsubst tests/fuzz/%.c,$(FUZZ_BUILD)/%,$(wildcard tests/fuzz/fuzz_*.c))

$(FUZZ_BUILD)/%.o: %.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -c -o $@ $<

$(FUZZ_BUILD)/fuzz_%: $(FUZZ_BUILD)/tests/fuzz/fuzz_%.o $(FUZZ_LIB_OBJ)
	$(FUZZ_CC) -fsanitize=fuzzer,address,undefined -pthread -o $@ $^ $(LIBS)

fuzz: $(FUZZ_TARGETS) $(TRAWLD)
	@tests/fuzz/run.sh $(FUZZ_BUILD) $(FUZZ_SECONDS) $(TRAWLD)

test-c: $(TEST_BIN) $(PROGRAMS)
	@TRAWL_BUILD=$(BUILD) scripts/run-tests.sh $(TEST_BIN) $(TEST_SCRIPTS)

# The benchmarks run on an optimised build without sanitizers; bench/README.md says
# what each measures. RANK_ARGS and INDEX_ARGS pass options through (e.g. --seed 1).
bench: bench-index bench-rank bench-fresh bench-walk

bench-rank: $(TRAWL) $(BENCH_BIN)
	@scripts/deps.sh bench
	bench/rank.sh $(BUILD) $(RANK_ARGS)

bench-index: $(BENCH_BIN)
	@scripts/deps.sh bench
	bench/index.sh $(BUILD) $(INDEX_ARGS)

bench-fresh: $(PROGRAMS)
	@scripts/deps.sh bench
	bench/fresh.py $(BUILD) $(FRESH_ARGS)

bench-picker: $(PROGRAMS)
	@scripts/deps.sh bench
	bench/picker_latency.py --build $(BUILD) $(PICKER_ARGS)

bench-walk: $(PROGRAMS)
	@scripts/deps.sh bench
	bench/walk.py $(BUILD) $(WALK_ARGS)

# Ten minutes by default, so not part of `make bench`.
bench-soak: $(PROGRAMS)
	@scripts/deps.sh bench
	bench/soak.py $(BUILD) $(SOAK_ARGS)

run: deps
	$(MAKE) --no-print-directory all
	@scripts/run.sh $(BUILD)

BINDIR := $(PREFIX)/bin
MANDIR := $(PREFIX)/share/man/man1
UNITDIR := $(PREFIX)/lib/systemd/user
SYSUNITDIR := $(PREFIX)/lib/systemd/system
LISPDIR := $(PREFIX)/share/emacs/site-lisp

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR) $(DESTDIR)$(UNITDIR)
	install -m 755 $(TRAWL) $(DESTDIR)$(BINDIR)/trawl
	install -m 755 $(TRAWLD) $(DESTDIR)$(BINDIR)/trawld
	install -m 644 $(wildcard docs/*.1) $(DESTDIR)$(MANDIR)/
	sed 's|@BINDIR@|$(BINDIR)|g' daemon/systemd/trawld.service > $(DESTDIR)$(UNITDIR)/trawld.service
	install -m 644 daemon/systemd/trawld.socket $(DESTDIR)$(UNITDIR)/trawld.socket
	install -d $(DESTDIR)$(SYSUNITDIR)
	sed 's|@BINDIR@|$(BINDIR)|g' daemon/systemd/trawld-system.service > $(DESTDIR)$(SYSUNITDIR)/trawld-system.service
	install -m 644 daemon/systemd/trawld-system.socket $(DESTDIR)$(SYSUNITDIR)/trawld-system.socket
	$(if $(wildcard emacs/trawl.el),install -d $(DESTDIR)$(LISPDIR) && install -m 644 emacs/trawl.el $(DESTDIR)$(LISPDIR)/trawl.el)

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/trawl $(DESTDIR)$(BINDIR)/trawld
	rm -f $(addprefix $(DESTDIR)$(MANDIR)/,$(notdir $(wildcard docs/*.1)))
	rm -f $(DESTDIR)$(UNITDIR)/trawld.service $(DESTDIR)$(UNITDIR)/trawld.socket
	rm -f $(DESTDIR)$(SYSUNITDIR)/trawld-system.service $(DESTDIR)$(SYSUNITDIR)/trawld-system.socket
	rm -f $(DESTDIR)$(LISPDIR)/trawl.el

clean:
	rm -rf build build-san build-fuzz $(BUILD)

FMT_SRC := $(wildcard index/*.[ch] client/*.[ch] daemon/*.[ch] tests/*.[ch] tests/fuzz/*.c \
	bench/*.[ch])

fmt:
	clang-format -i $(FMT_SRC)

TIDY_FLAGS := -- -std=c17 -D_GNU_SOURCE -Iindex -Idaemon -Iclient $(PKG_CFLAGS)

# The static analyzer cannot see that cmocka's assertions stop a test, so tests get
# every check but the analyzer's.
lint:
	clang-format --dry-run -Werror $(FMT_SRC)
	clang-tidy --quiet $(filter-out tests/%,$(filter %.c,$(FMT_SRC))) $(TIDY_FLAGS)
	clang-tidy --quiet -checks=-clang-analyzer-* $(filter tests/%.c,$(FMT_SRC)) $(TIDY_FLAGS)

-include $(INDEX_OBJ:.o=.d) $(CLIENT_OBJ:.o=.d) $(DAEMON_OBJ:.o=.d) $(FUZZ_LIB_OBJ:.o=.d) \
	$(patsubst tests/fuzz/%.c,$(FUZZ_BUILD)/tests/fuzz/%.d,$(wildcard tests/fuzz/fuzz_*.c)) $(TEST_BIN:=.d) $(BENCH_BIN:=.d)
