/* report.c - names shared by the report formats. */
#include <stddef.h>
#include <stdio.h>

#include "report/report.h"

void report__service(const struct cgroup_labels *l, char *buf, size_t len)
{
	if (l->pod[0])
		snprintf(buf, len, "%s/%s", l->ns, l->pod);
	else if (l->pod_uid[0])
		snprintf(buf, len, "pod:%s", l->pod_uid);
	else if (l->container[0])
		snprintf(buf, len, "%s:%.12s", l->runtime[0] ? l->runtime : "container",
			 l->container);
	else
		snprintf(buf, len, "%s", l->unit);
}

const char *report__drop_name(enum counter c)
{
	switch (c) {
	case CNT_DROP_ALLOC_MAP_FULL: return "alloc_map_full";
	case CNT_DROP_STACK_LOST: return "stack_lost";
	case CNT_DROP_STACK_AGG_FULL: return "stack_map_full";
	case CNT_DROP_INFLIGHT_FULL: return "inflight_map_full";
	case CNT_DROP_MMAP_TABLE_FULL: return "mmap_table_full";
	case CNT_DROP_EVENTS_LOST: return "events_lost";
	case CNT_DROP_MISSED_RETURN: return "missed_return";
	case CNT_DROP_UNREADABLE: return "unreadable_result";
	case CNT_DROP_STACK_EMPTY: return "stack_empty";
	case CNT_DROP_STACK_PREEMPTED: return "stack_preempted";
	default: return NULL;
	}
}

const char *report__cut_name(int uw_stop)
{
	switch (uw_stop) {
	case UW_STOP_NO_TABLE: return "no_table";
	case UW_STOP_NO_ROW: return "no_row";
	case UW_STOP_ROW: return "unsupported_rule";
	case UW_STOP_UNREADABLE: return "unreadable_stack";
	case UW_STOP_DEPTH: return "depth_limit";
	case UW_STOP_BAD_FRAME: return "bad_frame";
	default: return "end";
	}
}

const char *report__cut_advice(int uw_stop)
{
	switch (uw_stop) {
	case UW_STOP_NO_TABLE:
		return "code with no unwind table (JIT code, or a library mapped a moment ago) "
		       "and no frame pointer; `leakscope probes -v` lists the tables";
	case UW_STOP_NO_ROW:
		return "an address no .eh_frame entry covers (hand-written assembly); "
		       "installing the library's -dbgsym package adds .debug_frame";
	case UW_STOP_ROW:
		return "a CFI rule the BPF walk cannot follow (a DWARF expression)";
	case UW_STOP_UNREADABLE:
		return "stack memory could not be read (unmapped, or paged out)";
	case UW_STOP_DEPTH:
		return "deeper than " "127" " frames: the innermost 127 are kept";
	case UW_STOP_BAD_FRAME:
		return "unwind data that does not match the code (a stale or wrong binary)";
	default:
		return "";
	}
}

const struct report_mapping *report__mapping(const struct report *r, pid_t pid, uint64_t addr)
{
	size_t lo = 0, hi = r->nmappings;

	if (!addr)
		return NULL;
	addr--;			/* a return address: the call is before it */
	while (lo < hi) {	/* the last mapping at or before (pid, addr) */
		size_t mid = lo + (hi - lo) / 2;
		const struct report_mapping *m = &r->mappings[mid];

		if (m->pid < pid || (m->pid == pid && m->start <= addr))
			lo = mid + 1;
		else
			hi = mid;
	}
	if (!lo)
		return NULL;
	lo--;
	return r->mappings[lo].pid == pid && addr < r->mappings[lo].end ? &r->mappings[lo] : NULL;
}
