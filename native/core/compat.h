/* SPDX-License-Identifier: GPL-2.0-only OR Apache-2.0 */
/*
 * compat.h - the only environment the fabric core sees.
 *
 * The core (native/core) is compiled twice: into libual.so (userspace, this
 * file's second half) and into the out-of-tree kernel module ualmock.ko
 * (native/kmod, the first half). Core
 * files include nothing but this header and their own headers, use no
 * floating point, no VLAs and no large stack arrays.
 */
#ifndef UAL_COMPAT_H
#define UAL_COMPAT_H

#include "../include/ual.h"

#ifdef __KERNEL__
/*
 * Kernel side (native/kmod): allocations are kvzalloc(GFP_KERNEL_ACCOUNT)
 * charged to the fabric's counter, locks are struct mutex (each init site
 * its own lockdep class), atomics atomic64_t. Implemented in
 * kmod/compat_kernel.c and inline here.
 */
#include <linux/atomic.h>
#include <linux/kernel.h>
#include <linux/mutex.h>
#include <linux/stdarg.h>
#include <linux/stddef.h>
#include <linux/string.h>
#include <linux/types.h>

/*
 * x86's asm/pgtable_types.h (pulled in by linux/mutex.h) defines
 * PTE_PFN_MASK; the core's pgtable.h has its own for fabric PTEs. Include
 * kernel headers before core headers, so no kernel inline sees the core's.
 */
#undef PTE_PFN_MASK

typedef struct { atomic64_t v; } ual_atomic64_t;

static inline void ual_atomic64_set(ual_atomic64_t *a, u64 v)
{
	atomic64_set(&a->v, (s64)v);
}

static inline u64 ual_atomic64_read(const ual_atomic64_t *a)
{
	return (u64)atomic64_read(&a->v);
}

static inline void ual_atomic64_add(ual_atomic64_t *a, u64 n)
{
	atomic64_add((s64)n, &a->v);
}

/* May sleep (GFP_KERNEL); counted in @ctr when not NULL. */
void *ual_zalloc(ual_atomic64_t *ctr, size_t size);
void ual_free(void *p);

static inline void ual_memcpy(void *dst, const void *src, size_t n)
{
	memcpy(dst, src, n);
}

static inline void ual_memset(void *dst, int c, size_t n)
{
	memset(dst, c, n);
}

typedef struct ual_mutex {
	struct mutex m;
} ual_mutex_t;

/* A macro so that every init site gets its own lockdep class. */
#define ual_mutex_init(x)	mutex_init(&(x)->m)
#define ual_mutex_destroy(x)	mutex_destroy(&(x)->m)
#define ual_mutex_lock(x)	mutex_lock(&(x)->m)
#define ual_mutex_unlock(x)	mutex_unlock(&(x)->m)

static inline int ual_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
	return vsnprintf(buf, size, fmt, ap);
}

#else

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef uint8_t u8;
typedef uint16_t u16;
typedef uint32_t u32;
typedef uint64_t u64;

/* ---- atomics ---------------------------------------------------------- */
typedef struct { volatile u64 v; } ual_atomic64_t;

static inline void ual_atomic64_set(ual_atomic64_t *a, u64 v)
{
	__atomic_store_n(&a->v, v, __ATOMIC_RELAXED);
}

static inline u64 ual_atomic64_read(const ual_atomic64_t *a)
{
	return __atomic_load_n(&a->v, __ATOMIC_RELAXED);
}

static inline void ual_atomic64_add(ual_atomic64_t *a, u64 n)
{
	__atomic_fetch_add(&a->v, n, __ATOMIC_RELAXED);
}

/* ---- memory ------------------------------------------------------------ */
/*
 * Every core allocation names the counter it is charged to (the fabric's
 * allocation counter, see ual_alloc_count()), so tests can prove that a code
 * path does not allocate. @ctr may be NULL for uncounted allocations.
 */
void *ual_zalloc(ual_atomic64_t *ctr, size_t size);
void ual_free(void *p);
void ual_memcpy(void *dst, const void *src, size_t n);
void ual_memset(void *dst, int c, size_t n);

/*
 * Test hook: make the n-th next ual_zalloc() fail (0 disables). Lets tests
 * prove that an ENOMEM in the middle of an operation changes nothing.
 */
void ual_compat_fail_alloc_after(u64 n);
/* Test hook: ual_zalloc() allocations not yet passed to ual_free(). */
u64 ual_compat_live_allocs(void);

/*
 * struct ual_compat_heap - memory that is not this process's own: a shared
 * pod file mapped at the same address in every process (backends/fake/pod.c).
 * @find:   the heap @addr lies in, or NULL (ual_zalloc's counter, ual_free's
 *          pointer and ual_mutex_init's mutex are looked up).
 * @alloc, @free: that heap's allocator (zeroed memory).
 * @poison: a robust mutex at @m was found with a dead owner.
 * Allocation and mutexes inside a heap become process-shared (and robust).
 */
struct ual_compat_heap {
	void *(*find)(const void *addr);
	void *(*alloc)(void *heap, size_t size);
	void (*free)(void *heap, void *p);
	void (*poison)(void *heap, const void *m);
};
void ual_compat_set_heap(const struct ual_compat_heap *h);
/* True once if a lock taken by this thread had a dead owner since the last call. */
bool ual_compat_take_poison(void);
/*
 * Guard this thread's call on a shared pod (a jmp_buf *, NULL to end it):
 * locks it takes are tracked, and one found with a dead owner releases
 * them all and longjmp()s to the guard instead of returning.
 */
void ual_compat_guard(void *jmpbuf);

/* ---- locks ---------------------------------------------------------- */
typedef struct ual_mutex {
	u64 opaque[8];	/* pthread_mutex_t, kept opaque to the core */
} ual_mutex_t;

void ual_mutex_init(ual_mutex_t *m);
void ual_mutex_destroy(ual_mutex_t *m);
void ual_mutex_lock(ual_mutex_t *m);
void ual_mutex_unlock(ual_mutex_t *m);
/* A robust mutex whose owner died (left unlocked and consistent): true. */
bool ual_mutex_probe_dead(ual_mutex_t *m);

/* ---- messages ---------------------------------------------------------- */
int ual_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap);

#endif /* __KERNEL__ */

/* ---- error context ----------------------------------------------------- */
#define UAL_ERR_MSG_MAX 256

/*
 * struct ual_err - where a core operation explains a failure.
 * @op:  the ABI call's name without "ual_" ("iova_link"), set by the caller.
 * @msg: "op: problem", written by ual_err_set().
 */
struct ual_err {
	const char *op;
	char msg[UAL_ERR_MSG_MAX];
};

/* Format "op: fmt" into @err (which may be NULL) and return @code. */
int ual_err_set(struct ual_err *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* ---- small helpers ------------------------------------------------------ */
#define UAL_MIN(a, b) ((a) < (b) ? (a) : (b))
#define UAL_MAX(a, b) ((a) > (b) ? (a) : (b))
#define UAL_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static inline bool ual_is_pow2(u64 v)
{
	return v && !(v & (v - 1));
}

static inline u64 ual_align_up(u64 v, u64 a)
{
	return (v + a - 1) & ~(a - 1);
}

/* Intrusive doubly linked list (the kernel's list_head, reduced). */
struct ual_list {
	struct ual_list *next, *prev;
};

static inline void ual_list_init(struct ual_list *h)
{
	h->next = h->prev = h;
}

static inline bool ual_list_empty(const struct ual_list *h)
{
	return h->next == h;
}

static inline void ual_list_add_tail(struct ual_list *n, struct ual_list *h)
{
	n->prev = h->prev;
	n->next = h;
	h->prev->next = n;
	h->prev = n;
}

static inline void ual_list_del(struct ual_list *n)
{
	n->prev->next = n->next;
	n->next->prev = n->prev;
	n->next = n->prev = n;
}

#define ual_container_of(ptr, type, member) \
	((type *)((char *)(ptr) - offsetof(type, member)))

#endif /* UAL_COMPAT_H */
