// SPDX-License-Identifier: Apache-2.0
/*
 * ioctl_stress - hammer /dev/ualmock with raw ioctls (uapi/ualmock.h, no
 * libual) from several threads for a bounded time:
 *
 *  - valid sequences on a private file per thread (attach, alloc/rw/free,
 *    register/unregister of its own buffers, grants, IOVA alloc/link/sync/
 *    translate/unlink/free, map_pfns, dump, copy, fault_read); these must
 *    succeed (resource exhaustion, ENOMEM/ENOSPC, is tolerated);
 *  - malformed calls: wrong argsz, non-zero flags and reserved fields,
 *    NULL/kernel/unmapped pointers, huge counts, wrapping ranges, bad ids,
 *    double frees, unknown ioctl numbers; these must fail with the documented
 *    errno and, where the struct was readable, a message in hdr.msg;
 *  - chaos: random structs on files shared between threads, which are
 *    closed and replaced (dup2) while other threads are inside ioctls, and
 *    files opened, filled and closed without cleanup.
 *
 * It counts calls by ioctl and outcome, prints a table and a summary line
 * ("ioctl_stress: N calls ...") and exits 1 if any call broke the contract.
 *
 * --hold: pin buffers, link and unlink in a loop on several files until
 * killed (the guest tests SIGKILL it and check the module released all).
 *
 * Usage: ioctl_stress [--seconds S] [--seed N] [--threads T] [--calls N]
 *                     [--device PATH] [--hold] [--verbose]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "uapi/ualmock.h"

/* Constants of ual.h the ioctls carry (the ABI, not the library). */
#define PROT_R 1u
#define PROT_W 2u
#define PROT_RW 3u
#define IOVA_PREALLOC 1u
#define ROUTE_PHYS (1u << 31)
#define PG 4096ull
#define KERNEL_PTR 0xffff888000001000ull /* a direct-map address: never user memory */

#define NR_CMDS 0x13 /* UALM_IOC_ATTACH .. UALM_IOC_FAULT_READ */
#define SLOT_UNKNOWN NR_CMDS

/* ---- outcome counting ---------------------------------------------------- */

enum outcome { OUT_OK, OUT_FAILED_AS_EXPECTED, OUT_TOLERATED, OUT_ANY_OK, OUT_ANY_ERR,
	       OUT_VIOLATION, OUT_N };
static const char *const outcome_names[OUT_N] = { "ok", "fail-ok", "exhausted", "chaos-ok",
						  "chaos-err", "VIOLATION" };
static const char *const cmd_names[NR_CMDS + 1] = {
	"ATTACH", "QUERY", "MEM_ALLOC", "MEM_FREE", "MEM_RW", "MEM_REGISTER", "MEM_UNREGISTER",
	"GRANT", "REVOKE", "MAP_PFNS", "IOVA_ALLOC", "IOVA_FREE", "IOVA_LINK", "IOVA_SYNC",
	"IOVA_UNLINK", "DUMP", "TRANSLATE", "COPY", "FAULT_READ", "unknown"
};
static const unsigned long cmd_of[NR_CMDS] = {
	UALM_IOC_ATTACH, UALM_IOC_QUERY, UALM_IOC_MEM_ALLOC, UALM_IOC_MEM_FREE, UALM_IOC_MEM_RW,
	UALM_IOC_MEM_REGISTER, UALM_IOC_MEM_UNREGISTER, UALM_IOC_GRANT, UALM_IOC_REVOKE,
	UALM_IOC_MAP_PFNS, UALM_IOC_IOVA_ALLOC, UALM_IOC_IOVA_FREE, UALM_IOC_IOVA_LINK,
	UALM_IOC_IOVA_SYNC, UALM_IOC_IOVA_UNLINK, UALM_IOC_DUMP, UALM_IOC_TRANSLATE,
	UALM_IOC_COPY, UALM_IOC_FAULT_READ
};
static const size_t size_of[NR_CMDS] = {
	sizeof(struct ualm_attach), sizeof(struct ualm_info), sizeof(struct ualm_mem),
	sizeof(struct ualm_mem), sizeof(struct ualm_mem_rw), sizeof(struct ualm_register),
	sizeof(struct ualm_register), sizeof(struct ualm_grant), sizeof(struct ualm_grant),
	sizeof(struct ualm_map_pfns), sizeof(struct ualm_iova), sizeof(struct ualm_iova),
	sizeof(struct ualm_link), sizeof(struct ualm_part), sizeof(struct ualm_part),
	sizeof(struct ualm_dump), sizeof(struct ualm_translate), sizeof(struct ualm_copy),
	sizeof(struct ualm_fault_read)
};

static _Atomic uint64_t counts[NR_CMDS + 1][OUT_N];
static _Atomic uint64_t errno_counts[256];
static _Atomic uint64_t violations;
static atomic_bool stop;
static pthread_mutex_t print_lock = PTHREAD_MUTEX_INITIALIZER;
static bool verbose;
static const char *device = UALM_DEVICE;

/* Fabric facts from QUERY on the first file. */
static struct ualm_info finfo;

static int slot_of(unsigned long cmd)
{
	for (int i = 0; i < NR_CMDS; i++)
		if (cmd_of[i] == cmd)
			return i;
	return SLOT_UNKNOWN;
}

/* Bit set of acceptable errnos (all < 128). */
typedef struct { uint64_t w[2]; } eset;
static eset E(int n, ...)
{
	eset s = { { 0, 0 } };
	va_list ap;

	va_start(ap, n);
	for (int i = 0; i < n; i++) {
		int e = va_arg(ap, int);
		s.w[e / 64] |= 1ull << (e % 64);
	}
	va_end(ap);
	return s;
}
static bool in_set(eset s, int e) { return e >= 0 && e < 128 && (s.w[e / 64] >> (e % 64)) & 1; }

/* ---- per-thread state ------------------------------------------------------ */

#define MAX_BLK 16
#define MAX_REG 8
#define REG_SLOT_PAGES 16
#define MAX_RANGE 8
#define MAX_GRANT 8

struct blk { uint64_t pfn, size; };
struct reg { uint64_t addr, len; uint64_t pfns[REG_SLOT_PAGES]; bool used; };
/* @reg: the registration slot whose pages are linked, -1 for a block or none. */
struct range { uint64_t iova, size, linked_pages; bool used; int reg; };
struct grant { uint64_t pfn, npages; uint32_t initiator; };

struct thr {
	int id;
	uint64_t rng;
	int fd;			/* private file: state below is exact */
	uint32_t accel;		/* its accelerator */
	struct blk blk[MAX_BLK]; int nblk;
	struct reg reg[MAX_REG];
	struct range rng_[MAX_RANGE];
	struct grant gr[MAX_GRANT]; int ngr;
	uint8_t *arena;		/* MAX_REG * REG_SLOT_PAGES pages for registrations */
	uint64_t pfnbuf[UALM_MAX_BATCH / 64];
	struct ualm_faddr addrbuf[256];
	struct ualm_mapping mapbuf[256];
	struct ualm_fault faultbuf[1024];
	uint8_t iobuf[4 * 4096];
	uint8_t *tguard;	/* own PROT_NONE page; structs end right before it */
};

static int nshared;
static _Atomic int shared_fd[4];
static uint8_t *scratch;	/* chaos pointers land here: the kernel may write it */
static size_t scratch_len = 2048 * 4096;
#define SCRATCH_SLACK (64 * 4096)	/* room past a chaos pointer for its output */
static uint8_t *guard;		/* PROT_NONE page */

static uint64_t rnd(struct thr *t)
{
	uint64_t x = t->rng;

	x ^= x >> 12; x ^= x << 25; x ^= x >> 27;
	t->rng = x;
	return x * 0x2545f4914f6cdd1dull;
}
static uint64_t below(struct thr *t, uint64_t n) { return n ? rnd(t) % n : 0; }
static bool chance(struct thr *t, unsigned pct) { return below(t, 100) < pct; }

static void report(const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&print_lock);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	pthread_mutex_unlock(&print_lock);
}

enum expect { MUST_OK, MUST_FAIL, ANY };

/*
 * call() - issue one ioctl and judge it.
 * @what:  label for reports.
 * @exp:   MUST_OK (errors in @ok_errs are tolerated as exhaustion), MUST_FAIL
 *         (errno must be in @errs), ANY (chaos: only counted).
 * @msg:   for MUST_FAIL: the header is readable, so hdr.msg must say why.
 * Return: 0 or the errno.
 */
static int call(struct thr *t, int fd, unsigned long cmd, void *arg, enum expect exp,
		eset errs, bool msg, const char *what)
{
	struct ualm_hdr *h = arg;
	int slot = slot_of(cmd), err = 0;

	if (msg && h)
		h->msg[0] = 0;
	if (ioctl(fd, cmd, arg) < 0)
		err = errno;
	atomic_fetch_add(&errno_counts[err & 255], 1);

	enum outcome o;
	const char *why = NULL;
	if (exp == ANY) {
		o = err ? OUT_ANY_ERR : OUT_ANY_OK;
	} else if (exp == MUST_OK) {
		if (!err)
			o = OUT_OK;
		else if (in_set(errs, err))
			o = OUT_TOLERATED;
		else
			o = OUT_VIOLATION, why = "valid call failed";
	} else if (!err) {
		o = OUT_VIOLATION, why = "invalid call SUCCEEDED";
		msg = false;
	} else if (!in_set(errs, err)) {
		o = OUT_VIOLATION, why = "invalid call failed with an unexpected errno";
	} else if (msg && h && !h->msg[0]) {
		o = OUT_VIOLATION, why = "failure without a message in hdr.msg";
	} else {
		o = OUT_FAILED_AS_EXPECTED;
	}
	atomic_fetch_add(&counts[slot][o], 1);
	if (o == OUT_VIOLATION) {
		uint64_t n = atomic_fetch_add(&violations, 1);
		if (exp == MUST_OK)
			msg = true;	/* our own struct: show the module's message */
		if (n < 50 || verbose)
			report("VIOLATION [thread %d] %s (%s): %s: errno %d (%s)%s%.*s%s\n", t->id,
			       what, cmd_names[slot], why, err, err ? strerror(err) : "none",
			       h && msg ? ", msg \"" : "", h && msg ? UALM_MSG_LEN : 0,
			       h && msg ? h->msg : "", h && msg ? "\"" : "");
	} else if (verbose && exp != ANY) {
		report("[thread %d] %s (%s): %s\n", t->id, what, cmd_names[slot],
		       err ? strerror(err) : "ok");
	}
	return err;
}

#define HDR(s) do { memset(&(s), 0, sizeof(s)); (s).hdr.argsz = sizeof(s); } while (0)
#define EXH E(2, ENOMEM, ENOSPC)
#define NOERR E(0)

/* ---- valid sequences on the private file -------------------------------- */

static struct blk *some_blk(struct thr *t) { return t->nblk ? &t->blk[below(t, t->nblk)] : NULL; }

static void v_alloc(struct thr *t)
{
	struct ualm_mem m;

	if (t->nblk == MAX_BLK)
		return;
	HDR(m);
	m.size = (1 + below(t, 16)) * PG;
	m.align = chance(t, 30) ? PG << below(t, 5) : 0;
	if (!call(t, t->fd, UALM_IOC_MEM_ALLOC, &m, MUST_OK, EXH, false, "alloc")) {
		if (m.align && (m.pfn * PG) % m.align) {
			atomic_fetch_add(&violations, 1);
			report("VIOLATION [thread %d] alloc: pfn 0x%" PRIx64 " not aligned to 0x%" PRIx64 "\n",
			       t->id, m.pfn, m.align);
		}
		t->blk[t->nblk++] = (struct blk){ m.pfn, m.size };
	}
}

static void v_free(struct thr *t)
{
	struct ualm_mem m;
	int i;

	if (!t->nblk)
		return;
	i = below(t, t->nblk);
	HDR(m);
	m.pfn = t->blk[i].pfn;
	m.size = t->blk[i].size;
	/* Wrong size first: must fail and change nothing. */
	if (chance(t, 30)) {
		m.size += PG;
		call(t, t->fd, UALM_IOC_MEM_FREE, &m, MUST_FAIL, E(1, EINVAL), true, "free wrong size");
		m.size -= PG;
	}
	/* Freeing does not revoke (as the DMA API): revoke our grants of it first,
	 * so a later block at the same PFNs starts without grants. */
	for (int k = 0; k < t->ngr; k++) {
		if (t->gr[k].pfn != m.pfn)
			continue;
		struct ualm_grant g;
		HDR(g);
		g.target = t->accel;
		g.initiator = t->gr[k].initiator;
		g.pfn = t->gr[k].pfn;
		g.npages = t->gr[k].npages;
		call(t, t->fd, UALM_IOC_REVOKE, &g, MUST_OK, NOERR, false, "revoke before free");
		t->gr[k--] = t->gr[--t->ngr];
	}
	call(t, t->fd, UALM_IOC_MEM_FREE, &m, MUST_OK, NOERR, false, "free");
	if (chance(t, 30))
		call(t, t->fd, UALM_IOC_MEM_FREE, &m, MUST_FAIL, E(1, ENOENT), true, "double free");
	t->blk[i] = t->blk[--t->nblk];
}

static void v_rw(struct thr *t)
{
	struct blk *b = some_blk(t);
	struct ualm_mem_rw rw;
	uint64_t off, len;

	if (!b)
		return;
	off = below(t, b->size);
	len = 1 + below(t, b->size - off);
	if (len > sizeof(t->iobuf))
		len = sizeof(t->iobuf);
	HDR(rw);
	rw.phys = b->pfn * PG + off;
	rw.buf = (uintptr_t)t->iobuf;
	rw.len = len;
	memset(t->iobuf, (int)t->id, len);
	rw.op = UALM_RW_WRITE;
	call(t, t->fd, UALM_IOC_MEM_RW, &rw, MUST_OK, NOERR, false, "write");
	memset(t->iobuf, 0xee, len);
	rw.op = 0;
	if (!call(t, t->fd, UALM_IOC_MEM_RW, &rw, MUST_OK, NOERR, false, "read")) {
		for (uint64_t i = 0; i < len; i++) {
			if (t->iobuf[i] != (uint8_t)t->id) {
				atomic_fetch_add(&violations, 1);
				report("VIOLATION [thread %d] read back byte %" PRIu64 " = 0x%x, wrote 0x%x\n",
				       t->id, i, t->iobuf[i], t->id & 0xff);
				break;
			}
		}
	}
}

static void v_register(struct thr *t)
{
	int s = below(t, MAX_REG);
	struct reg *r = &t->reg[s];
	struct ualm_register rg;

	HDR(rg);
	if (r->used) {
		rg.addr = r->addr;
		/* Linked pages keep it registered (no stale link): EBUSY, nothing changes. */
		for (int k = 0; k < MAX_RANGE; k++)
			if (t->rng_[k].used && t->rng_[k].linked_pages && t->rng_[k].reg == s) {
				call(t, t->fd, UALM_IOC_MEM_UNREGISTER, &rg, MUST_FAIL, E(1, EBUSY), true,
				     "unregister linked");
				return;
			}
		call(t, t->fd, UALM_IOC_MEM_UNREGISTER, &rg, MUST_OK, NOERR, false, "unregister");
		if (verbose)
			report("[thread %d] slot %d: unregistered 0x%" PRIx64 "\n", t->id, s, r->addr);
		if (chance(t, 30))
			call(t, t->fd, UALM_IOC_MEM_UNREGISTER, &rg, MUST_FAIL, E(1, ENOENT), true,
			     "double unregister");
		r->used = false;
		return;
	}
	r->addr = (uintptr_t)(t->arena + (uint64_t)s * REG_SLOT_PAGES * PG);
	r->len = (1 + below(t, REG_SLOT_PAGES)) * PG;
	memset((void *)(uintptr_t)r->addr, 0x5a, r->len);	/* fault the pages in */
	rg.addr = r->addr;
	rg.len = r->len;
	rg.pfns = (uintptr_t)r->pfns;
	if (!call(t, t->fd, UALM_IOC_MEM_REGISTER, &rg, MUST_OK, EXH, false, "register")) {
		r->used = true;
		if (verbose)
			report("[thread %d] slot %d: 0x%" PRIx64 "+0x%" PRIx64 " -> PFN 0x%" PRIx64 "..\n",
			       t->id, s, r->addr, r->len, r->pfns[0]);
		/* The same pages again overlap: EEXIST, nothing pinned twice. */
		if (chance(t, 20))
			call(t, t->fd, UALM_IOC_MEM_REGISTER, &rg, MUST_FAIL, E(1, EEXIST), true,
			     "register overlap");
	}
}

static struct range *free_range_slot(struct thr *t)
{
	for (int i = 0; i < MAX_RANGE; i++)
		if (!t->rng_[i].used)
			return &t->rng_[i];
	return NULL;
}

static struct range *some_range(struct thr *t)
{
	int start = below(t, MAX_RANGE);

	for (int i = 0; i < MAX_RANGE; i++)
		if (t->rng_[(start + i) % MAX_RANGE].used)
			return &t->rng_[(start + i) % MAX_RANGE];
	return NULL;
}

/*
 * Private files drive accelerators 0..A-2, chaos and transient files only the
 * last one, so random calls cannot free, unlink or grant over the state the
 * private threads check exactly. With one accelerator there is no chaos.
 */
static uint32_t chaos_accel(void) { return finfo.num_accels - 1; }
static uint32_t private_accels(void) { return finfo.num_accels > 1 ? finfo.num_accels - 1 : 1; }

static int attach(struct thr *t, int fd, uint32_t accel, const char *what)
{
	struct ualm_attach a;

	HDR(a);
	a.abi = UALM_ABI_VERSION;
	a.accel = accel;
	return call(t, fd, UALM_IOC_ATTACH, &a, MUST_OK, NOERR, false, what);
}

static bool virt(void) { return finfo.modes & 2; }
static bool phys(void) { return finfo.modes & 1; }

static void v_iova(struct thr *t)
{
	struct range *r = some_range(t);
	struct ualm_iova io;
	struct ualm_part p;
	struct ualm_link l;

	if (!virt())
		return;
	if (!r || (chance(t, 40) && free_range_slot(t))) {
		r = free_range_slot(t);
		if (!r)
			return;
		HDR(io);
		io.size = (1 + below(t, 64)) * PG;
		io.flags = chance(t, 50) ? IOVA_PREALLOC : 0;
		if (!call(t, t->fd, UALM_IOC_IOVA_ALLOC, &io, MUST_OK, EXH, false, "iova alloc"))
			*r = (struct range){ io.iova, io.size, 0, true, -1 };
		return;
	}
	if (!r->linked_pages && chance(t, 25))
		goto do_free;
	if (!r->linked_pages) {
		/* Link pages of one of our blocks or registered buffers. */
		struct blk *b = some_blk(t);
		uint64_t n = 0, *pf = t->pfnbuf;
		int s = below(t, MAX_REG);

		r->reg = -1;
		if (t->reg[s].used && chance(t, 50)) {
			r->reg = s;
			n = t->reg[s].len / PG;
			memcpy(pf, t->reg[s].pfns, n * sizeof(*pf));
			if (verbose)
				report("[thread %d] linking slot %d: PFN 0x%" PRIx64 ".., %" PRIu64 " pages\n",
				       t->id, s, pf[0], n);
		} else if (b) {
			n = b->size / PG;
			for (uint64_t i = 0; i < n; i++)
				pf[i] = b->pfn + i;
		}
		if (!n)
			goto do_free;
		if (n > r->size / PG)
			n = r->size / PG;
		HDR(l);
		l.iova = r->iova;
		l.offset = 0;
		l.target = t->accel;
		l.prot = 1 + below(t, 3);
		l.n = n;
		l.pfns = (uintptr_t)pf;
		if (!call(t, t->fd, UALM_IOC_IOVA_LINK, &l, MUST_OK, E(1, ENOMEM), false, "link")) {
			r->linked_pages = n;
			call(t, t->fd, UALM_IOC_IOVA_LINK, &l, MUST_FAIL, E(1, EBUSY), true, "link twice");
			HDR(p);
			p.iova = r->iova; p.offset = 0; p.len = n * PG;
			call(t, t->fd, UALM_IOC_IOVA_SYNC, &p, MUST_OK, NOERR, false, "sync");
			struct ualm_translate x;
			HDR(x);
			x.initiator = t->accel;
			x.access = l.prot & PROT_R ? PROT_R : PROT_W;	/* an access the link allows */
			x.fa.addr = r->iova + below(t, n) * PG + below(t, PG);
			if (!call(t, t->fd, UALM_IOC_TRANSLATE, &x, MUST_OK, NOERR, false, "translate") &&
			    x.target != t->accel) {
				atomic_fetch_add(&violations, 1);
				report("VIOLATION [thread %d] translate: target %u, linked to %u\n", t->id,
				       x.target, t->accel);
			}
			struct ualm_dump d;
			HDR(d);
			d.iova = r->iova; d.len = r->size; d.max = 256; d.out = (uintptr_t)t->mapbuf;
			if (!call(t, t->fd, UALM_IOC_DUMP, &d, MUST_OK, NOERR, false, "dump") && !d.count) {
				atomic_fetch_add(&violations, 1);
				report("VIOLATION [thread %d] dump: no entry in a linked range\n", t->id);
			}
			/* An IOVA past the linked part faults. */
			if (n < r->size / PG) {
				x.fa.addr = r->iova + n * PG;
				call(t, t->fd, UALM_IOC_TRANSLATE, &x, MUST_FAIL, E(1, EFAULT), false,
				     "translate unlinked");
			}
			/* A linked range cannot be freed. */
			HDR(io);
			io.iova = r->iova;
			call(t, t->fd, UALM_IOC_IOVA_FREE, &io, MUST_FAIL, E(1, EBUSY), true, "free linked");
		}
		return;
	}
	if (r->linked_pages) {
		HDR(p);
		p.iova = r->iova;
		p.offset = 0;
		p.len = r->linked_pages * PG;
		if (r->linked_pages < r->size / PG && chance(t, 30)) {
			p.len += PG;	/* one page too many: not linked -> ENOENT */
			call(t, t->fd, UALM_IOC_IOVA_UNLINK, &p, MUST_FAIL, E(1, ENOENT), true,
			     "unlink past linked");
			p.len -= PG;
		}
		/* Large entries must be unlinked whole; we always unlink what we linked. */
		if (!call(t, t->fd, UALM_IOC_IOVA_UNLINK, &p, MUST_OK, NOERR, false, "unlink")) {
			r->linked_pages = 0;
			r->reg = -1;
		}
		return;
	}
do_free:
	HDR(io);
	io.iova = r->iova;
	call(t, t->fd, UALM_IOC_IOVA_FREE, &io, MUST_OK, NOERR, false, "iova free");
	if (chance(t, 30))
		call(t, t->fd, UALM_IOC_IOVA_FREE, &io, MUST_FAIL, E(1, ENOENT), true, "iova double free");
	r->used = false;
}

static void v_grant(struct thr *t)
{
	struct ualm_grant g;
	struct blk *b;

	/* Grant only to other private accelerators: chaos must not reach our blocks. */
	if (private_accels() < 2)
		return;
	HDR(g);
	g.target = t->accel;
	if (t->ngr && (chance(t, 50) || t->ngr == MAX_GRANT)) {
		int i = below(t, t->ngr);
		g.initiator = t->gr[i].initiator;
		g.pfn = t->gr[i].pfn;
		g.npages = t->gr[i].npages;
		call(t, t->fd, UALM_IOC_REVOKE, &g, MUST_OK, NOERR, false, "revoke");
		call(t, t->fd, UALM_IOC_REVOKE, &g, MUST_FAIL, E(1, ENOENT), true, "revoke twice");
		t->gr[i] = t->gr[--t->ngr];
		return;
	}
	b = some_blk(t);
	if (!b)
		return;
	g.initiator = (t->accel + 1 + below(t, private_accels() - 1)) % private_accels();
	g.pfn = b->pfn;
	g.npages = b->size / PG;
	g.prot = 1 + below(t, 3);
	/* Grants of one initiator must not overlap: skip blocks already granted to it. */
	for (int i = 0; i < t->ngr; i++)
		if (t->gr[i].initiator == g.initiator && t->gr[i].pfn == g.pfn) {
			call(t, t->fd, UALM_IOC_GRANT, &g, MUST_FAIL, E(1, EEXIST), true, "grant overlap");
			return;
		}
	if (!call(t, t->fd, UALM_IOC_GRANT, &g, MUST_OK, EXH, false, "grant"))
		t->gr[t->ngr++] = (struct grant){ g.pfn, g.npages, g.initiator };
}

static void v_misc(struct thr *t)
{
	struct blk *b = some_blk(t);

	switch (below(t, 4)) {
	case 0: {
		struct ualm_info q;
		HDR(q);
		call(t, t->fd, UALM_IOC_QUERY, &q, MUST_OK, NOERR, false, "query");
		break;
	}
	case 1: {
		struct ualm_map_pfns m;
		if (!b || !phys())
			break;
		HDR(m);
		m.target = t->accel;
		m.prot = PROT_RW;
		m.n = b->size / PG;
		for (uint64_t i = 0; i < m.n; i++)
			t->pfnbuf[i] = b->pfn + i;
		m.pfns = (uintptr_t)t->pfnbuf;
		m.addrs = (uintptr_t)t->addrbuf;
		if (!call(t, t->fd, UALM_IOC_MAP_PFNS, &m, MUST_OK, NOERR, false, "map_pfns") &&
		    (t->addrbuf[0].addr != b->pfn * PG || t->addrbuf[0].route != (ROUTE_PHYS | t->accel))) {
			atomic_fetch_add(&violations, 1);
			report("VIOLATION [thread %d] map_pfns: got 0x%" PRIx64 "/0x%x for pfn 0x%" PRIx64 "\n",
			       t->id, (uint64_t)t->addrbuf[0].addr, t->addrbuf[0].route, b->pfn);
		}
		break;
	}
	case 2: {
		/* Local physical copy within our block: local requests need no grant. */
		struct ualm_copy c;
		if (!b || !phys() || b->size < 2 * PG)
			break;
		HDR(c);
		c.initiator = t->accel;
		c.dst = (struct ualm_faddr){ b->pfn * PG + PG, ROUTE_PHYS | t->accel, 0 };
		c.src = (struct ualm_faddr){ b->pfn * PG, ROUTE_PHYS | t->accel, 0 };
		c.len = 64 * (1 + below(t, 64));
		call(t, t->fd, UALM_IOC_COPY, &c, MUST_OK, NOERR, false, "copy");
		break;
	}
	case 3: {
		struct ualm_fault_read f;
		HDR(f);
		f.max = 1024;
		f.out = (uintptr_t)t->faultbuf;
		call(t, t->fd, UALM_IOC_FAULT_READ, &f, MUST_OK, NOERR, false, "fault_read");
		if (f.nread > f.max) {
			atomic_fetch_add(&violations, 1);
			report("VIOLATION [thread %d] fault_read: nread %u > max %u\n", t->id, f.nread, f.max);
		}
		break;
	}
	}
}

/* ---- malformed calls on the private file ------------------------------------ */

/* Header attacks: the same for every ioctl. */
static void bad_header(struct thr *t)
{
	int slot = below(t, NR_CMDS);
	unsigned long cmd = cmd_of[slot];
	size_t sz = size_of[slot];
	uint8_t buf[1024] __attribute__((aligned(8)));
	struct ualm_hdr *h = (struct ualm_hdr *)buf;

	memset(buf, 0, sizeof(buf));
	switch (below(t, 8)) {
	case 0: /* argsz too small */
		h->argsz = (uint32_t[]){ 0, 4, (uint32_t)sizeof(*h), (uint32_t)sz - 1 }[below(t, 4)];
		call(t, t->fd, cmd, h, MUST_FAIL, E(1, EINVAL), false, "argsz too small");
		break;
	case 1: /* flags must be 0 */
		h->argsz = sz;
		h->flags = 1u << below(t, 32);
		call(t, t->fd, cmd, h, MUST_FAIL, E(1, EINVAL), true, "hdr.flags non-zero");
		break;
	case 2: /* no struct at all */
		call(t, t->fd, cmd, NULL, MUST_FAIL, E(1, EFAULT), false, "NULL arg");
		break;
	case 3:
		call(t, t->fd, cmd, (void *)(uintptr_t)KERNEL_PTR, MUST_FAIL, E(1, EFAULT), false,
		     "kernel-space arg");
		break;
	case 4:
		call(t, t->fd, cmd, guard, MUST_FAIL, E(1, EFAULT), false, "unmapped arg");
		break;
	case 5: { /* the struct runs into the guard page */
		uint8_t *p = t->tguard - sz + 8;
		memset(p, 0, sz - 8);
		((struct ualm_hdr *)p)->argsz = sz;
		call(t, t->fd, cmd, p, MUST_FAIL, E(1, EFAULT), false, "struct crosses into unmapped");
		break;
	}
	case 6: { /* argsz larger than the struct: the tail must be readable and zero */
		uint8_t *p = t->tguard - sz;
		memset(p, 0, sz);
		((struct ualm_hdr *)p)->argsz = below(t, 2) ? 0xffffffffu : (uint32_t)sz + 8;
		call(t, t->fd, cmd, p, MUST_FAIL, E(3, EFAULT, E2BIG, EINVAL), false,
		     "argsz past mapped memory");
		break;
	}
	case 7: /* a grown struct with a non-zero tail */
		h->argsz = sz + 16;
		buf[sz + 3] = 1;
		call(t, t->fd, cmd, h, MUST_FAIL, E(2, E2BIG, EINVAL), true, "non-zero bytes past struct");
		break;
	}
}

/* A grown struct with a zero tail is fine (structs can grow). */
static void grown_query(struct thr *t)
{
	uint8_t buf[sizeof(struct ualm_info) + 64] __attribute__((aligned(8)));
	struct ualm_info *q = (struct ualm_info *)buf;

	memset(buf, 0, sizeof(buf));
	q->hdr.argsz = sizeof(buf);
	call(t, t->fd, UALM_IOC_QUERY, q, MUST_OK, NOERR, false, "query with zero tail");
}

static uint64_t bad_ptr(struct thr *t)
{
	return (uint64_t[]){ 0, KERNEL_PTR, (uintptr_t)guard, 0xfffffffffffff000ull }[below(t, 4)];
}

static void bad_semantics(struct thr *t)
{
	uint64_t mem_pages = finfo.mem_size / PG, big = 1ull << (40 + below(t, 23));
	struct blk *b = some_blk(t);
	struct range *r = some_range(t);

	switch (below(t, 20)) {
	case 0: {
		struct ualm_mem m;
		HDR(m);
		m.size = (uint64_t[]){ 0, 1, PG + 1, PG - 1 }[below(t, 4)];
		call(t, t->fd, UALM_IOC_MEM_ALLOC, &m, MUST_FAIL, E(1, EINVAL), true, "alloc bad size");
		HDR(m);
		m.size = PG;
		m.align = (uint64_t[]){ 3, 2048, PG + PG / 2, 1 }[below(t, 4)];
		call(t, t->fd, UALM_IOC_MEM_ALLOC, &m, MUST_FAIL, E(1, EINVAL), true, "alloc bad align");
		HDR(m);
		m.size = finfo.mem_size + PG * (1 + below(t, 1000));
		call(t, t->fd, UALM_IOC_MEM_ALLOC, &m, MUST_FAIL, E(1, ENOMEM), true, "alloc > memory");
		HDR(m);
		m.size = ~0ull << 12;
		call(t, t->fd, UALM_IOC_MEM_ALLOC, &m, MUST_FAIL, E(3, ENOMEM, EINVAL, EOVERFLOW), true,
		     "alloc 2^64-4K");
		break;
	}
	case 1: {
		struct ualm_mem m;
		HDR(m);
		m.pfn = mem_pages + below(t, 1000);
		m.size = PG;
		call(t, t->fd, UALM_IOC_MEM_FREE, &m, MUST_FAIL, E(1, ENOENT), true, "free unknown pfn");
		break;
	}
	case 2: {
		struct ualm_mem_rw rw;
		HDR(rw);
		rw.buf = (uintptr_t)t->iobuf;
		rw.len = 64;
		rw.phys = finfo.mem_size + below(t, 1 << 20);
		call(t, t->fd, UALM_IOC_MEM_RW, &rw, MUST_FAIL, E(1, ERANGE), true, "rw past memory");
		rw.phys = ~0ull - 8;
		call(t, t->fd, UALM_IOC_MEM_RW, &rw, MUST_FAIL, E(2, EOVERFLOW, ERANGE), true, "rw wraps");
		rw.phys = 0;
		rw.op = 2 + below(t, 100);
		call(t, t->fd, UALM_IOC_MEM_RW, &rw, MUST_FAIL, E(1, EINVAL), true, "rw bad op");
		rw.op = 0;
		rw.rsvd = 1;
		call(t, t->fd, UALM_IOC_MEM_RW, &rw, MUST_FAIL, E(1, EINVAL), true, "rw rsvd");
		break;
	}
	case 3: {
		struct ualm_mem_rw rw;
		if (!b)
			break;
		HDR(rw);
		rw.phys = b->pfn * PG;
		rw.len = 1 + below(t, b->size);
		rw.buf = bad_ptr(t);
		rw.op = below(t, 2);
		call(t, t->fd, UALM_IOC_MEM_RW, &rw, MUST_FAIL, E(2, EFAULT, EINVAL), true, "rw bad buf");
		break;
	}
	case 4: {
		struct ualm_register rg;
		uint8_t *a = scratch + below(t, 8) * PG;
		HDR(rg);
		rg.pfns = (uintptr_t)t->pfnbuf;
		switch (below(t, 5)) {
		case 0: rg.addr = (uintptr_t)a + 8; rg.len = PG; break;
		case 1: rg.addr = (uintptr_t)a; rg.len = 0; break;
		case 2: rg.addr = (uintptr_t)a; rg.len = PG + 100; break;
		case 3: rg.addr = (uintptr_t)a; rg.len = (UALM_MAX_BATCH + 1 + below(t, 5)) * PG; break;
		case 4: rg.addr = (uintptr_t)a; rg.len = ~0ull << 12; break;
		}
		call(t, t->fd, UALM_IOC_MEM_REGISTER, &rg, MUST_FAIL, E(3, EINVAL, EOVERFLOW, E2BIG), true,
		     "register bad addr/len");
		break;
	}
	case 5: {
		struct ualm_register rg;
		HDR(rg);
		rg.addr = below(t, 2) ? KERNEL_PTR : (uintptr_t)guard;
		rg.len = PG;
		rg.pfns = (uintptr_t)t->pfnbuf;
		call(t, t->fd, UALM_IOC_MEM_REGISTER, &rg, MUST_FAIL, E(2, EFAULT, EINVAL), true,
		     "register unmapped/kernel buffer");
		/* Valid buffer, PFN output pointer bad: must unpin and fail. */
		rg.addr = (uintptr_t)(scratch + 32 * PG + below(t, 16) * PG);
		rg.len = PG;
		rg.pfns = below(t, 2) ? KERNEL_PTR : (uintptr_t)guard;
		call(t, t->fd, UALM_IOC_MEM_REGISTER, &rg, MUST_FAIL, E(2, EFAULT, EINVAL), true,
		     "register bad pfns pointer");
		HDR(rg);
		rg.addr = (uintptr_t)(scratch + 48 * PG);
		call(t, t->fd, UALM_IOC_MEM_UNREGISTER, &rg, MUST_FAIL, E(1, ENOENT), true,
		     "unregister never registered");
		break;
	}
	case 6: {
		struct ualm_grant g;
		HDR(g);
		g.target = t->accel;
		g.initiator = (t->accel + 1) % finfo.num_accels;
		g.pfn = 0;
		g.npages = 1;
		g.prot = PROT_R;
		switch (below(t, 7)) {
		case 0:
			g.target = (t->accel + 1) % finfo.num_accels;
			if (g.target == t->accel)
				g.target = finfo.num_accels;	/* 1 accel: unknown target */
			call(t, t->fd, UALM_IOC_GRANT, &g, MUST_FAIL, E(2, EPERM, ENODEV), true,
			     "grant for another target");
			break;
		case 1:
			g.initiator = finfo.num_accels + below(t, 1000);
			call(t, t->fd, UALM_IOC_GRANT, &g, MUST_FAIL, E(1, ENODEV), true, "grant unknown initiator");
			break;
		case 2:
			g.npages = 0;
			call(t, t->fd, UALM_IOC_GRANT, &g, MUST_FAIL, E(1, EINVAL), true, "grant 0 pages");
			break;
		case 3:
			g.prot = below(t, 2) ? 0 : 4 + below(t, 100);
			call(t, t->fd, UALM_IOC_GRANT, &g, MUST_FAIL, E(1, EINVAL), true, "grant bad prot");
			break;
		case 4:
			g.pfn = mem_pages + below(t, 1000);
			call(t, t->fd, UALM_IOC_GRANT, &g, MUST_FAIL, E(1, ERANGE), true, "grant past memory");
			break;
		case 5:
			g.pfn = ~0ull - below(t, 10);
			g.npages = 100;
			call(t, t->fd, UALM_IOC_GRANT, &g, MUST_FAIL, E(2, EOVERFLOW, ERANGE), true, "grant wraps");
			break;
		case 6:
			g.rsvd = 1;
			call(t, t->fd, UALM_IOC_GRANT, &g, MUST_FAIL, E(1, EINVAL), true, "grant rsvd");
			break;
		}
		break;
	}
	case 7: {
		/* Revoke pages of our block that we never granted to that initiator. */
		struct ualm_grant g;
		if (!b || private_accels() < 2)
			break;
		HDR(g);
		g.target = t->accel;
		g.initiator = (t->accel + 1) % private_accels();
		g.pfn = b->pfn;
		g.npages = 1;
		for (int i = 0; i < t->ngr; i++)
			if (t->gr[i].initiator == g.initiator && t->gr[i].pfn == b->pfn)
				return;
		call(t, t->fd, UALM_IOC_REVOKE, &g, MUST_FAIL, E(1, ENOENT), true, "revoke not granted");
		break;
	}
	case 8: {
		struct ualm_map_pfns m;
		if (!phys())
			break;
		HDR(m);
		m.target = t->accel;
		m.prot = PROT_R;
		m.n = 1;
		t->pfnbuf[0] = b ? b->pfn : 0;
		m.pfns = (uintptr_t)t->pfnbuf;
		m.addrs = (uintptr_t)t->addrbuf;
		switch (below(t, 6)) {
		case 0:
			m.n = below(t, 2) ? 0 : UALM_MAX_BATCH + 1 + below(t, big);
			call(t, t->fd, UALM_IOC_MAP_PFNS, &m, MUST_FAIL, E(2, EINVAL, E2BIG), true,
			     "map_pfns bad count");
			break;
		case 1:
			m.pfns = bad_ptr(t);
			call(t, t->fd, UALM_IOC_MAP_PFNS, &m, MUST_FAIL, E(2, EFAULT, EINVAL), true,
			     "map_pfns bad pfns pointer");
			break;
		case 2:
			if (!b)
				break;
			m.addrs = bad_ptr(t);
			call(t, t->fd, UALM_IOC_MAP_PFNS, &m, MUST_FAIL, E(2, EFAULT, EINVAL), true,
			     "map_pfns bad addrs pointer");
			break;
		case 3:
			m.target = finfo.num_accels + below(t, 100);
			call(t, t->fd, UALM_IOC_MAP_PFNS, &m, MUST_FAIL, E(1, ENODEV), true,
			     "map_pfns unknown target");
			break;
		case 4:
			m.prot = below(t, 2) ? 0 : 8;
			call(t, t->fd, UALM_IOC_MAP_PFNS, &m, MUST_FAIL, E(1, EINVAL), true, "map_pfns bad prot");
			break;
		case 5:
			t->pfnbuf[0] = mem_pages + below(t, 1000);
			call(t, t->fd, UALM_IOC_MAP_PFNS, &m, MUST_FAIL, E(1, ERANGE), true,
			     "map_pfns pfn past memory");
			break;
		}
		break;
	}
	case 9: {
		struct ualm_iova io;
		if (!virt())
			break;
		HDR(io);
		switch (below(t, 4)) {
		case 0: io.size = below(t, 2) ? 0 : PG + 1 + below(t, PG - 2); break;
		case 1: io.size = PG; io.flags = 2u << below(t, 30); break;
		case 2: io.size = PG; io.rsvd = 1; break;
		case 3:
			io.size = 1ull << 58;	/* beyond any dma_bits (<= 57) */
			call(t, t->fd, UALM_IOC_IOVA_ALLOC, &io, MUST_FAIL, E(2, ENOSPC, ENOMEM), true,
			     "iova alloc beyond DMA limit");
			return;
		}
		call(t, t->fd, UALM_IOC_IOVA_ALLOC, &io, MUST_FAIL, E(1, EINVAL), true, "iova alloc bad args");
		break;
	}
	case 10: {
		struct ualm_iova io;
		if (!virt())
			break;
		HDR(io);
		io.iova = (1ull << 40) + below(t, 1000) * PG + 8;	/* not a range start */
		call(t, t->fd, UALM_IOC_IOVA_FREE, &io, MUST_FAIL, E(1, ENOENT), true, "iova free unknown");
		break;
	}
	case 11: case 12: {
		struct ualm_link l;
		if (!r || r->linked_pages || !b)
			break;
		HDR(l);
		l.iova = r->iova;
		l.target = t->accel;
		l.prot = PROT_RW;
		l.n = 1;
		t->pfnbuf[0] = b->pfn;
		l.pfns = (uintptr_t)t->pfnbuf;
		eset want;
		const char *what;
		switch (below(t, 9)) {
		case 0: l.iova += PG * (1 + below(t, 4)) + 1; want = E(1, ENOENT); what = "link unknown range"; break;
		case 1: l.offset = 1 + below(t, PG - 1); want = E(1, EINVAL); what = "link unaligned offset"; break;
		case 2: l.n = 0; want = E(1, EINVAL); what = "link 0 pages"; break;
		case 3: l.pfns = bad_ptr(t); want = E(2, EFAULT, EINVAL); what = "link bad pfns pointer"; break;
		case 4: l.prot = below(t, 2) ? 0 : 4; want = E(1, EINVAL); what = "link bad prot"; break;
		case 5: l.offset = r->size; want = E(1, ERANGE); what = "link past range"; break;
		case 6: l.offset = ~0ull << 12; want = E(2, EOVERFLOW, ERANGE); what = "link offset wraps"; break;
		case 7: l.target = finfo.num_accels + below(t, 100); want = E(1, ENODEV); what = "link unknown target"; break;
		default: l.n = UALM_MAX_BATCH + 1 + below(t, big); want = E(3, EINVAL, E2BIG, ERANGE); what = "link huge count"; break;
		}
		call(t, t->fd, UALM_IOC_IOVA_LINK, &l, MUST_FAIL, want, true, what);
		break;
	}
	case 13: {
		struct ualm_part p;
		if (!r)
			break;
		HDR(p);
		p.iova = r->iova;
		p.len = PG;
		unsigned long cmd = below(t, 2) ? UALM_IOC_IOVA_SYNC : UALM_IOC_IOVA_UNLINK;
		eset want;
		const char *what;
		switch (below(t, 5)) {
		case 0: p.len = 0; want = E(1, EINVAL); what = "sync/unlink 0 bytes"; break;
		case 1: p.offset = 1 + below(t, PG - 1); want = E(1, EINVAL); what = "sync/unlink unaligned"; break;
		case 2: p.offset = r->size; want = E(1, ERANGE); what = "sync/unlink past range"; break;
		case 3: p.offset = PG; p.len = ~0ull << 12; want = E(2, EOVERFLOW, ERANGE); what = "sync/unlink wraps"; break;
		default: p.iova = r->iova + PG * r->size; want = E(1, ENOENT); what = "sync/unlink unknown range"; break;
		}
		call(t, t->fd, cmd, &p, MUST_FAIL, want, true, what);
		break;
	}
	case 14: {
		struct ualm_dump d;
		HDR(d);
		switch (below(t, 3)) {
		case 0:
			d.max = 1 + below(t, 10);
			d.out = 0;
			call(t, t->fd, UALM_IOC_DUMP, &d, MUST_FAIL, E(2, EINVAL, EFAULT), true, "dump NULL out");
			break;
		case 1:
			d.iova = ~0ull - PG;
			d.len = 2 * PG;
			call(t, t->fd, UALM_IOC_DUMP, &d, MUST_FAIL, E(1, EOVERFLOW), true, "dump window wraps");
			break;
		case 2:
			d.max = UALM_MAX_BATCH + 1 + below(t, big);
			d.out = (uintptr_t)scratch;
			call(t, t->fd, UALM_IOC_DUMP, &d, MUST_FAIL, E(2, EINVAL, E2BIG), true, "dump max too big");
			break;
		}
		if (r && r->linked_pages) {
			HDR(d);
			d.iova = r->iova;
			d.len = r->size;
			d.max = 16;
			d.out = bad_ptr(t);
			call(t, t->fd, UALM_IOC_DUMP, &d, MUST_FAIL, E(2, EFAULT, EINVAL), true,
			     "dump linked range to bad pointer");
		}
		break;
	}
	case 15: {
		struct ualm_translate x;
		HDR(x);
		x.initiator = t->accel;
		x.access = 1;
		switch (below(t, 4)) {
		case 0:
			x.access = (uint32_t[]){ 0, 3, 4, 0x80000000u }[below(t, 4)];
			call(t, t->fd, UALM_IOC_TRANSLATE, &x, MUST_FAIL, E(1, EINVAL), true, "translate bad access");
			break;
		case 1:
			x.fa.rsvd = 1 + below(t, 1000);
			call(t, t->fd, UALM_IOC_TRANSLATE, &x, MUST_FAIL, E(1, EINVAL), true, "translate fa.rsvd");
			break;
		case 2:
			x.initiator = finfo.num_accels + below(t, 1000);
			call(t, t->fd, UALM_IOC_TRANSLATE, &x, MUST_FAIL, E(1, ENODEV), true,
			     "translate unknown initiator");
			break;
		case 3:
			/* IOVA 0 is never handed out: nothing is mapped there. */
			x.fa.addr = below(t, PG);
			call(t, t->fd, UALM_IOC_TRANSLATE, &x, MUST_FAIL, E(1, EFAULT), false, "translate IOVA 0");
			break;
		}
		break;
	}
	case 16: {
		struct ualm_copy c;
		HDR(c);
		c.initiator = t->accel;
		c.src = (struct ualm_faddr){ 0, ROUTE_PHYS | t->accel, 0 };
		c.dst = (struct ualm_faddr){ PG, ROUTE_PHYS | t->accel, 0 };
		c.len = 64;
		eset want = E(1, EINVAL);
		const char *what;
		switch (below(t, 5)) {
		case 0: c.len = below(t, 2) ? 0 : 1 + below(t, 63); what = "copy bad length"; break;
		case 1: c.src.addr = 8; what = "copy misaligned"; break;
		case 2: c.dst.addr = ~0ull & ~63ull; c.len = 128; want = E(2, EOVERFLOW, EFAULT); what = "copy wraps"; break;
		case 3: c.initiator = finfo.num_accels + below(t, 100); want = E(1, ENODEV); what = "copy unknown initiator"; break;
		default: c.rsvd = 1; what = "copy rsvd"; break;
		}
		call(t, t->fd, UALM_IOC_COPY, &c, MUST_FAIL, want, true, what);
		break;
	}
	case 17: {
		struct ualm_fault_read f;
		HDR(f);
		if (below(t, 2)) {
			f.max = 1 + below(t, 10);
			call(t, t->fd, UALM_IOC_FAULT_READ, &f, MUST_FAIL, E(2, EINVAL, EFAULT), true,
			     "fault_read NULL out");
		} else {
			f.max = UALM_MAX_BATCH + 1 + below(t, 1u << 31);
			f.out = (uintptr_t)scratch;
			call(t, t->fd, UALM_IOC_FAULT_READ, &f, MUST_FAIL, E(2, EINVAL, E2BIG), true,
			     "fault_read max too big");
		}
		break;
	}
	case 18: {
		/* Attach after the file created something, or with bad values. */
		struct ualm_attach a;
		HDR(a);
		a.abi = UALM_ABI_VERSION;
		a.accel = t->accel;
		if (t->nblk || some_range(t)) {
			call(t, t->fd, UALM_IOC_ATTACH, &a, MUST_FAIL, E(1, EBUSY), true, "attach after use");
		} else {
			a.abi = UALM_ABI_VERSION + 1 + below(t, 100);
			call(t, t->fd, UALM_IOC_ATTACH, &a, MUST_FAIL, E(1, EINVAL), true, "attach bad abi");
		}
		break;
	}
	case 19: {
		/* Unknown numbers in our magic, and ours with mangled size/direction.
		 * Pointing at NULL keeps even a lenient decoder from succeeding. */
		unsigned long cmd;
		if (below(t, 2))
			cmd = _IOC(below(t, 4), UALM_IOC_MAGIC, NR_CMDS + below(t, 256 - NR_CMDS),
				   below(t, 1 << 14));
		else
			cmd = cmd_of[below(t, NR_CMDS)] ^ ((1 + below(t, 0xfff)) << _IOC_SIZESHIFT);
		call(t, t->fd, cmd, NULL, MUST_FAIL, E(3, ENOTTY, EINVAL, EFAULT), false, "unknown ioctl");
		break;
	}
	}
}

/* ---- chaos on shared files ----------------------------------------------------- */

static void fill_random(struct thr *t, void *p, size_t len)
{
	uint8_t *b = p;

	for (size_t i = 0; i < len; i++)
		b[i] = rnd(t);
}

/* A plausible-looking random value for a u64 field: small, page-ish, pointer. */
static uint64_t chaos_u64(struct thr *t)
{
	switch (below(t, 8)) {
	case 0: return 0;
	case 1: return below(t, 64);
	case 2: return below(t, 4096) * PG;
	case 3: return (uintptr_t)scratch + below(t, (scratch_len - SCRATCH_SLACK) / PG) * PG;
	case 4: return bad_ptr(t);
	case 5: return ~0ull - below(t, 1 << 20);
	case 6: return 1ull << below(t, 64);
	default: return rnd(t);
	}
}

static void chaos_call(struct thr *t)
{
	int slot = below(t, NR_CMDS), k = below(t, nshared);
	size_t sz = size_of[slot];
	union {
		uint64_t u[64];
		struct ualm_hdr h;
		struct ualm_attach a;
		struct ualm_mem_rw rw;
		struct ualm_register rg;
		struct ualm_grant g;
		struct ualm_map_pfns m;
		struct ualm_dump d;
		struct ualm_fault_read f;
		struct ualm_translate x;
		struct ualm_copy c;
	} ub;
	uint64_t *buf = ub.u;

	/* u64-aligned fields get plausible values; everything may be garbage. */
	fill_random(t, buf, sizeof(ub));
	for (size_t i = sizeof(struct ualm_hdr) / 8; i < sz / 8; i++)
		buf[i] = chaos_u64(t);
	/* Every pointer-sized value aimed at our memory must be the scratch area:
	 * the kernel may write through output pointers. */
	for (size_t i = sizeof(struct ualm_hdr) / 8; i < sz / 8; i++) {
		uint64_t v = buf[i];
		if (v >= 0x1000 && v < (1ull << 47) &&
		    !(v >= (uintptr_t)scratch && v < (uintptr_t)scratch + scratch_len))
			buf[i] = v & 0xffffffffull;	/* below any mapping of ours */
	}
	struct ualm_hdr *h = &ub.h;
	h->argsz = chance(t, 90) ? sz : (uint32_t)rnd(t) % (2 * sz);
	if (h->argsz > sz)
		memset((uint8_t *)buf + sz, 0, sizeof(ub) - sz);
	h->flags = chance(t, 95) ? 0 : (uint32_t)rnd(t);
	/* Element counts past the scratch area would let the kernel write past it. */
	switch (slot) {
	case 9: ub.m.n &= 0xff; break;
	case 15: ub.d.max &= 0xff; break;
	case 18: ub.f.max &= 0xff; break;
	case 5: ub.rg.len &= 0x3fffff; break;	/* pfns out: <= 8 KiB */
	case 4: ub.rw.len &= 0xffff; break;
	}
	/* Keep chaos off the private accelerators (see chaos_accel()). */
	if (slot == 0)
		ub.a.accel = below(t, 2) ? chaos_accel() : finfo.num_accels + below(t, 9);
	if (slot == 7 || slot == 8)
		ub.g.target = chaos_accel();
	/* Chaos copies must not write into private blocks (v_rw reads them back). */
	if (slot == 16)
		ub.x.initiator = chaos_accel();
	if (slot == 17)
		ub.c.initiator = chaos_accel();
	call(t, atomic_load(&shared_fd[k]), cmd_of[slot], buf, ANY, NOERR, false, "chaos");
}

/* Replace a shared file while others may be inside ioctls on it. */
static void chaos_reopen(struct thr *t)
{
	int k = below(t, nshared), nfd = open(device, O_RDWR | O_CLOEXEC);

	if (nfd < 0)
		return;
	attach(t, nfd, chaos_accel(), "attach reopened file");
	dup2(nfd, atomic_load(&shared_fd[k]));	/* atomically drops the old file */
	close(nfd);
}

/* Open a file, attach somewhere, create things, close without cleaning up. */
static void transient_file(struct thr *t)
{
	int fd = open(device, O_RDWR | O_CLOEXEC);
	struct ualm_mem m;
	struct ualm_iova io;
	struct ualm_register rg;

	if (fd < 0) {
		report("open %s: %s\n", device, strerror(errno));
		atomic_fetch_add(&violations, 1);
		return;
	}
	uint32_t accel = chaos_accel();
	attach(t, fd, accel, "attach fresh file");
	HDR(m);
	m.size = (1 + below(t, 8)) * PG;
	bool have_mem = !call(t, fd, UALM_IOC_MEM_ALLOC, &m, MUST_OK, EXH, false, "transient alloc");
	if (virt()) {
		HDR(io);
		io.size = 64 * PG;
		io.flags = IOVA_PREALLOC;
		if (!call(t, fd, UALM_IOC_IOVA_ALLOC, &io, MUST_OK, EXH, false, "transient iova")) {
			struct ualm_link l;
			HDR(l);
			l.iova = io.iova;
			l.target = accel;
			l.prot = PROT_RW;
			l.n = have_mem ? 1 : 0;
			t->pfnbuf[0] = m.pfn;
			l.pfns = (uintptr_t)t->pfnbuf;
			if (l.n)
				call(t, fd, UALM_IOC_IOVA_LINK, &l, MUST_OK, E(1, ENOMEM), false, "transient link");
		}
	}
	HDR(rg);
	rg.addr = (uintptr_t)(scratch + below(t, 16) * PG);
	rg.len = PG * (1 + below(t, 8));
	rg.pfns = (uintptr_t)(scratch + 40 * PG);
	call(t, fd, UALM_IOC_MEM_REGISTER, &rg, ANY, NOERR, false, "transient register");
	close(fd);
}

/* ---- threads ------------------------------------------------------------------ */

static uint64_t deadline_ns, max_calls;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static uint64_t calls_so_far(void)
{
	uint64_t n = 0;

	for (int i = 0; i <= NR_CMDS; i++)
		for (int o = 0; o < OUT_N; o++)
			n += atomic_load(&counts[i][o]);
	return n;
}

static int open_private(struct thr *t)
{
	t->fd = open(device, O_RDWR | O_CLOEXEC);
	if (t->fd < 0) {
		report("open %s: %s\n", device, strerror(errno));
		return -1;
	}
	t->accel = t->id % private_accels();
	return attach(t, t->fd, t->accel, "attach") ? -1 : 0;
}

static void *worker(void *arg)
{
	struct thr *t = arg;

	while (!atomic_load(&stop)) {
		unsigned p = below(t, 100);

		if (p < 8) v_alloc(t);
		else if (p < 13) v_free(t);
		else if (p < 18) v_rw(t);
		else if (p < 24) v_register(t);
		else if (p < 36) v_iova(t);
		else if (p < 41) v_grant(t);
		else if (p < 47) v_misc(t);
		else if (p < 57) bad_header(t);
		else if (p < 58) grown_query(t);
		else if (p < 78) bad_semantics(t);
		else if (finfo.num_accels < 2) bad_semantics(t);
		else if (p < 97) chaos_call(t);
		else if (p < 99) chaos_reopen(t);
		else transient_file(t);

		if ((t->rng & 63) == 0) {
			if (now_ns() >= deadline_ns || (max_calls && calls_so_far() >= max_calls))
				atomic_store(&stop, true);
		}
	}
	return NULL;
}

/* ---- --hold: keep buffers pinned and ranges linked until killed ---------------- */

static void *holder(void *arg)
{
	struct thr *t = arg;
	size_t len = 64 * PG;
	uint8_t *buf = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct ualm_register rg;
	struct ualm_iova io;
	struct ualm_link l;
	struct ualm_part p;
	struct ualm_mem m;
	uint64_t iova = 0;

	memset(buf, 1, len);
	HDR(rg);
	rg.addr = (uintptr_t)buf;
	rg.len = len;
	rg.pfns = (uintptr_t)t->pfnbuf;
	if (call(t, t->fd, UALM_IOC_MEM_REGISTER, &rg, MUST_OK, NOERR, false, "hold register"))
		return NULL;
	HDR(m);
	m.size = 16 * PG;
	call(t, t->fd, UALM_IOC_MEM_ALLOC, &m, MUST_OK, NOERR, false, "hold alloc");
	if (virt()) {
		HDR(io);
		io.size = 2 * len;
		io.flags = t->id & 1 ? IOVA_PREALLOC : 0;
		call(t, t->fd, UALM_IOC_IOVA_ALLOC, &io, MUST_OK, NOERR, false, "hold iova");
		iova = io.iova;
		/* Leave the second half linked for good: the kill must clean it up. */
		HDR(l);
		l.iova = iova; l.offset = len; l.target = t->accel; l.prot = PROT_RW;
		l.n = 64; l.pfns = (uintptr_t)t->pfnbuf;
		call(t, t->fd, UALM_IOC_IOVA_LINK, &l, MUST_OK, NOERR, false, "hold link");
	}
	if (finfo.num_accels > 1) {
		struct ualm_grant g;
		HDR(g);
		g.target = t->accel; g.initiator = (t->accel + 1) % finfo.num_accels;
		g.pfn = m.pfn; g.npages = 16; g.prot = PROT_RW;
		call(t, t->fd, UALM_IOC_GRANT, &g, MUST_OK, NOERR, false, "hold grant");
	}
	if (t->id == 0) {
		printf("ioctl_stress: hold: ready (%d files with pinned pages, linked ranges, grants)\n",
		       (int)nshared);
		fflush(stdout);
	}
	/* Then link, sync, translate and unlink the first half, and re-register a
	 * second buffer, as fast as possible: SIGKILL lands inside one of these. */
	uint8_t *buf2 = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	memset(buf2, 2, len);
	for (;;) {
		if (virt()) {
			HDR(l);
			l.iova = iova; l.offset = 0; l.target = t->accel; l.prot = PROT_RW;
			l.n = 64; l.pfns = (uintptr_t)t->pfnbuf;
			call(t, t->fd, UALM_IOC_IOVA_LINK, &l, MUST_OK, NOERR, false, "hold relink");
			HDR(p);
			p.iova = iova; p.len = len;
			call(t, t->fd, UALM_IOC_IOVA_SYNC, &p, MUST_OK, NOERR, false, "hold sync");
			call(t, t->fd, UALM_IOC_IOVA_UNLINK, &p, MUST_OK, NOERR, false, "hold unlink");
		}
		HDR(rg);
		rg.addr = (uintptr_t)buf2; rg.len = len; rg.pfns = (uintptr_t)(t->pfnbuf + 64);
		call(t, t->fd, UALM_IOC_MEM_REGISTER, &rg, MUST_OK, EXH, false, "hold register 2");
		HDR(rg);
		rg.addr = (uintptr_t)buf2;
		call(t, t->fd, UALM_IOC_MEM_UNREGISTER, &rg, MUST_OK, E(1, ENOENT), false, "hold unregister 2");
	}
	return NULL;
}

/* ---- main ------------------------------------------------------------------------ */

static void usage(void)
{
	fprintf(stderr, "usage: ioctl_stress [--seconds S] [--seed N] [--threads T] [--calls N]\n"
			"                    [--device PATH] [--hold] [--verbose]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "seconds", required_argument, 0, 's' }, { "seed", required_argument, 0, 'r' },
		{ "threads", required_argument, 0, 't' }, { "calls", required_argument, 0, 'n' },
		{ "device", required_argument, 0, 'd' }, { "hold", no_argument, 0, 'H' },
		{ "verbose", no_argument, 0, 'v' }, { 0, 0, 0, 0 }
	};
	double seconds = 10;
	uint64_t seed = (uint64_t)time(NULL);
	int nthreads = 4, c;
	bool hold = false;
	char *end;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 's': seconds = strtod(optarg, &end); if (*end || seconds <= 0) usage(); break;
		case 'r': seed = strtoull(optarg, &end, 0); if (*end) usage(); break;
		case 't': nthreads = strtol(optarg, &end, 0); if (*end || nthreads < 1 || nthreads > 64) usage(); break;
		case 'n': max_calls = strtoull(optarg, &end, 0); if (*end) usage(); break;
		case 'd': device = optarg; break;
		case 'H': hold = true; break;
		case 'v': verbose = true; break;
		default: usage();
		}
	}
	if (optind != argc)
		usage();

	/* A guard page for bad pointers; a scratch area for chaos pointers. */
	guard = mmap(NULL, PG, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	scratch = mmap(NULL, scratch_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (guard == MAP_FAILED || scratch == MAP_FAILED) {
		perror("mmap");
		return 2;
	}

	int fd0 = open(device, O_RDWR | O_CLOEXEC);
	if (fd0 < 0) {
		fprintf(stderr, "ioctl_stress: open %s: %s\n", device, strerror(errno));
		return 2;
	}
	HDR(finfo);
	if (ioctl(fd0, UALM_IOC_QUERY, &finfo) < 0) {
		fprintf(stderr, "ioctl_stress: QUERY: %s: %.*s\n", strerror(errno), UALM_MSG_LEN, finfo.hdr.msg);
		return 2;
	}
	close(fd0);
	if (!finfo.num_accels || finfo.mem_size < 64 * PG) {
		fprintf(stderr, "ioctl_stress: fabric too small (%u accels, %llu bytes)\n", finfo.num_accels,
			(unsigned long long)finfo.mem_size);
		return 2;
	}
	printf("ioctl_stress: %s: %u accelerators, %llu MiB each, modes 0x%x, dma_bits %u; seed %llu, "
	       "%d threads, %s\n", device, finfo.num_accels, (unsigned long long)(finfo.mem_size >> 20),
	       finfo.modes, finfo.dma_bits, (unsigned long long)seed, nthreads,
	       hold ? "hold until killed" : "bounded run");
	fflush(stdout);

	struct thr *th = calloc(nthreads, sizeof(*th));
	pthread_t *tid = calloc(nthreads, sizeof(*tid));
	if (!th || !tid)
		return 2;
	nshared = hold ? nthreads : 4;
	for (int i = 0; i < nthreads; i++) {
		th[i].id = i;
		th[i].rng = seed * 0x9e3779b97f4a7c15ull + i + 1;
		th[i].arena = mmap(NULL, MAX_REG * REG_SLOT_PAGES * PG, PROT_READ | PROT_WRITE,
				   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		uint8_t *two = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (th[i].arena == MAP_FAILED || two == MAP_FAILED || mprotect(two + PG, PG, PROT_NONE) ||
		    open_private(&th[i]))
			return 2;
		th[i].tguard = two + PG;
	}
	if (hold) {
		for (int i = 0; i < nthreads; i++)
			pthread_create(&tid[i], NULL, holder, &th[i]);
		for (int i = 0; i < nthreads; i++)
			pthread_join(tid[i], NULL);
		fprintf(stderr, "ioctl_stress: hold: a holder thread stopped (see above)\n");
		return 1;
	}
	for (int i = 0; i < nshared; i++) {
		shared_fd[i] = open(device, O_RDWR | O_CLOEXEC);
		if (shared_fd[i] < 0 || attach(&th[0], shared_fd[i], chaos_accel(), "attach shared"))
			return 2;
	}
	uint64_t t0 = now_ns();
	deadline_ns = t0 + (uint64_t)(seconds * 1e9);
	for (int i = 0; i < nthreads; i++)
		pthread_create(&tid[i], NULL, worker, &th[i]);
	for (int i = 0; i < nthreads; i++)
		pthread_join(tid[i], NULL);
	double secs = (now_ns() - t0) / 1e9;

	/* The table: calls per ioctl and outcome. */
	printf("%-15s", "ioctl");
	for (int o = 0; o < OUT_N; o++)
		printf(" %10s", outcome_names[o]);
	printf("\n");
	uint64_t tot[OUT_N] = { 0 };
	for (int i = 0; i <= NR_CMDS; i++) {
		uint64_t row = 0;
		for (int o = 0; o < OUT_N; o++)
			row += counts[i][o];
		if (!row)
			continue;
		printf("%-15s", cmd_names[i]);
		for (int o = 0; o < OUT_N; o++) {
			printf(" %10llu", (unsigned long long)counts[i][o]);
			tot[o] += counts[i][o];
		}
		printf("\n");
	}
	printf("errnos:");
	for (int e = 0; e < 256; e++)
		if (errno_counts[e])
			printf(" %s=%llu", e ? strerrorname_np(e) ? strerrorname_np(e) : "?" : "0",
			       (unsigned long long)errno_counts[e]);
	printf("\n");
	uint64_t total = calls_so_far();
	uint64_t viol = atomic_load(&violations);
	printf("ioctl_stress: %llu calls in %.1f s (%.0f/s): %llu ok, %llu failed as required, "
	       "%llu exhausted, %llu chaos; %llu violations; seed %llu\n",
	       (unsigned long long)total, secs, total / secs, (unsigned long long)tot[OUT_OK],
	       (unsigned long long)tot[OUT_FAILED_AS_EXPECTED], (unsigned long long)tot[OUT_TOLERATED],
	       (unsigned long long)(tot[OUT_ANY_OK] + tot[OUT_ANY_ERR]), (unsigned long long)viol,
	       (unsigned long long)seed);
	return viol ? 1 : 0;
}
