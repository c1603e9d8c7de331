/* sink.c - the sink for a command (see sink.h). */
#include <stdlib.h>
#include <unistd.h>

#include "sink/sink.h"

struct sink *sink__new(const struct options *o)
{
	switch (o->command) {
	case CMD_RECORD:
		return sink_record__new(o);
	case CMD_SERVE:
		return sink_serve__new(o);
	case CMD_TOP:	/* a live view needs a terminal; else reports, as text */
		if (isatty(STDOUT_FILENO) && isatty(STDIN_FILENO))
			return sink_top__new(o);
		return sink_stdout__new(o);
	default:
		return sink_stdout__new(o);
	}
}

void sink__attach(struct sink *s, struct trace *t)
{
	if (s && s->ops->attach)
		s->ops->attach(s, t);
}

void sink__free(struct sink *s)
{
	if (s)
		s->ops->free(s);
}
