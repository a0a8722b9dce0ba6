/* What bindgen reads: the parts of libdvbv5 dvbgate uses, and the log shim. */
#include <libdvbv5/dvb-fe.h>
#include <libdvbv5/dvb-demux.h>
#include <libdvbv5/dvb-v5-std.h>
#include "dvbgate_log.h"
