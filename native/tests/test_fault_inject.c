// SPDX-License-Identifier: Apache-2.0
/*
 * test_fault_inject.c - make the N-th allocation fail, for N = 1, 2, ...
 * over every operation, until the operation no longer allocates past N.
 *
 * Each failure must return UAL_ENOMEM with a message, and leave the state
 * exactly as it was: ual_query() counters of every handle, the page tables
 * (ual_dump()) of every domain, the fault rings (empty) and the number of
 * live allocations (ual_compat_live_allocs(): nothing leaked, nothing
 * freed). Under `make test SAN=1` LeakSanitizer checks the process at
 * exit as well. The test prints how many allocation sites each operation
 * reached.
 */
#include "test_util.h"

#include "ual.h"

#define NDEV 3	/* accel 0, accel 1, a second handle on accel 0 */

struct fi {
	ual_dev *d[NDEV];
	u64 blk;		/* 2 MiB block of accel 0 */
	u64 blk1;		/* 64 KiB block of accel 1 */
	u64 iova, iova_pre;	/* ranges of d[0] */
	void *host;		/* 16 host pages */
	u64 host_pfns[16];
	u64 tmp, tmp_iova;	/* what the operation under test created */
	ual_dev *tmp_dev;
	ual_dev *named[2];
};

struct snap {
	struct ual_info info[NDEV];
	u64 count[2];
	struct ual_mapping map[2][64];
	u64 live;
};

static u64 total_sites;
/*
 * Device-memory backing (4 KiB pages allocated on first write) that a
 * failing write or copy allocated before the failing allocation stays
 * attached to the memory: it reads as zeros like unbacked memory and is
 * freed with it. Likewise the page-table pool's backing chunks (64 KiB,
 * allocated before any table page is taken, kept as pool capacity; the
 * pool's counters must not change). Walks of such calls allow live
 * allocations to grow, and check the bytes or counters instead.
 */
static bool backing_may_stay;

static void take(struct fi *f, struct snap *s)
{
	u32 k;

	memset(s, 0, sizeof(*s));
	for (k = 0; k < NDEV; k++) {
		assert_int_equal(ual_query(f->d[k], &s->info[k]), 0);
		s->info[k].tlb_hits = s->info[k].tlb_misses = 0;
	}
	for (k = 0; k < 2; k++)
		assert_int_equal(ual_dump(f->d[k], 0, 0, s->map[k], 64, &s->count[k]), 0);
	s->live = ual_compat_live_allocs();
}

static void same(const struct snap *a, const struct snap *b, const char *op, u64 n)
{
	u32 k;

	for (k = 0; k < NDEV; k++)
		if (memcmp(&a->info[k], &b->info[k], sizeof(a->info[k])))
			fail_msg("%s, allocation %llu failed: ual_query of handle %u changed", op,
				 (unsigned long long)n, k);
	for (k = 0; k < 2; k++)
		if (a->count[k] != b->count[k] || memcmp(a->map[k], b->map[k], sizeof(a->map[k])))
			fail_msg("%s, allocation %llu failed: page tables of accelerator %u changed",
				 op, (unsigned long long)n, k);
	if (backing_may_stay && b->live >= a->live)
		return;
	if (a->live != b->live)
		fail_msg("%s, allocation %llu failed: live allocations %llu -> %llu (%s)", op,
			 (unsigned long long)n, (unsigned long long)a->live,
			 (unsigned long long)b->live, b->live > a->live ? "leak" : "freed state");
}

static void no_faults(struct fi *f)
{
	struct ual_fault rec[4];
	u32 n, k;
	u64 lost;

	for (k = 0; k < 2; k++) {
		assert_int_equal(ual_fault_read(f->d[k], rec, 4, &n, &lost), 0);
		assert_int_equal(n, 0);
		assert_int_equal(lost, 0);
	}
}

/*
 * Fail allocation 1, 2, ... of @op until it succeeds; check each failure;
 * then @undo the success and check that the state is the initial one.
 * Return: the allocation sites the operation reached.
 */
static u64 walk(struct fi *f, const char *name, int (*op)(struct fi *), void (*undo)(struct fi *))
{
	struct snap before, after;
	u64 n;
	int ret;

	no_faults(f);
	for (n = 1; n < 10000; n++) {
		take(f, &before);
		ual_compat_fail_alloc_after(n);
		ret = op(f);
		ual_compat_fail_alloc_after(0);
		if (!ret)
			break;
		if (ret != UAL_ENOMEM)
			fail_msg("%s: allocation %llu failed, call returned %d (%s), not ENOMEM", name,
				 (unsigned long long)n, ret, ual_last_error());
		if (!strstr(ual_last_error(), "memory"))
			fail_msg("%s: message \"%s\" does not say out of memory", name,
				 ual_last_error());
		take(f, &after);
		same(&before, &after, name, n);
		no_faults(f);
	}
	if (n == 10000)
		fail_msg("%s never succeeded", name);
	if (undo)
		undo(f);
	take(f, &after);
	if (undo)
		same(&before, &after, name, 0);
	printf("  %-34s %3llu allocation site(s)\n", name, (unsigned long long)(n - 1));
	total_sites += n - 1;
	return n - 1;
}

/* ---- operations and their undo --------------------------------------------------- */
static int op_open(struct fi *f)
{
	return ual_open("fake:?accels=4&mem=64M&pt_pool=64", &f->tmp_dev);
}

static int op_open_named(struct fi *f)
{
	return ual_open("fake:fi-named?accels=2", &f->named[0]);
}

static int op_attach_named(struct fi *f)
{
	return ual_open("fake:fi-named", &f->named[1]);
}

static int op_open_peer(struct fi *f)
{
	return ual_open_peer(f->d[0], 2, &f->tmp_dev);
}

static void undo_tmp_dev(struct fi *f)
{
	ual_close(f->tmp_dev);
	f->tmp_dev = NULL;
}

static int op_mem_alloc(struct fi *f)
{
	return ual_mem_alloc(f->d[0], 64 * 1024, 64 * 1024, &f->tmp);
}

static void undo_mem_alloc(struct fi *f)
{
	assert_int_equal(ual_mem_free(f->d[0], f->tmp, 64 * 1024), 0);
}

static int op_mem_write(struct fi *f)
{
	static u8 buf[3 * 4096];

	memset(buf, 0x5a, sizeof(buf));
	/* Three never-written pages: their backing is allocated. */
	return ual_mem_write(f->d[0], (f->blk + 100) * 4096 + 2048, buf, sizeof(buf) - 4096);
}

/* A failed write must leave the bytes as they were (zeros). */
static int op_mem_write_checked(struct fi *f)
{
	static const u8 zero[2 * 4096];
	u8 now[2 * 4096];
	int ret = op_mem_write(f);

	if (ret) {
		assert_int_equal(ual_mem_read(f->d[0], (f->blk + 100) * 4096 + 2048, now, sizeof(now)), 0);
		assert_memory_equal(now, zero, sizeof(now));
	}
	return ret;
}

static int op_register(struct fi *f)
{
	return ual_mem_register(f->d[2], f->host, 8 * 4096, f->host_pfns);
}

static void undo_register(struct fi *f)
{
	assert_int_equal(ual_mem_unregister(f->d[2], f->host), 0);
}

static int op_register_second(struct fi *f)
{
	return ual_mem_register(f->d[0], (u8 *)f->host + 8 * 4096, 8 * 4096, f->host_pfns + 8);
}

static int op_grant(struct fi *f)
{
	return ual_grant(f->d[0], 0, 1, f->blk + 16, 16, UAL_PROT_RW);
}

static void undo_grant(struct fi *f)
{
	assert_int_equal(ual_revoke(f->d[0], 0, 1, f->blk + 16, 16), 0);
}

static int op_grant_first(struct fi *f)
{
	/* Accelerator 1's table is empty: its array is allocated now. */
	return ual_grant(f->d[1], 1, 0, f->blk1, 16, UAL_PROT_READ);
}

static int op_revoke_split_first(struct fi *f)
{
	return ual_revoke(f->d[1], 1, 0, f->blk1 + 4, 4);
}

static void undo_revoke_split_first(struct fi *f)
{
	assert_int_equal(ual_revoke(f->d[1], 1, 0, f->blk1, 4), 0);
	assert_int_equal(ual_revoke(f->d[1], 1, 0, f->blk1 + 8, 8), 0);
}

static int op_revoke_split(struct fi *f)
{
	/* The middle of the 64-page grant made in setup: one entry becomes two. */
	return ual_revoke(f->d[0], 0, 2, f->blk + 40, 8);
}

static void undo_revoke_split(struct fi *f)
{
	assert_int_equal(ual_grant(f->d[0], 0, 2, f->blk + 40, 8, UAL_PROT_READ), 0);
	/* The grant is now three entries; take them back whole and restore one. */
	assert_int_equal(ual_revoke(f->d[0], 0, 2, f->blk + 32, 64), 0);
	assert_int_equal(ual_grant(f->d[0], 0, 2, f->blk + 32, 64, UAL_PROT_READ), 0);
}

static int op_iova_alloc(struct fi *f)
{
	return ual_iova_alloc(f->d[0], 1 << 20, 0, &f->tmp_iova);
}

static int op_iova_alloc_pre(struct fi *f)
{
	/* 8 MiB: four new last-level tables, pool backing. (A domain's root is
	 * created on first use and kept, so accel 0, whose root exists.) */
	return ual_iova_alloc(f->d[0], 8ull << 20, UAL_IOVA_PREALLOC, &f->tmp_iova);
}

static void undo_iova_alloc(struct fi *f)
{
	assert_int_equal(ual_iova_free(f->d[0], f->tmp_iova), 0);
}

static void undo_iova_alloc_pre(struct fi *f)
{
	assert_int_equal(ual_iova_free(f->d[0], f->tmp_iova), 0);
}

static int op_link(struct fi *f)
{
	u64 pfns[20], k;

	for (k = 0; k < 20; k++)
		pfns[k] = f->blk + 3 * k;
	return ual_iova_link(f->d[0], f->iova, 0, 0, pfns, 20, UAL_PROT_RW);
}

static void undo_link(struct fi *f)
{
	assert_int_equal(ual_iova_unlink(f->d[0], f->iova, 0, 20 * 4096), 0);
}

/* 20 last-level tables: past the pool's first backing chunk (16 pages). */
static u64 bigpfns[20 * 512];

static int op_link_big(struct fi *f)
{
	u64 k;

	for (k = 0; k < UAL_ARRAY_SIZE(bigpfns); k++)
		bigpfns[k] = f->blk + (k * 3) % 512;	/* no 2 MiB or 64 KiB runs */
	return ual_iova_link(f->d[1], f->tmp_iova, 0, 0, bigpfns, UAL_ARRAY_SIZE(bigpfns),
			     UAL_PROT_READ);
}

static void undo_link_big(struct fi *f)
{
	assert_int_equal(ual_iova_unlink(f->d[1], f->tmp_iova, 0, sizeof(bigpfns) / 8 * 4096), 0);
}

static int op_link_pre(struct fi *f)
{
	u64 pfns[20], k;

	for (k = 0; k < 20; k++)
		pfns[k] = f->blk + 3 * k;
	return ual_iova_link(f->d[0], f->iova_pre, 4096, 0, pfns, 20, UAL_PROT_READ);
}

static void undo_link_pre(struct fi *f)
{
	assert_int_equal(ual_iova_unlink(f->d[0], f->iova_pre, 4096, 20 * 4096), 0);
}

static int op_link_host(struct fi *f)
{
	return ual_iova_link(f->d[0], f->iova, 64 * 4096, 0, f->host_pfns + 8, 8, UAL_PROT_RW);
}

static void undo_link_host(struct fi *f)
{
	assert_int_equal(ual_iova_unlink(f->d[0], f->iova, 64 * 4096, 8 * 4096), 0);
}

static int op_copy(struct fi *f)
{
	/* Accelerator 1 copies its (granted) view of accel 0 into its own
	 * never-written memory: destination pages get backing. */
	struct ual_faddr src = { (f->blk + 32) * 4096, UAL_ROUTE(0), 0 };
	struct ual_faddr dst = { (f->blk1 + 5) * 4096 + 3840, UAL_ROUTE(1), 0 };

	return ual_copy(f->d[1], 1, &dst, &src, 2 * 4096);
}

/* A failed copy must leave the destination as it was (zeros). */
static int op_copy_checked(struct fi *f)
{
	static const u8 zero[2 * 4096];
	u8 now[2 * 4096];
	int ret = op_copy(f);

	if (ret) {
		assert_int_equal(ual_mem_read(f->d[1], (f->blk1 + 5) * 4096 + 3840, now, sizeof(now)), 0);
		assert_memory_equal(now, zero, sizeof(now));
	}
	return ret;
}

static int op_translate(struct fi *f)
{
	struct ual_faddr fa = { (f->blk + 33) * 4096, UAL_ROUTE(0), 0 };
	struct ual_xlate x;

	return ual_translate(f->d[1], 2, &fa, UAL_ACCESS_READ, &x);
}

static int op_map_pfns(struct fi *f)
{
	struct ual_faddr out[2];
	u64 pfns[2] = { f->blk, f->host_pfns[9] };

	return ual_map_pfns(f->d[0], 0, pfns, 2, UAL_PROT_READ, out);
}

static int op_dump_query(struct fi *f)
{
	struct ual_info info;
	struct ual_mapping m[4];
	u64 count;
	int ret = ual_query(f->d[0], &info);

	return ret ? ret : ual_dump(f->d[0], 0, 0, m, 4, &count);
}

/* ---- the test ------------------------------------------------------------------------ */
static void setup(struct fi *f)
{
	u64 pfn;

	memset(f, 0, sizeof(*f));
	assert_int_equal(ual_open("fake:?accels=3&mem=64M&pt_pool=256&tlb=64&faults=16", &f->d[0]), 0);
	assert_int_equal(ual_open_peer(f->d[0], 1, &f->d[1]), 0);
	assert_int_equal(ual_open_peer(f->d[0], 0, &f->d[2]), 0);
	assert_int_equal(ual_mem_alloc(f->d[0], 2 << 20, 2 << 20, &f->blk), 0);
	assert_int_equal(ual_mem_alloc(f->d[1], 64 << 10, 0, &f->blk1), 0);
	assert_int_equal(ual_iova_alloc(f->d[0], 4 << 20, 0, &f->iova), 0);
	assert_int_equal(ual_iova_alloc(f->d[0], 1 << 20, UAL_IOVA_PREALLOC, &f->iova_pre), 0);
	assert_int_equal(ual_grant(f->d[0], 0, 2, f->blk + 32, 64, UAL_PROT_READ), 0);
	assert_int_equal(ual_grant(f->d[0], 0, 1, f->blk + 32, 8, UAL_PROT_READ), 0);
	f->host = aligned_alloc(4096, 16 * 4096);
	assert_non_null(f->host);
	memset(f->host, 0x11, 16 * 4096);
	(void)pfn;
}

static void teardown(struct fi *f)
{
	int k;

	for (k = NDEV; k-- > 0;)
		ual_close(f->d[k]);
	free(f->host);
}

static void test_walk_every_operation(void **state)
{
	u64 base = ual_compat_live_allocs();
	struct fi f;
	u64 n;

	(void)state;
	setup(&f);
	printf("  fault injection: allocation N fails, N = 1.. until the call succeeds\n");
	n = walk(&f, "open (4 accelerators)", op_open, undo_tmp_dev);
	assert_true(n >= 4 * 6);
	walk(&f, "open named fabric", op_open_named, NULL);
	walk(&f, "attach to named fabric", op_attach_named, NULL);
	ual_close(f.named[1]);
	ual_close(f.named[0]);
	assert_true(walk(&f, "open_peer", op_open_peer, undo_tmp_dev) >= 1);
	assert_true(walk(&f, "mem_alloc", op_mem_alloc, undo_mem_alloc) >= 1);
	backing_may_stay = true;
	assert_true(walk(&f, "mem_write (backing pages)", op_mem_write_checked, NULL) >= 3);
	backing_may_stay = false;
	/* No exact undo: the handle keeps its address index once created. */
	assert_true(walk(&f, "mem_register (first of a handle)", op_register, NULL) >= 2);
	undo_register(&f);
	assert_true(walk(&f, "mem_register (second)", op_register_second, NULL) >= 1);
	walk(&f, "grant", op_grant, undo_grant);
	walk(&f, "revoke (split)", op_revoke_split, undo_revoke_split);
	walk(&f, "grant (first of a table)", op_grant_first, NULL);
	for (n = 0; n < 15; n++)	/* 16 entries: the array is full */
		assert_int_equal(ual_grant(f.d[1], 1, 2, f.blk1 + n, 1, UAL_PROT_READ), 0);
	assert_true(walk(&f, "revoke (split, table grows)", op_revoke_split_first, NULL) >= 1);
	for (n = 0; n < 15; n++)
		assert_int_equal(ual_revoke(f.d[1], 1, 2, f.blk1 + n, 1), 0);
	undo_revoke_split_first(&f);
	assert_true(walk(&f, "iova_alloc", op_iova_alloc, undo_iova_alloc) >= 1);
	assert_true(walk(&f, "iova_alloc PREALLOC", op_iova_alloc_pre, undo_iova_alloc_pre) >= 1);
	walk(&f, "iova_link (table pages)", op_link, undo_link);
	assert_int_equal(walk(&f, "iova_link on PREALLOC range", op_link_pre, undo_link_pre), 0);
	walk(&f, "iova_link (host pages)", op_link_host, undo_link_host);
	assert_int_equal(ual_iova_alloc(f.d[1], 64 << 20, 0, &f.tmp_iova), 0);
	/* The domain's root table is created on first use and kept. */
	assert_int_equal(ual_iova_link(f.d[1], f.tmp_iova, 0, 0, &f.blk, 1, UAL_PROT_READ), 0);
	assert_int_equal(ual_iova_unlink(f.d[1], f.tmp_iova, 0, 4096), 0);
	backing_may_stay = true;
	assert_true(walk(&f, "iova_link (pool backing)", op_link_big, undo_link_big) >= 1);
	backing_may_stay = false;
	assert_int_equal(ual_iova_free(f.d[1], f.tmp_iova), 0);
	{
		u8 z[2 * 4096], want[2 * 4096];

		backing_may_stay = true;
		assert_true(walk(&f, "copy (destination backing)", op_copy_checked, NULL) >= 1);
		backing_may_stay = false;
		assert_int_equal(ual_mem_read(f.d[0], (f.blk + 32) * 4096, want, sizeof(want)), 0);
		assert_int_equal(ual_mem_read(f.d[1], (f.blk1 + 5) * 4096 + 3840, z, sizeof(z)), 0);
		assert_memory_equal(z, want, sizeof(z));
	}
	assert_int_equal(walk(&f, "translate", op_translate, NULL), 0);
	assert_int_equal(walk(&f, "map_pfns", op_map_pfns, NULL), 0);
	assert_int_equal(walk(&f, "query + dump", op_dump_query, NULL), 0);
	printf("  total: %llu allocation sites failed and checked\n", (unsigned long long)total_sites);

	/* Close allocates nothing: with every allocation failing it still
	 * frees everything. */
	ual_compat_fail_alloc_after(1);
	teardown(&f);
	ual_compat_fail_alloc_after(0);
	assert_int_equal(ual_compat_live_allocs(), base);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_walk_every_operation),
	};

	return cmocka_run_group_tests_name("fault_inject", tests, NULL, NULL);
}
