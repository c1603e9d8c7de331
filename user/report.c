/* report.c - names shared by the report formats. */
#include <stddef.h>

#include "report.h"

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
	default: return NULL;
	}
}
