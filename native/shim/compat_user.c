// SPDX-License-Identifier: Apache-2.0
/*
 * compat_user.c - userspace implementation of core/compat.h (pthreads,
 * calloc). The kernel module provides its own.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
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

/* Set once, before the first shared heap exists; read on every allocation. */
static const struct ual_compat_heap *shared_heap;
static _Thread_local bool saw_dead_owner;
/* A guarded call (ual.c's GUARD): where to bail out, and the locks it holds
 * (a copy holds every target's lock, hence the size). */
static _Thread_local jmp_buf *guard;
static _Thread_local ual_mutex_t *held[UAL_MAX_ACCELS + 8];
static _Thread_local u32 nheld;

void ual_compat_guard(void *jmpbuf)
{
	guard = jmpbuf;
	nheld = 0;
}

void ual_compat_set_heap(const struct ual_compat_heap *h)
{
	__atomic_store_n(&shared_heap, h, __ATOMIC_RELEASE);
}

bool ual_compat_take_poison(void)
{
	bool p = saw_dead_owner;

	saw_dead_owner = false;
	return p;
}

static void *heap_of(const void *addr)
{
	const struct ual_compat_heap *h = __atomic_load_n(&shared_heap, __ATOMIC_ACQUIRE);

	return h && addr ? h->find(addr) : NULL;
}

void *ual_zalloc(ual_atomic64_t *ctr, size_t size)
{
	u64 n = ual_atomic64_read(&fail_after);
	void *heap = heap_of(ctr);
	void *p;

	/* Fault injection for tests; a racy decrement is fine there. */
	if (n && __atomic_sub_fetch(&fail_after.v, 1, __ATOMIC_RELAXED) == 0)
		return NULL;
	p = heap ? shared_heap->alloc(heap, size ? size : 1) : calloc(1, size ? size : 1);

	if (p && ctr)
		ual_atomic64_add(ctr, 1);
	if (p)
		ual_atomic64_add(&live_allocs, 1);
	return p;
}

void ual_free(void *p)
{
	void *heap;

	if (!p)
		return;
	ual_atomic64_add(&live_allocs, (u64)-1);
	heap = heap_of(p);
	if (heap)
		shared_heap->free(heap, p);
	else
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
	pthread_mutexattr_t attr;

	if (!heap_of(m)) {
		pthread_mutex_init((pthread_mutex_t *)m, NULL);
		return;
	}
	/* In a shared pod: other processes lock it, and one may die holding it. */
	pthread_mutexattr_init(&attr);
	pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
	pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
	pthread_mutex_init((pthread_mutex_t *)m, &attr);
	pthread_mutexattr_destroy(&attr);
}

void ual_mutex_destroy(ual_mutex_t *m)
{
	pthread_mutex_destroy((pthread_mutex_t *)m);
}

void ual_mutex_lock(ual_mutex_t *m)
{
	/*
	 * EOWNERDEAD: a process died holding it, maybe mid-update. Take it
	 * anyway so this call ends (no waiter hangs), but poison the pod: the
	 * shim turns this call's result and every later call into
	 * UAL_EOWNERDEAD. (Only robust, i.e. shared-pod, mutexes report it.)
	 */
	if (pthread_mutex_lock((pthread_mutex_t *)m) == EOWNERDEAD) {
		pthread_mutex_consistent((pthread_mutex_t *)m);
		saw_dead_owner = true;
		shared_heap->poison(heap_of(m), m);
		if (guard) {
			jmp_buf *to = guard;

			/* Never run on what the dead owner left: drop every lock
			 * of this call and return UAL_EOWNERDEAD from it. */
			pthread_mutex_unlock((pthread_mutex_t *)m);
			while (nheld)
				pthread_mutex_unlock((pthread_mutex_t *)held[--nheld]);
			guard = NULL;
			longjmp(*to, 1);
		}
	}
	if (guard && nheld < UAL_ARRAY_SIZE(held))
		held[nheld++] = m;
}

bool ual_mutex_probe_dead(ual_mutex_t *m)
{
	int r = pthread_mutex_trylock((pthread_mutex_t *)m);

	if (r == EOWNERDEAD)
		pthread_mutex_consistent((pthread_mutex_t *)m);
	if (r == 0 || r == EOWNERDEAD)
		pthread_mutex_unlock((pthread_mutex_t *)m);
	return r == EOWNERDEAD;
}

void ual_mutex_unlock(ual_mutex_t *m)
{
	if (guard) {
		/* Usually the last one taken. */
		for (u32 i = nheld; i-- > 0;) {
			if (held[i] == m) {
				held[i] = held[--nheld];
				break;
			}
		}
	}
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
