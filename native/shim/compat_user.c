// SPDX-License-Identifier: Apache-2.0
/*
 * compat_user.c - userspace implementation of core/compat.h (pthreads,
 * calloc). The kernel module provides its own.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/compat.h"

_Static_assert(sizeof(pthread_mutex_t) <= sizeof(ual_mutex_t),
	       "ual_mutex_t too small for pthread_mutex_t");

static ual_atomic64_t fail_after;
/* Allocations not yet freed (tests: a failed call must leave it unchanged). */
static ual_atomic64_t live_allocs;

u64 ual_compat_live_allocs(void)
{
	return ual_atomic64_read(&live_allocs);
}

void ual_compat_fail_alloc_after(u64 n)
{
	ual_atomic64_set(&fail_after, n);
}

void *ual_zalloc(ual_atomic64_t *ctr, size_t size)
{
	u64 n = ual_atomic64_read(&fail_after);

	/* Fault injection for tests; a racy decrement is fine there. */
	if (n && __atomic_sub_fetch(&fail_after.v, 1, __ATOMIC_RELAXED) == 0)
		return NULL;
	void *p = calloc(1, size ? size : 1);

	if (p && ctr)
		ual_atomic64_add(ctr, 1);
	if (p)
		ual_atomic64_add(&live_allocs, 1);
	return p;
}

void ual_free(void *p)
{
	if (p)
		ual_atomic64_add(&live_allocs, (u64)-1);
	free(p);
}

void ual_memcpy(void *dst, const void *src, size_t n)
{
	memcpy(dst, src, n);
}

void ual_memset(void *dst, int c, size_t n)
{
	memset(dst, c, n);
}

void ual_mutex_init(ual_mutex_t *m)
{
	pthread_mutex_init((pthread_mutex_t *)m, NULL);
}

void ual_mutex_destroy(ual_mutex_t *m)
{
	pthread_mutex_destroy((pthread_mutex_t *)m);
}

void ual_mutex_lock(ual_mutex_t *m)
{
	pthread_mutex_lock((pthread_mutex_t *)m);
}

void ual_mutex_unlock(ual_mutex_t *m)
{
	pthread_mutex_unlock((pthread_mutex_t *)m);
}

int ual_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
	return vsnprintf(buf, size, fmt, ap);
}

int ual_err_set(struct ual_err *err, int code, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (!err)
		return code;
	n = snprintf(err->msg, sizeof(err->msg), "%s: ", err->op ? err->op : "ual");
	if (n < 0 || (size_t)n >= sizeof(err->msg))
		n = 0;
	va_start(ap, fmt);
	vsnprintf(err->msg + n, sizeof(err->msg) - n, fmt, ap);
	va_end(ap);
	return code;
}
