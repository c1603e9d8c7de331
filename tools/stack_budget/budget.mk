# budget.mk - the BPF stack budget (issue 21), included by the top Makefile.
#
# build/tools/stack_budget reads build/leakscope.bpf.o, prints each
# program's worst call chain (frames rounded up to 32 bytes, as kernel 6.1
# counts them) and fails the build when one is over BUDGET_BYTES; its
# report is kept in build/leakscope.budget.  The skeleton depends on that
# report, so an over-budget object never reaches leakscope.
# `make BUDGET_BYTES=512` builds anyway (the verifier's own limit, no margin).

BUDGET_BYTES ?= 448
BUDGET_ROUND ?= 32
BUDGET_DIR   := tools/stack_budget
BUDGET_LIB   := $(BUILD)/stack_budget/budget.o $(BUILD)/stack_budget/budget_report.o
BUDGET_TINY  := $(BUILD)/fixtures/bpf/budget_tiny.bpf.o

$(BUILD)/stack_budget/%.o: $(BUDGET_DIR)/%.c $(BUDGET_DIR)/budget.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/tools/stack_budget: $(BUDGET_DIR)/stack_budget.c $(BUDGET_DIR)/budget.h $(BUDGET_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $< $(BUDGET_LIB) -o $@ -lelf

# The report on success shows its verdict line; on failure all of it.
$(BUILD)/leakscope.budget: $(BUILD)/leakscope.bpf.o $(BUILD)/tools/stack_budget $(BUDGET_DIR)/budget.mk
	@$(BUILD)/tools/stack_budget --budget $(BUDGET_BYTES) --round $(BUDGET_ROUND) \
		$< > $@; status=$$?; \
	if [ $$status -eq 0 ]; then tail -n 1 $@; else cat $@; fi; exit $$status

$(BUILD)/leakscope.skel.h: $(BUILD)/leakscope.budget

# The unit test's object: known frames, compiled as leakscope.bpf.o is.
$(BUDGET_TINY): tests/fixtures/bpf/budget_tiny.bpf.c
	@mkdir -p $(dir $@)
	$(CLANG) -g -O2 -target bpf -mcpu=v3 -D__TARGET_ARCH_$(ARCH) -Iinclude -I$(BUILD) \
		-idirafter /usr/include/$(shell $(CC) -dumpmachine) \
		-Wall -Wno-unused-function -c $< -o $@
	llvm-strip -g $@

# An explicit rule (it wins over build/unit/%): the test needs only the
# budget library, not leakscope's objects, so it builds and runs even
# while the object is over budget.
$(BUILD)/unit/test_stack_budget: tests/unit/test_stack_budget.c $(BUDGET_LIB) \
		$(BUDGET_DIR)/budget.h $(BUDGET_TINY) | $(BUILD)/unit
	$(CC) $(CFLAGS) -I$(BUDGET_DIR) -DBUDGET_TINY_OBJ='"$(abspath $(BUDGET_TINY))"' \
		$< $(BUDGET_LIB) -o $@ -lcmocka -lelf

# The kernel verifier's own figures, to check stack_budget against (root;
# not part of the build).  With the feature switches on, as stack_budget
# counts every path:
#   build/tools/verifier_depths build/leakscope.bpf.o - python_enabled=1 \
#       unwind_dwarf=1 kernel_enabled=1 trace_all=1 sample_period=4096
$(BUILD)/tools/verifier_depths: $(BUDGET_DIR)/verifier_depths.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $< -o $@ -lbpf -lelf
