#include "dvbgate_log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>

static dvbgate_log_sink current_sink;

void dvbgate_set_log_sink(dvbgate_log_sink sink)
{
	__atomic_store_n(&current_sink, sink, __ATOMIC_RELEASE);
}

void dvbgate_dvbv5_log(int level, const char *fmt, ...)
{
	int saved_errno = errno;
	dvbgate_log_sink sink = __atomic_load_n(&current_sink, __ATOMIC_ACQUIRE);
	char message[1024];
	va_list ap;

	if (sink) {
		va_start(ap, fmt);
		vsnprintf(message, sizeof(message), fmt, ap);
		va_end(ap);
		sink(level, message);
	}
	errno = saved_errno;
}
