/*
 * libdvbv5 logs through a printf-style variadic callback (dvb_logfunc), which
 * stable Rust cannot define. dvbgate_dvbv5_log is such a callback written in C:
 * it formats the message and hands the finished string to a plain function
 * that Rust can define (the "sink").
 */
#ifndef DVBGATE_LOG_H
#define DVBGATE_LOG_H

/* Receives libdvbv5's syslog level (LOG_ERR, LOG_WARNING...) and the formatted
 * message, NUL-terminated, valid only during the call. */
typedef void (*dvbgate_log_sink)(int level, const char *message);

/* Sets the sink for every later message (NULL drops them). Thread-safe. */
void dvbgate_set_log_sink(dvbgate_log_sink sink);

/* Pass this as libdvbv5's dvb_logfunc. Formats into a bounded buffer (long
 * messages are cut), calls the sink, and leaves errno as it found it, so a
 * caller can still read the errno of the libdvbv5 call that logged. */
void dvbgate_dvbv5_log(int level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
