# leakscope - build, test, demo.  `make` builds build/leakscope.
# Dependencies come from Debian: `make deps` (tools/install-deps.sh).

BUILD     ?= build
CLANG     ?= clang
BPFTOOL   ?= $(shell command -v bpftool 2>/dev/null || echo /usr/sbin/bpftool)
CC        ?= cc
ARCH      := x86
PYTHON    ?= /usr/bin/python3

CFLAGS    ?= -O2 -g
CFLAGS    += -Wall -Wextra -Wno-unused-parameter -std=gnu11 -D_GNU_SOURCE \
             -Iinclude -I$(BUILD) -Iuser
LDLIBS    := -lbpf -lelf -ldw -lz -lcapstone -lncursesw -lprotobuf-c -lmicrohttpd \
             -lyaml -lcrypt -lstdc++ -lm

# user/ is one folder per layer (README "Module map"); each object also
# writes its header dependencies (-MMD -MP) beside it.
USER_SRCS := $(wildcard user/*/*.c)
# pprof's profile.proto, compiled by protoc-c into build/profile.pb-c.[ch]
PROTO_OBJ := $(BUILD)/user/profile.pb-c.o
USER_OBJS := $(patsubst user/%.c,$(BUILD)/user/%.o,$(USER_SRCS)) $(PROTO_OBJ)
MAIN_OBJ  := $(BUILD)/user/cli/main.o
# Everything but main.c is library code, one archive the unit tests,
# fuzzers and test tools link against.
LIB_OBJS  := $(filter-out $(MAIN_OBJ),$(USER_OBJS))
LIB       := $(BUILD)/libleakscope.a

FIXTURE_CFLAGS := -O1 -g -fno-omit-frame-pointer -fno-optimize-sibling-calls \
                  -fno-inline-functions-called-once -Wall
FIXTURE_LIBS := $(wildcard tests/fixtures/lib_*.c)
FIXTURES  := $(patsubst tests/fixtures/%.c,$(BUILD)/fixtures/%,$(filter-out $(FIXTURE_LIBS),$(wildcard tests/fixtures/*.c))) \
             $(patsubst tests/fixtures/%.cc,$(BUILD)/fixtures/%,$(wildcard tests/fixtures/*.cc)) \
             $(patsubst tests/fixtures/%.c,$(BUILD)/fixtures/%.so,$(FIXTURE_LIBS))
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(patsubst tests/unit/%.c,$(BUILD)/unit/%,$(UNIT_SRCS))

.PHONY: all deps test check unit e2e demo fixtures bench clean install uninstall
.DELETE_ON_ERROR:

all: $(BUILD)/leakscope

deps:
	@tools/install-deps.sh

# `make install [PREFIX=/usr/local] [DESTDIR=...]`: the binary in sbin (it
# runs as root), the man page, the deploy files (systemd unit, DaemonSet,
# Prometheus/Parca/Pyroscope configs) under share/leakscope/deploy.
PREFIX    ?= /usr/local
SBINDIR   := $(PREFIX)/sbin
MAN8DIR   := $(PREFIX)/share/man/man8
SHAREDIR  := $(PREFIX)/share/leakscope
DEPLOY    := $(wildcard deploy/*)

install: $(BUILD)/leakscope
	install -D -m 0755 $(BUILD)/leakscope $(DESTDIR)$(SBINDIR)/leakscope
	install -D -m 0644 man/leakscope.8 $(DESTDIR)$(MAN8DIR)/leakscope.8
	install -d $(DESTDIR)$(SHAREDIR)/deploy
	install -m 0644 $(DEPLOY) $(DESTDIR)$(SHAREDIR)/deploy/

uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/leakscope $(DESTDIR)$(MAN8DIR)/leakscope.8
	rm -f $(addprefix $(DESTDIR)$(SHAREDIR)/deploy/,$(notdir $(DEPLOY)))
	-rmdir $(DESTDIR)$(SHAREDIR)/deploy $(DESTDIR)$(SHAREDIR) 2>/dev/null

$(BUILD) $(BUILD)/user $(BUILD)/fixtures $(BUILD)/unit:
	@mkdir -p $@

$(BUILD)/vmlinux.h: | $(BUILD)
	$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > $@

$(BUILD)/leakscope.bpf.o: bpf/leakscope.bpf.c $(wildcard bpf/*.bpf.h) $(wildcard include/*.h) $(BUILD)/vmlinux.h
	$(CLANG) -g -O2 -target bpf -mcpu=v3 -D__TARGET_ARCH_$(ARCH) -Iinclude -I$(BUILD) \
		-idirafter /usr/include/$(shell $(CC) -dumpmachine) \
		-Wall -Wno-unused-function -c $< -o $@
	llvm-strip -g $@

$(BUILD)/leakscope.skel.h: $(BUILD)/leakscope.bpf.o
	$(BPFTOOL) gen skeleton $< name leakscope_bpf > $@

$(BUILD)/profile.pb-c.c $(BUILD)/profile.pb-c.h: proto/profile.proto | $(BUILD)
	protoc-c --proto_path=proto --c_out=$(BUILD) $<

$(PROTO_OBJ): $(BUILD)/profile.pb-c.c | $(BUILD)/user
	$(CC) $(CFLAGS) -c $< -o $@

# The HTML report's script and style (user/report/report_html.{js,css}),
# compiled into report_html.o as static byte arrays: the page needs no network.
HTML_ASSETS := user/report/report_html.css user/report/report_html.js
$(BUILD)/report_html_assets.h: $(HTML_ASSETS) | $(BUILD)
	{ for f in $(HTML_ASSETS); do (cd $$(dirname $$f) && xxd -i $$(basename $$f)); done; } > $@
	sed -i 's/^unsigned/static const unsigned/' $@

# Generated headers are prerequisites of the one file that includes each;
# every other header dependency comes from the .d files.
$(BUILD)/user/report/report_html.o: $(BUILD)/report_html_assets.h
$(BUILD)/user/trace/trace.o: $(BUILD)/leakscope.skel.h
$(BUILD)/user/report/report_pprof.o: $(BUILD)/profile.pb-c.h

$(BUILD)/user/%.o: user/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@
-include $(USER_OBJS:.o=.d)

$(LIB): $(LIB_OBJS)
	rm -f $@ && ar rcs $@ $^

# `leakscope --version`: git describe of the tree built (a VERSION file in a
# tarball without .git); the header is rewritten only when it changes.
VERSION := $(shell git describe --tags --always --dirty 2>/dev/null || cat VERSION 2>/dev/null || echo unknown)
$(BUILD)/version.h: FORCE | $(BUILD)
	@echo '#define LEAKSCOPE_VERSION "$(VERSION)"' > $@.tmp
	@cmp -s $@.tmp $@ && rm $@.tmp || mv $@.tmp $@
$(BUILD)/user/cli/cli.o: $(BUILD)/version.h
.PHONY: FORCE
FORCE:

$(BUILD)/leakscope: $(MAIN_OBJ) $(LIB)
	$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)

$(BUILD)/fixtures/lib_%.so: tests/fixtures/lib_%.c | $(BUILD)/fixtures
	$(CC) $(FIXTURE_CFLAGS) -shared -fPIC $< -o $@

$(BUILD)/fixtures/nolibc: tests/fixtures/nolibc.c | $(BUILD)/fixtures
	$(CC) -O1 -static -nostdlib -fno-stack-protector $< -o $@

$(BUILD)/fixtures/static_%: tests/fixtures/static_%.c | $(BUILD)/fixtures
	$(CC) $(FIXTURE_CFLAGS) -static $< -o $@

$(BUILD)/fixtures/%: tests/fixtures/%.c | $(BUILD)/fixtures
	$(CC) $(FIXTURE_CFLAGS) $< -o $@ -lpthread -ldl

$(BUILD)/fixtures/%: tests/fixtures/%.cc | $(BUILD)/fixtures
	g++ $(FIXTURE_CFLAGS) $< -o $@

# The same leaks under each allocator Debian ships (tests/e2e/test_allocators.py)
ALLOC_SRC := tests/fixtures/alloc/alloc_leaks.cc
ALLOC_FIXTURES := $(BUILD)/fixtures/alloc_jemalloc $(BUILD)/fixtures/alloc_tcmalloc \
                  $(BUILD)/fixtures/alloc_plain $(BUILD)/fixtures/alloc_je_static
$(BUILD)/fixtures/alloc_jemalloc: $(ALLOC_SRC) | $(BUILD)/fixtures
	g++ $(FIXTURE_CFLAGS) $< -o $@ -ljemalloc
$(BUILD)/fixtures/alloc_tcmalloc: $(ALLOC_SRC) | $(BUILD)/fixtures
	g++ $(FIXTURE_CFLAGS) $< -o $@ -ltcmalloc_minimal
$(BUILD)/fixtures/alloc_plain: $(ALLOC_SRC) | $(BUILD)/fixtures
	g++ $(FIXTURE_CFLAGS) $< -o $@
# jemalloc with its API renamed je_* (as projects that bundle it build it),
# linked into the executable
$(BUILD)/fixtures/libjemalloc_je.a: | $(BUILD)/fixtures
	objcopy $(foreach f,malloc calloc realloc free posix_memalign aligned_alloc memalign valloc mallocx rallocx sdallocx dallocx,--redefine-sym $(f)=je_$(f)) \
		/usr/lib/$(shell $(CC) -dumpmachine)/libjemalloc_pic.a $@
$(BUILD)/fixtures/alloc_je_static: $(ALLOC_SRC) $(BUILD)/fixtures/libjemalloc_je.a
	g++ $(FIXTURE_CFLAGS) -DJE_PREFIX $< -o $@ $(BUILD)/fixtures/libjemalloc_je.a -lpthread -ldl

fixtures: $(FIXTURES) $(ALLOC_FIXTURES)

# Fixtures built as distributions build (no frame pointers), and the
# unwind-table fuzzer: each in its own fragment.
-include tests/fixtures/unwind/unwind.mk
-include tests/fuzz/fuzz.mk
-include tests/fixtures/python/python.mk
# The BPF stack budget check (tools/stack_budget) and the kernel matrix
# (tools/kernels: `make test-kernels`).
-include tools/stack_budget/budget.mk
-include tools/kernels/kernels.mk

$(BUILD)/unit/%: tests/unit/%.c $(LIB) $(wildcard tests/unit/*.h) | $(BUILD)/unit
	$(CC) $(CFLAGS) $< $(LIB) -o $@ -lcmocka $(LDLIBS)

# test helpers: leakscope's pure code driven by e2e tests against oracles
$(BUILD)/tools/%: tests/tools/%.c $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $< $(LIB) -o $@ $(LDLIBS)
TEST_TOOLS := $(BUILD)/tools/pyline_decode $(BUILD)/tools/html_sample

unit: $(UNIT_BINS)
	@for t in $(UNIT_BINS); do echo "== $$t"; $$t || exit 1; done

e2e: all fixtures $(TEST_TOOLS)
	$(PYTHON) -m pytest -q tests/e2e

# `make check`: the fast loop while editing - every unit test and a few
# seconds of each fuzzer; no root, no kernel, under a minute after a build.
check: $(UNIT_BINS)
	$(MAKE) unit
	$(MAKE) fuzz FUZZ_TIME=5 FUZZ_PY_TIME=5

# `make test` is what CI runs: dependencies first, then every test.
test:
	@tools/install-deps.sh
	$(MAKE) all fixtures $(UNIT_BINS) $(TEST_TOOLS)
	$(MAKE) unit
	$(MAKE) fuzz FUZZ_TIME=30
	$(MAKE) e2e

demo:
	@tools/install-deps.sh
	$(MAKE) all $(BUILD)/fixtures/demo_leaky_server
	$(BUILD)/leakscope -n 2 1 -- $(BUILD)/fixtures/demo_leaky_server

BENCH_CFLAGS := -O2 -g -fno-omit-frame-pointer
$(BUILD)/churn: tools/bench/churn.c | $(BUILD)
	$(CC) $(BENCH_CFLAGS) $< -o $@ -lpthread
$(BUILD)/scale: tools/bench/scale.c | $(BUILD)
	$(CC) $(BENCH_CFLAGS) $< -o $@
# as Debian builds packages: no frame pointers (the DWARF unwinder's case)
$(BUILD)/churn_deep: tools/bench/churn_deep.c | $(BUILD)
	$(CC) $(shell dpkg-buildflags --get CFLAGS) $(shell dpkg-buildflags --get LDFLAGS) $< -o $@ -lpthread

# `make bench`: overhead and scale figures (README "Performance").
bench:
	@tools/install-deps.sh --bench
	$(MAKE) all $(BUILD)/churn $(BUILD)/churn_deep $(BUILD)/scale $(BUILD)/fixtures/leaks
	tools/bench.sh

clean:
	rm -rf $(BUILD)
