// SPDX-License-Identifier: GPL-2.0 OR Apache-2.0
/*
 * compat_kernel.c - kernel implementation of core/compat.h (the parts that
 * are not inline there).
 */
#include <linux/kernel.h>
#include <linux/mm.h>
#include <linux/slab.h>

#include "compat.h"

/**
 * ual_zalloc() - zeroed memory for the core, charged to the caller's cgroup.
 * @ctr:  the fabric's allocation counter (ual_alloc_count()), or NULL.
 * @size: bytes; large sizes fall back to vmalloc.
 *
 * Context: process context, may sleep (GFP_KERNEL); the core calls it with
 * its mutexes held, which is allowed. Failures are reported by the caller as
 * UAL_ENOMEM with a message, so the allocator's own warning is suppressed.
 * Return: the memory or NULL.
 */
void *ual_zalloc(ual_atomic64_t *ctr, size_t size)
{
	void *p = kvzalloc(size ? size : 1, GFP_KERNEL_ACCOUNT | __GFP_NOWARN);

	if (p && ctr)
		ual_atomic64_add(ctr, 1);
	return p;
}

/**
 * ual_free() - free memory from ual_zalloc(); NULL is ignored.
 * @p: the memory.
 *
 * Context: process context (vfree may sleep).
 */
void ual_free(void *p)
{
	kvfree(p);
}

/**
 * ual_err_set() - format "op: message" into @err and return @code.
 * @err:  the error context, or NULL.
 * @code: the UAL_E* code to return.
 * @fmt:  printf format of the message.
 *
 * Context: any; never sleeps, never allocates.
 * Return: @code.
 */
int ual_err_set(struct ual_err *err, int code, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (!err)
		return code;
	n = scnprintf(err->msg, sizeof(err->msg), "%s: ", err->op ? err->op : "ual");
	va_start(ap, fmt);
	vscnprintf(err->msg + n, sizeof(err->msg) - n, fmt, ap);
	va_end(ap);
	return code;
}
