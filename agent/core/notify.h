/*
 * systemd's readiness and watchdog protocol ($NOTIFY_SOCKET, $WATCHDOG_USEC),
 * spoken directly: a datagram on a Unix socket, no libsystemd dependency.
 * Every call does nothing when the agent was not started by a service manager.
 */
#ifndef BPFPUSH_NOTIFY_H
#define BPFPUSH_NOTIFY_H

#include <stdint.h>

/* Send one state line ("READY=1", "STOPPING=1", "WATCHDOG=1"); 0 when sent or not wanted. */
int notify_send(const char *state);
/* The watchdog period the service manager asked for, in µs; 0 when none. */
uint64_t notify_watchdog_usec(void);

#endif
