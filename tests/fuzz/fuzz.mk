# fuzz.mk - the fuzzers, included by the top Makefile.
#
#   make fuzz                  builds $(BUILD)/fuzz/fuzz_unwind_table and runs
#                              it for FUZZ_TIME seconds (30) on the corpus,
#                              then fuzz_py_lines (the Python line-table
#                              decoders) and fuzz_python (_Py_DebugOffsets,
#                              code/str/bytes objects read from a target)
#                              for FUZZ_PY_TIME seconds (10) each, and
#                              fuzz_parsers (ELF symbols, probe placement,
#                              /proc/PID/maps lines, kallsyms) for 10 s
#   make $(BUILD)/fuzz/fuzz_unwind_table   only builds it
#
# libFuzzer comes with Debian's clang 14 in libclang-rt-14-dev (only
# recommended by clang-14, so listed in tools/install-deps.sh).  The
# harness links user/unwind/unwind_table.c directly, instrumented by ASan and
# UBSan; libelf/libdw are the system's (not instrumented for coverage, but
# ASan still sees their reads of our buffers and their allocations).
#
# Seeds are small ELF files built from the harness itself compiled with
# -DUNWIND_FUZZ_SEED: an executable (.eh_frame with a personality, .plt,
# _start), the same with .debug_frame (plain and zlib-compressed), a
# shared object without libc; and their CFI sections alone (*.E, *.D),
# which the harness wraps into a minimal ELF so that mutations go to the
# CFI rather than to the ELF structure.  The working corpus
# ($(BUILD)/fuzz/corpus) grows between runs; findings land in
# $(BUILD)/fuzz/ as crash-* / leak-* / oom-* / timeout-*.  Reproduce one
# with: $(BUILD)/fuzz/fuzz_unwind_table FILE

FUZZ_CC      ?= $(CLANG)
FUZZ_DIR     := $(BUILD)/fuzz
FUZZ_TIME    ?= 30
FUZZ_PY_TIME ?= 10
FUZZ_RSS_MB  ?= 2048
FUZZ_CFLAGS  := -g -O1 -fsanitize=fuzzer,address,undefined \
                -fno-sanitize-recover=all -fno-omit-frame-pointer \
                -std=gnu11 -D_GNU_SOURCE -Iinclude -Iuser
FUZZ_SEED_SRC := tests/fuzz/fuzz_unwind_table.c
FUZZ_SEEDS   := $(FUZZ_DIR)/seeds/exe $(FUZZ_DIR)/seeds/exe_debug_frame \
                $(FUZZ_DIR)/seeds/exe_debug_frame_z $(FUZZ_DIR)/seeds/nolibc.so \
                $(FUZZ_DIR)/seeds/exe.E $(FUZZ_DIR)/seeds/nolibc.so.E \
                $(FUZZ_DIR)/seeds/exe_debug_frame.D

# A section's bytes behind the harness's one-letter prefix.
FUZZ_DUMP = objcopy --dump-section $(1)=$@.raw $< $@.tmp.o && \
            { printf $(2); cat $@.raw; } > $@ && rm -f $@.raw $@.tmp.o

.PHONY: fuzz

$(FUZZ_DIR) $(FUZZ_DIR)/seeds $(FUZZ_DIR)/corpus:
	@mkdir -p $@

$(FUZZ_DIR)/fuzz_unwind_table: tests/fuzz/fuzz_unwind_table.c user/unwind/unwind_table.c \
		user/unwind/unwind_table.h include/unwind.h | $(FUZZ_DIR)
	$(FUZZ_CC) $(FUZZ_CFLAGS) tests/fuzz/fuzz_unwind_table.c user/unwind/unwind_table.c \
		-o $@ -lelf -ldw -lz

$(FUZZ_DIR)/fuzz_py_lines: tests/fuzz/fuzz_py_lines.c user/python/pysym.c user/python/pysym.h | $(FUZZ_DIR)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -Ibuild tests/fuzz/fuzz_py_lines.c user/python/pysym.c -o $@

$(FUZZ_DIR)/fuzz_python: tests/fuzz/fuzz_python.c user/python/pysym.c user/python/python.c user/symbols/elfsym.c \
		user/procs/procmaps.c user/util/log.c | $(FUZZ_DIR)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -Ibuild tests/fuzz/fuzz_python.c user/python/pysym.c user/python/python.c \
		user/symbols/elfsym.c user/procs/procmaps.c user/util/log.c -o $@ -lbpf -lelf

$(FUZZ_DIR)/py_corpus $(FUZZ_DIR)/pyobj_corpus:
	@mkdir -p $@

$(FUZZ_DIR)/fuzz_parsers: tests/fuzz/fuzz_parsers.c user/symbols/elfsym.c user/probe/placement.c \
		user/procs/procmaps.c user/symbols/ksym.c | $(FUZZ_DIR)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -Ibuild tests/fuzz/fuzz_parsers.c user/symbols/elfsym.c \
		user/probe/placement.c user/procs/procmaps.c user/symbols/ksym.c -o $@ -lelf -lcapstone

$(FUZZ_DIR)/parser_seeds/kallsyms: tests/fuzz/parser_seeds.sh
	tests/fuzz/parser_seeds.sh $(FUZZ_DIR)/parser_seeds

$(FUZZ_DIR)/parser_corpus:
	@mkdir -p $@

# seeds: well-formed code objects of several layouts (python_seeds.py)
$(FUZZ_DIR)/pyobj_seeds/layout5: tests/fuzz/python_seeds.py
	python3 $< $(FUZZ_DIR)/pyobj_seeds

$(FUZZ_DIR)/seeds/exe: $(FUZZ_SEED_SRC) | $(FUZZ_DIR)/seeds
	$(CC) -DUNWIND_FUZZ_SEED -O2 -fexceptions -s $< -o $@
$(FUZZ_DIR)/seeds/exe_debug_frame: $(FUZZ_SEED_SRC) | $(FUZZ_DIR)/seeds
	$(CC) -DUNWIND_FUZZ_SEED -O2 -g1 -fno-asynchronous-unwind-tables $< -o $@
$(FUZZ_DIR)/seeds/exe_debug_frame_z: $(FUZZ_SEED_SRC) | $(FUZZ_DIR)/seeds
	$(CC) -DUNWIND_FUZZ_SEED -O2 -g1 -gz=zlib -fno-asynchronous-unwind-tables $< -o $@
$(FUZZ_DIR)/seeds/nolibc.so: $(FUZZ_SEED_SRC) | $(FUZZ_DIR)/seeds
	$(CC) -DUNWIND_FUZZ_SEED -O2 -fPIC -shared -nostdlib -s $< -o $@
$(FUZZ_DIR)/seeds/%.E: $(FUZZ_DIR)/seeds/%
	$(call FUZZ_DUMP,.eh_frame,E)
$(FUZZ_DIR)/seeds/%.D: $(FUZZ_DIR)/seeds/%
	$(call FUZZ_DUMP,.debug_frame,D)

fuzz: $(FUZZ_DIR)/fuzz_unwind_table $(FUZZ_SEEDS) $(FUZZ_DIR)/fuzz_py_lines \
		$(FUZZ_DIR)/fuzz_python $(FUZZ_DIR)/pyobj_seeds/layout5 \
		$(FUZZ_DIR)/fuzz_parsers $(FUZZ_DIR)/parser_seeds/kallsyms \
		| $(FUZZ_DIR)/parser_corpus $(FUZZ_DIR)/corpus $(FUZZ_DIR)/py_corpus \
		$(FUZZ_DIR)/pyobj_corpus
	$(FUZZ_DIR)/fuzz_unwind_table -max_total_time=$(FUZZ_TIME) \
		-rss_limit_mb=$(FUZZ_RSS_MB) -max_len=65536 -timeout=10 \
		-print_final_stats=1 -artifact_prefix=$(FUZZ_DIR)/ \
		$(FUZZ_DIR)/corpus $(FUZZ_DIR)/seeds
	$(FUZZ_DIR)/fuzz_py_lines -max_total_time=$(FUZZ_PY_TIME) -max_len=4096 \
		-timeout=10 -print_final_stats=1 -artifact_prefix=$(FUZZ_DIR)/py- \
		$(FUZZ_DIR)/py_corpus
	$(FUZZ_DIR)/fuzz_python -max_total_time=$(FUZZ_PY_TIME) -max_len=8192 \
		-timeout=10 -print_final_stats=1 -artifact_prefix=$(FUZZ_DIR)/pyobj- \
		$(FUZZ_DIR)/pyobj_corpus $(FUZZ_DIR)/pyobj_seeds
	$(FUZZ_DIR)/fuzz_parsers -max_total_time=$(FUZZ_PY_TIME) -max_len=131072 \
		-timeout=10 -print_final_stats=1 -artifact_prefix=$(FUZZ_DIR)/parsers- \
		$(FUZZ_DIR)/parser_corpus $(FUZZ_DIR)/parser_seeds
