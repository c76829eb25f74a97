// SPDX-License-Identifier: Apache-2.0
/*
 * test_soak.c - several threads, one accelerator each on a shared named
 * fabric, doing random operations for a bounded time (UAL_SOAK_SECONDS,
 * default 8; UAL_SOAK_THREADS, default 4): device memory, IOVA ranges with
 * and without prealloc, links of their own and of other accelerators'
 * pages, syncs, unlinks, grants and revokes of their own pages, translations
 * and copies into other accelerators (granted or not), local copies whose
 * bytes are checked, fault-ring drains.
 *
 * Each thread knows its own domain and its own grants, so every result is
 * checked as it happens; refused requests are counted. At the end: every
 * domain's page tables and counters equal what its thread holds, every
 * fault is accounted for (records read + overflow count == refused
 * requests that reached the ring), everything is closed and the live
 * allocation count is back to where it started (LeakSanitizer under
 * SAN=1 checks the rest). Prints operations done, faults seen, lost = 0.
 */
#include <pthread.h>
#include <time.h>

#include "test_util.h"

#include "ual.h"

#define PG		4096ull
#define MAXT		8
#define NBLK		8	/* blocks of 16 pages per thread */
#define NRANGE		4	/* ranges of 64 pages per thread */
#define RPAGES		64

struct range_m {
	u64 iova;
	u32 flags;
	bool live;
	u8 linked[RPAGES];	/* 0 no, else 1 + target */
	u64 pfn[RPAGES];
};

struct worker {
	pthread_t th;
	u32 id, nthreads;
	ual_dev *d;
	u64 seed;
	u64 blk[NBLK];
	bool granted[NBLK];	/* to initiator (id + 1) % n, read only */
	struct range_m r[NRANGE];
	u64 ops, refused, copies_checked, records, lost;
	u64 deadline_ns;
};

static ual_atomic64_t expected_faults[MAXT];	/* pushes into each accelerator's ring */
static struct worker W[MAXT];
static volatile u64 shared_blk[MAXT][NBLK];	/* published block PFNs (stable) */

static u64 now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (u64)ts.tv_sec * 1000000000ull + (u64)ts.tv_nsec;
}

#define FAILW(w, ...)							\
	do {								\
		fprintf(stderr, "soak thread %u: ", (w)->id);		\
		fprintf(stderr, __VA_ARGS__);				\
		fprintf(stderr, " (%s)\n", ual_last_error());		\
		abort();						\
	} while (0)
#define CHECKW(w, c, ...) do { if (!(c)) FAILW(w, __VA_ARGS__); } while (0)

static void drain(struct worker *w)
{
	struct ual_fault rec[64];
	u32 n, k;
	u64 lost;

	do {
		CHECKW(w, ual_fault_read(w->d, rec, 64, &n, &lost) == 0, "fault_read");
		for (k = 0; k < n; k++)
			CHECKW(w, rec[k].reason >= UAL_FAULT_NOT_PRESENT &&
			       rec[k].reason <= UAL_FAULT_GRANT_PROT, "fault reason %u", rec[k].reason);
		w->records += n;
		w->lost += lost;
	} while (n == 64);
}

/* A refused request by @w: its ring, and the target's if the target refused. */
static void count_refusal(struct worker *w, int ret, u32 target)
{
	w->refused++;
	ual_atomic64_add(&expected_faults[w->id], 1);
	if (ret == UAL_EACCES && target != w->id)
		ual_atomic64_add(&expected_faults[target], 1);
}

static void op_link(struct worker *w, struct range_m *r)
{
	u32 off = test_rand(&w->seed) % RPAGES, n = 1 + test_rand(&w->seed) % 16, k;
	u32 t = test_rand(&w->seed) % 3 ? w->id : test_rand(&w->seed) % w->nthreads;
	u64 pfns[16], base = shared_blk[t][test_rand(&w->seed) % NBLK];
	bool free_pages = true;
	int ret;

	if (off + n > RPAGES)
		n = RPAGES - off;
	for (k = 0; k < n; k++) {
		pfns[k] = base + (test_rand(&w->seed) % 16);
		free_pages &= !r->linked[off + k];
	}
	ret = ual_iova_link(w->d, r->iova, off * PG, t, pfns, n, UAL_PROT_RW);
	CHECKW(w, free_pages ? ret == 0 || (ret == UAL_ENOMEM && !(r->flags & UAL_IOVA_PREALLOC))
			      : ret == UAL_EBUSY, "link: %d (free %d)", ret, free_pages);
	if (ret)
		return;
	for (k = 0; k < n; k++) {
		r->linked[off + k] = (u8)(1 + t);
		r->pfn[off + k] = pfns[k];
	}
	CHECKW(w, ual_iova_sync(w->d, r->iova, off * PG, n * PG) == 0, "sync");
}

static void op_unlink(struct worker *w, struct range_m *r)
{
	u32 off = test_rand(&w->seed) % RPAGES, n = 1, k;

	while (off + n < RPAGES && r->linked[off + n] && n < 8)
		n++;
	if (!r->linked[off]) {
		CHECKW(w, ual_iova_unlink(w->d, r->iova, off * PG, PG) == UAL_ENOENT, "unlink absent");
		return;
	}
	for (k = 0; k < n && r->linked[off + k]; k++)
		;
	CHECKW(w, ual_iova_unlink(w->d, r->iova, off * PG, k * PG) == 0, "unlink");
	memset(&r->linked[off], 0, k);
}

static void op_translate(struct worker *w, struct range_m *r)
{
	u32 p = test_rand(&w->seed) % RPAGES, t;
	struct ual_faddr fa = { r->iova + p * PG + 64 * (test_rand(&w->seed) % 64), 0, 0 };
	struct ual_xlate x;
	int ret = ual_translate(w->d, w->id, &fa, UAL_ACCESS_READ, &x);

	if (!r->linked[p]) {
		CHECKW(w, ret == UAL_EFAULT, "translate of an unlinked page: %d", ret);
		count_refusal(w, ret, w->id);
		return;
	}
	t = r->linked[p] - 1u;
	if (t == w->id) {
		CHECKW(w, ret == 0 && x.target == t && x.phys >> 12 == r->pfn[p],
		       "local translate: %d", ret);
		return;
	}
	/* Another accelerator's page: its thread's grants decide. */
	CHECKW(w, ret == 0 || ret == UAL_EACCES, "remote translate: %d", ret);
	if (ret)
		count_refusal(w, ret, t);
	else
		CHECKW(w, x.target == t && x.phys >> 12 == r->pfn[p], "remote translate result");
}

/* Local copy through an IOVA: bytes written must arrive. */
static void op_copy_local(struct worker *w)
{
	u64 src = w->blk[test_rand(&w->seed) % NBLK], dst = w->blk[test_rand(&w->seed) % NBLK];
	struct range_m *r = NULL;
	u8 pat[512], got[512];
	struct ual_faddr sa, d;
	u32 k;
	int ret;

	for (k = 0; k < NRANGE; k++)
		if (w->r[k].live && !w->r[k].linked[RPAGES - 1]) {
			r = &w->r[k];
			break;
		}
	if (!r || src == dst)
		return;
	sa = (struct ual_faddr){ r->iova + (RPAGES - 1) * PG + 1024, 0, 0 };
	d = (struct ual_faddr){ dst * PG + 2048, UAL_ROUTE(w->id), 0 };
	for (k = 0; k < sizeof(pat); k++)
		pat[k] = (u8)test_rand(&w->seed);
	CHECKW(w, ual_mem_write(w->d, src * PG + 1024, pat, sizeof(pat)) == 0, "mem_write");
	ret = ual_iova_link(w->d, r->iova, (RPAGES - 1) * PG, w->id, &src, 1, UAL_PROT_READ);
	if (ret == UAL_ENOMEM && !(r->flags & UAL_IOVA_PREALLOC))
		return;	/* page-table pool exhausted by the other threads */
	CHECKW(w, ret == 0, "link for copy: %d", ret);
	CHECKW(w, ual_iova_sync(w->d, r->iova, (RPAGES - 1) * PG, PG) == 0, "sync");
	CHECKW(w, ual_copy(w->d, w->id, &d, &sa, sizeof(pat)) == 0, "local copy");
	CHECKW(w, ual_mem_read(w->d, dst * PG + 2048, got, sizeof(got)) == 0, "mem_read");
	CHECKW(w, !memcmp(got, pat, sizeof(pat)), "copied bytes differ");
	CHECKW(w, ual_iova_unlink(w->d, r->iova, (RPAGES - 1) * PG, PG) == 0, "unlink");
	w->copies_checked++;
}

/* Copy from another accelerator's block: granted (success) or refused. */
static void op_copy_remote(struct worker *w)
{
	u32 t = test_rand(&w->seed) % w->nthreads;
	struct ual_faddr s = { shared_blk[t][test_rand(&w->seed) % NBLK] * PG, UAL_ROUTE(t), 0 };
	struct ual_faddr d = { w->blk[0] * PG, UAL_ROUTE(w->id), 0 };
	int ret = ual_copy(w->d, w->id, &d, &s, 256);

	if (t == w->id) {
		CHECKW(w, ret == 0, "own copy: %d", ret);
		return;
	}
	CHECKW(w, ret == 0 || ret == UAL_EACCES, "remote copy: %d", ret);
	if (ret)
		count_refusal(w, ret, t);
}

static void op_grant(struct worker *w)
{
	u32 b = test_rand(&w->seed) % NBLK, i = (w->id + 1) % w->nthreads;

	if (i == w->id)
		return;
	if (w->granted[b])
		CHECKW(w, ual_revoke(w->d, w->id, i, w->blk[b], 16) == 0, "revoke");
	else
		CHECKW(w, ual_grant(w->d, w->id, i, w->blk[b], 16, UAL_PROT_READ) == 0, "grant");
	w->granted[b] = !w->granted[b];
}

static void op_range(struct worker *w, struct range_m *r)
{
	u32 k;

	if (r->live) {
		for (k = 0; k < RPAGES; k++)
			if (r->linked[k]) {
				u32 n = 1;

				while (k + n < RPAGES && r->linked[k + n])
					n++;
				CHECKW(w, ual_iova_unlink(w->d, r->iova, k * PG, n * PG) == 0, "unlink run");
				memset(&r->linked[k], 0, n);
			}
		CHECKW(w, ual_iova_free(w->d, r->iova) == 0, "iova_free");
		r->live = false;
		return;
	}
	r->flags = test_rand(&w->seed) & 1 ? UAL_IOVA_PREALLOC : 0;
	if (ual_iova_alloc(w->d, RPAGES * PG, r->flags, &r->iova) == 0)
		r->live = true;
}

static void *run(void *arg)
{
	struct worker *w = arg;
	u64 before;

	while (now_ns() < w->deadline_ns) {
		struct range_m *r = &w->r[test_rand(&w->seed) % NRANGE];
		u32 op = test_rand(&w->seed) % 16;

		w->ops++;
		if (op == 0) {
			op_range(w, r);
			continue;
		}
		if (op == 1) {
			op_grant(w);
			continue;
		}
		if (op == 2) {
			op_copy_local(w);
			continue;
		}
		if (op == 3) {
			op_copy_remote(w);
			continue;
		}
		if (op == 4) {
			drain(w);
			continue;
		}
		if (!r->live)
			continue;
		if (op < 9) {
			before = ual_alloc_count(w->d);
			op_link(w, r);
			CHECKW(w, !(r->flags & UAL_IOVA_PREALLOC) || ual_alloc_count(w->d) >= before,
			       "alloc count went back");
		} else if (op < 12) {
			op_unlink(w, r);
		} else {
			op_translate(w, r);
		}
	}
	return NULL;
}

/* The domain and grants of @w are what it holds. */
static void consistent(struct worker *w)
{
	struct ual_info info;
	u64 pages = 0, ranges = 0, grants = 0, count, k;
	u32 j;

	for (j = 0; j < NRANGE; j++) {
		if (!w->r[j].live)
			continue;
		ranges++;
		for (k = 0; k < RPAGES; k++)
			pages += !!w->r[j].linked[k];
	}
	for (j = 0; j < NBLK; j++)
		grants += w->granted[j];
	CHECKW(w, ual_query(w->d, &info) == 0, "query");
	CHECKW(w, info.mapped_pages == pages && info.iova_ranges == ranges && info.grants == grants,
	       "counters: mapped %llu/%llu ranges %llu/%llu grants %llu/%llu",
	       (unsigned long long)info.mapped_pages, (unsigned long long)pages,
	       (unsigned long long)info.iova_ranges, (unsigned long long)ranges,
	       (unsigned long long)info.grants, (unsigned long long)grants);
	CHECKW(w, ual_dump(w->d, 0, 0, NULL, 0, &count) == 0, "dump");
	/* Every leaf is a 4 KiB page here (scattered PFNs, 64-page ranges). */
	CHECKW(w, count <= pages, "dump has %llu leaves for %llu pages", (unsigned long long)count,
	       (unsigned long long)pages);
	for (j = 0; j < NRANGE; j++) {
		struct ual_xlate x;

		if (!w->r[j].live)
			continue;
		for (k = 0; k < RPAGES; k++) {
			struct ual_faddr fa = { w->r[j].iova + k * PG, 0, 0 };
			int ret;

			ual_iova_sync(w->d, w->r[j].iova, k * PG, PG);
			ret = ual_translate(w->d, w->id, &fa, UAL_ACCESS_READ, &x);
			if (!w->r[j].linked[k]) {
				CHECKW(w, ret == UAL_EFAULT, "final: unlinked page translates");
				count_refusal(w, ret, w->id);
			} else if (w->r[j].linked[k] - 1u == w->id || ret == 0) {
				CHECKW(w, ret == 0 && x.phys >> 12 == w->r[j].pfn[k], "final: page differs");
			} else {
				count_refusal(w, ret, w->r[j].linked[k] - 1u);
			}
		}
	}
}

static void test_soak(void **state)
{
	const char *sec = getenv("UAL_SOAK_SECONDS"), *thr = getenv("UAL_SOAK_THREADS");
	u64 seconds = sec ? strtoull(sec, NULL, 10) : 8, base = ual_compat_live_allocs();
	u32 n = thr ? (u32)strtoul(thr, NULL, 10) : 4, t, b;
	u64 ops = 0, refused = 0, records = 0, lost = 0, copies = 0, expect = 0;
	ual_dev *anchor;
	char uri[128];

	(void)state;
	if (n < 2 || n > MAXT)
		n = 4;
	snprintf(uri, sizeof(uri), "fake:soak?accels=%u&mem=64M&pt_pool=512&tlb=64&faults=64", n);
	assert_int_equal(ual_open(uri, &anchor), 0);
	for (t = 0; t < n; t++) {
		struct worker *w = &W[t];

		memset(w, 0, sizeof(*w));
		w->id = t;
		w->nthreads = n;
		w->seed = 0x9e3779b97f4a7c15ull * (t + 1);
		w->deadline_ns = now_ns() + seconds * 1000000000ull;
		ual_atomic64_set(&expected_faults[t], 0);
		assert_int_equal(ual_open_peer(anchor, t, &w->d), 0);
		for (b = 0; b < NBLK; b++) {
			assert_int_equal(ual_mem_alloc(w->d, 16 * PG, 0, &w->blk[b]), 0);
			shared_blk[t][b] = w->blk[b];
		}
	}
	for (t = 0; t < n; t++)
		assert_int_equal(pthread_create(&W[t].th, NULL, run, &W[t]), 0);
	for (t = 0; t < n; t++)
		assert_int_equal(pthread_join(W[t].th, NULL), 0);
	for (t = 0; t < n; t++)
		consistent(&W[t]);
	for (t = 0; t < n; t++) {
		drain(&W[t]);
		ops += W[t].ops;
		refused += W[t].refused;
		records += W[t].records;
		lost += W[t].lost;
		copies += W[t].copies_checked;
		expect = ual_atomic64_read(&expected_faults[t]);
		if (W[t].records + W[t].lost != expect)
			fail_msg("accelerator %u: %llu records + %llu overflowed != %llu refused requests",
				 t, (unsigned long long)W[t].records, (unsigned long long)W[t].lost,
				 (unsigned long long)expect);
	}
	for (t = 0; t < n; t++)
		ual_close(W[t].d);
	ual_close(anchor);
	printf("  soak: %u threads, %llu s: %llu operations, %llu refused requests, %llu fault records "
	       "read + %llu counted as ring overflow (unaccounted: 0), %llu local copies verified, "
	       "live allocations after close: %lld\n", n, (unsigned long long)seconds,
	       (unsigned long long)ops, (unsigned long long)refused, (unsigned long long)records,
	       (unsigned long long)lost, (unsigned long long)copies,
	       (long long)(ual_compat_live_allocs() - base));
	assert_int_equal(ual_compat_live_allocs(), base);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_soak),
	};

	return cmocka_run_group_tests_name("soak", tests, NULL, NULL);
}
