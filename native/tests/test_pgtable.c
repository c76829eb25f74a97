// SPDX-License-Identifier: Apache-2.0
/* Page tables: leaf size selection, dump, unlink rules, pool exhaustion
 * (all or nothing), reclaim-safe prealloc (zero allocations, pins,
 * stash), and the 5-level layout. */
#include "test_util.h"
#include "core/pgtable.h"

#define SZ_4K	KiB(4)
#define SZ_64K	KiB(64)
#define SZ_2M	MiB(2)

static ual_atomic64_t ctr;

static void fill(u64 *pfns, u64 n, u64 first)
{
	u64 i;

	for (i = 0; i < n; i++)
		pfns[i] = first + i;
}

static u64 dump_all(struct pgtable *pt, struct ual_mapping *m, u64 max)
{
	return pt_dump(pt, 0, ~0ull, m, max);
}

static void test_levels(void **state)
{
	(void)state;
	assert_int_equal(pt_levels_for(21), 1);
	assert_int_equal(pt_levels_for(30), 2);
	assert_int_equal(pt_levels_for(39), 3);
	assert_int_equal(pt_levels_for(48), 4);
	assert_int_equal(pt_levels_for(49), 5);
	assert_int_equal(pt_levels_for(57), 5);
}

static void test_leaf_sizes(void **state)
{
	static u64 pfns[512 + 16 + 3];
	struct pt_range r = { .prealloc = false, .stash = { PT_NONE, 0 } };
	struct ual_mapping m[8];
	struct pgtable pt;
	struct pt_leaf leaf;
	u64 skip, n;

	(void)state;
	assert_int_equal(pt_init(&pt, 48, 64, &ctr), 0);
	/* 2 MiB-aligned IOVA, 512 contiguous 512-aligned PFNs, then 16
	 * contiguous 16-aligned ones, then 3 singles. */
	fill(pfns, 512, 0x1000);
	fill(pfns + 512, 16, 0x2010);
	pfns[528] = 0x5000;
	pfns[529] = 0x7000;
	pfns[530] = 0x7001;
	assert_int_equal(pt_link(&pt, &r, SZ_2M, pfns, 531, 3, UAL_PROT_RW, NULL), 0);
	assert_int_equal(pt.mapped, 531);
	n = dump_all(&pt, m, 8);
	assert_int_equal(n, 5);
	assert_int_equal(m[0].iova, SZ_2M);
	assert_int_equal(m[0].size, SZ_2M);
	assert_int_equal(m[0].level, 2);
	assert_int_equal(m[0].phys, 0x1000ull << 12);
	assert_int_equal(m[0].target, 3);
	assert_int_equal(m[0].prot, UAL_PROT_RW);
	assert_int_equal(m[1].iova, 2 * SZ_2M);
	assert_int_equal(m[1].size, SZ_64K);
	assert_int_equal(m[1].level, 1);
	assert_int_equal(m[1].phys, 0x2010ull << 12);
	assert_int_equal(m[2].size, SZ_4K);
	assert_int_equal(m[2].iova, 2 * SZ_2M + SZ_64K);
	assert_int_equal(m[4].iova, 2 * SZ_2M + SZ_64K + 2 * SZ_4K);
	assert_int_equal(m[4].phys, 0x7001ull << 12);

	/* Lookup inside the 64 KiB group gives the group and the page PFN. */
	assert_true(pt_lookup(&pt, 2 * SZ_2M + 5 * SZ_4K + 8, &leaf, &skip));
	assert_int_equal(leaf.size, SZ_64K);
	assert_int_equal(leaf.iova, 2 * SZ_2M);
	assert_int_equal(leaf.pfn, 0x2010);
	assert_true(pt_lookup(&pt, SZ_2M + 0x12345, &leaf, &skip));
	assert_int_equal(leaf.size, SZ_2M);
	assert_int_equal(leaf.pfn, 0x1000);
	assert_false(pt_lookup(&pt, 0, &leaf, &skip));
	assert_int_equal(skip, SZ_2M);	/* the whole empty level-1 slot */

	/* Window: entries whose IOVA lies inside. */
	assert_int_equal(pt_dump(&pt, SZ_2M + SZ_4K, 3 * SZ_2M, m, 8), 4);
	assert_int_equal(pt_dump(&pt, 2 * SZ_2M + SZ_4K, 2 * SZ_2M + SZ_64K + SZ_4K, m, 8), 1);
	/* Count exceeds max: count is still exact. */
	assert_int_equal(pt_dump(&pt, 0, ~0ull, m, 2), 5);

	/* Unaligned PFNs or IOVA fall back to 4 KiB. */
	fill(pfns, 16, 0x3001);
	assert_int_equal(pt_link(&pt, &r, 8 * SZ_2M, pfns, 16, 0, UAL_PROT_READ, NULL), 0);
	assert_int_equal(pt_dump(&pt, 8 * SZ_2M, 9 * SZ_2M, m, 8), 16);
	assert_int_equal(m[0].size, SZ_4K);
	assert_int_equal(m[0].prot, UAL_PROT_READ);
	fill(pfns, 16, 0x3000);
	assert_int_equal(pt_link(&pt, &r, 10 * SZ_2M + SZ_4K, pfns, 16, 0, UAL_PROT_READ, NULL), 0);
	assert_int_equal(pt_dump(&pt, 10 * SZ_2M, 11 * SZ_2M, m, 8), 16);
	pt_destroy(&pt);
}

static void test_busy_and_unlink_rules(void **state)
{
	static u64 pfns[512];
	struct pt_range r = { .prealloc = false, .stash = { PT_NONE, 0 } };
	struct ual_err err = { .op = "t" };
	struct ual_mapping m[4];
	struct pgtable pt;
	u32 used;

	(void)state;
	assert_int_equal(pt_init(&pt, 48, 64, &ctr), 0);
	fill(pfns, 512, 0x200);
	assert_int_equal(pt_link(&pt, &r, SZ_2M, pfns, 512, 1, UAL_PROT_RW, &err), 0);
	fill(pfns, 16, 0x20);
	assert_int_equal(pt_link(&pt, &r, 2 * SZ_2M, pfns, 16, 1, UAL_PROT_RW, &err), 0);
	used = pt_pages_in_use(&pt);

	/* Linking over present pages: EBUSY naming the page, no change. */
	assert_int_equal(pt_link(&pt, &r, SZ_2M + 5 * SZ_4K, pfns, 1, 1, UAL_PROT_RW, &err),
			 UAL_EBUSY);
	assert_msg_contains(err.msg, "0x205000");
	assert_int_equal(pt_link(&pt, &r, 2 * SZ_2M - SZ_4K, pfns, 3, 1, UAL_PROT_RW, &err),
			 UAL_EBUSY);
	assert_msg_contains(err.msg, "0x3ff000");	/* inside the 2 MiB leaf */
	assert_int_equal(pt_dump(&pt, 2 * SZ_2M - SZ_4K, SZ_2M * 2, m, 4), 0);
	assert_int_equal(pt_pages_in_use(&pt), used);

	/* Partial unlink of large entries is refused; nothing changes. */
	assert_int_equal(pt_unlink(&pt, &r, SZ_2M, SZ_2M - SZ_4K, &err), UAL_EINVAL);
	assert_msg_contains(err.msg, "2 MiB entry at IOVA 0x200000");
	assert_int_equal(pt_unlink(&pt, &r, SZ_2M + SZ_4K, SZ_4K, &err), UAL_EINVAL);
	assert_int_equal(pt_unlink(&pt, &r, 2 * SZ_2M, SZ_64K - SZ_4K, &err), UAL_EINVAL);
	assert_msg_contains(err.msg, "64 KiB entry at IOVA 0x400000");
	assert_int_equal(pt_unlink(&pt, &r, 2 * SZ_2M + SZ_4K, SZ_64K - SZ_4K, &err), UAL_EINVAL);
	/* A hole makes the whole unlink fail, even after good pages. */
	assert_int_equal(pt_unlink(&pt, &r, 2 * SZ_2M, SZ_64K + SZ_4K, &err), UAL_ENOENT);
	assert_msg_contains(err.msg, "0x410000");
	assert_int_equal(pt.mapped, 512 + 16);
	assert_int_equal(pt_dump(&pt, 0, ~0ull, m, 4), 2);

	/* Whole entries go; emptied tables return to the pool. */
	assert_int_equal(pt_unlink(&pt, &r, SZ_2M, 2 * SZ_2M, &err), UAL_ENOENT);
	assert_int_equal(pt_unlink(&pt, &r, SZ_2M, SZ_2M + SZ_64K, &err), 0);
	assert_int_equal(pt.mapped, 0);
	assert_int_equal(pt_dump(&pt, 0, ~0ull, m, 4), 0);
	assert_int_equal(pt_pages_in_use(&pt), 1);	/* only the root */
	pt_destroy(&pt);
}

static void test_pool_exhaustion_all_or_nothing(void **state)
{
	static u64 pfns[1024];
	struct pt_range r = { .prealloc = false, .stash = { PT_NONE, 0 } };
	struct ual_err err = { .op = "iova_link" };
	struct ual_mapping m[4];
	struct pgtable pt;
	u64 before;

	(void)state;
	/* Root + L3 + L2 + one L1 = 4 pages for the first link. */
	assert_int_equal(pt_init(&pt, 48, 5, &ctr), 0);
	fill(pfns, 1024, 1);	/* not 512-aligned: all 4 KiB leaves */
	assert_int_equal(pt_link(&pt, &r, SZ_2M - 2 * SZ_4K, pfns, 2, 0, UAL_PROT_RW, &err), 0);
	assert_int_equal(pt_pool_free(&pt), 1);
	/* Crossing into two more 2 MiB slots needs 2 level-1 tables. */
	before = ual_atomic64_read(&ctr);
	assert_int_equal(pt_link(&pt, &r, SZ_2M, pfns, 1024, 0, UAL_PROT_RW, &err), UAL_ENOMEM);
	assert_string_equal(err.msg, "iova_link: page-table pool exhausted: need 2 pages, 1 free");
	assert_int_equal(ual_atomic64_read(&ctr), before);
	assert_int_equal(pt_pool_free(&pt), 1);
	assert_int_equal(pt.mapped, 2);
	assert_int_equal(pt_dump(&pt, 0, ~0ull, m, 4), 2);
	/* One slot fits. */
	assert_int_equal(pt_link(&pt, &r, SZ_2M, pfns, 512, 0, UAL_PROT_RW, &err), 0);
	assert_int_equal(pt_pool_free(&pt), 0);
	assert_int_equal(pt.mapped, 514);
	pt_destroy(&pt);
}

static void test_prealloc_zero_alloc(void **state)
{
	static u64 pfns[1024];
	struct pt_range r = { 0 }, r2 = { 0 };
	struct ual_err err = { .op = "t" };
	struct ual_mapping m[8];
	struct pgtable pt;
	u64 c0;
	u32 free0, free1;

	(void)state;
	assert_int_equal(pt_init(&pt, 48, 64, &ctr), 0);
	free0 = pt_pool_free(&pt);
	/* [2M, 6M): root + L3 + L2 + two L1 tables. */
	assert_int_equal(pt_prealloc(&pt, &r, SZ_2M, 2 * SZ_2M, &err), 0);
	assert_int_equal(free0 - pt_pool_free(&pt), 5);
	free1 = pt_pool_free(&pt);

	c0 = ual_atomic64_read(&ctr);
	fill(pfns, 1024, 0x400);	/* 512-aligned: 2 MiB leaves */
	assert_int_equal(pt_link(&pt, &r, SZ_2M, pfns, 1024, 1, UAL_PROT_RW, &err), 0);
	assert_int_equal(pt_dump(&pt, 0, ~0ull, m, 8), 2);
	assert_int_equal(m[0].size, SZ_2M);
	/* Both level-1 tables went to the stash, not the pool. */
	assert_int_equal(r.stash.count, 2);
	assert_int_equal(pt_pool_free(&pt), free1);
	assert_int_equal(pt_unlink(&pt, &r, SZ_2M, 2 * SZ_2M, &err), 0);
	assert_int_equal(r.stash.count, 0);
	/* Now 4 KiB pages in the restored tables. */
	fill(pfns, 1024, 0x401);
	assert_int_equal(pt_link(&pt, &r, SZ_2M, pfns, 1024, 1, UAL_PROT_RW, &err), 0);
	assert_int_equal(pt_unlink(&pt, &r, SZ_2M, 2 * SZ_2M, &err), 0);
	assert_int_equal(ual_atomic64_read(&ctr), c0);	/* zero allocations */
	assert_int_equal(pt_pool_free(&pt), free1);	/* tables stay pinned */

	/* A neighbour sharing the L2 table pins it twice; unpinning one
	 * range keeps what the other needs. */
	assert_int_equal(pt_prealloc(&pt, &r2, 3 * SZ_2M, SZ_2M, &err), 0);
	assert_int_equal(pt_pool_free(&pt), free1 - 1);
	pt_unpin(&pt, &r, SZ_2M, 2 * SZ_2M);
	assert_int_equal(pt_pool_free(&pt), free1 - 1 + 2);
	c0 = ual_atomic64_read(&ctr);
	assert_int_equal(pt_link(&pt, &r2, 3 * SZ_2M, pfns, 512, 1, UAL_PROT_RW, &err), 0);
	assert_int_equal(pt_unlink(&pt, &r2, 3 * SZ_2M, SZ_2M, &err), 0);
	assert_int_equal(ual_atomic64_read(&ctr), c0);
	pt_unpin(&pt, &r2, 3 * SZ_2M, SZ_2M);
	assert_int_equal(pt_pool_free(&pt), free0 - 1);	/* root stays */
	pt_destroy(&pt);
}

static void test_nonprealloc_allocates(void **state)
{
	static u64 pfns[16];
	struct pt_range r = { .prealloc = false, .stash = { PT_NONE, 0 } };
	struct pgtable pt;
	u64 c0;

	(void)state;
	assert_int_equal(pt_init(&pt, 48, 64, &ctr), 0);
	c0 = ual_atomic64_read(&ctr);
	fill(pfns, 16, 7);
	assert_int_equal(pt_link(&pt, &r, SZ_2M, pfns, 1, 0, UAL_PROT_RW, NULL), 0);
	/* 4 pages off the free list + 1 backing chunk. */
	assert_int_equal(ual_atomic64_read(&ctr) - c0, 5);
	pt_destroy(&pt);
}

static void test_prealloc_exhaustion(void **state)
{
	struct pt_range r = { 0 };
	struct ual_err err = { .op = "iova_alloc" };
	struct pgtable pt;

	(void)state;
	assert_int_equal(pt_init(&pt, 48, 4, &ctr), 0);
	/* 3 MiB from 1 MiB spans two level-1 tables: 5 pages > 4. */
	assert_int_equal(pt_prealloc(&pt, &r, MiB(1), MiB(3), &err), UAL_ENOMEM);
	assert_string_equal(err.msg, "iova_alloc: page-table pool exhausted: need 5 pages, 4 free");
	assert_int_equal(pt_pool_free(&pt), 4);
	assert_int_equal(pt.root, PT_NONE);
	assert_int_equal(pt_prealloc(&pt, &r, SZ_2M, SZ_2M, &err), 0);
	assert_int_equal(pt_pool_free(&pt), 0);
	pt_destroy(&pt);
}

static void test_five_levels(void **state)
{
	static u64 pfns[512];
	struct pt_range r = { .prealloc = false, .stash = { PT_NONE, 0 } };
	struct ual_mapping m[2];
	struct pgtable pt;
	struct pt_leaf leaf;
	u64 skip, top = (1ull << 57) - SZ_2M;

	(void)state;
	assert_int_equal(pt_init(&pt, 57, 64, &ctr), 0);
	assert_int_equal(pt.levels, 5);
	fill(pfns, 512, 1ull << 44);	/* a host-aperture-sized PFN */
	assert_int_equal(pt_link(&pt, &r, top, pfns, 512, 1023, UAL_PROT_WRITE, NULL), 0);
	assert_int_equal(pt_pages_in_use(&pt), 4);	/* root, L4, L3, L2 */
	assert_true(pt_lookup(&pt, top + 0x1234, &leaf, &skip));
	assert_int_equal(leaf.pfn, 1ull << 44);
	assert_int_equal(leaf.target, 1023);
	assert_int_equal(leaf.prot, UAL_PROT_WRITE);
	assert_int_equal(pt_dump(&pt, 0, 0, m, 2), 0);
	assert_int_equal(pt_dump(&pt, top, ~0ull, m, 2), 1);
	assert_int_equal(m[0].phys, 1ull << 56);
	assert_int_equal(pt_unlink(&pt, &r, top, SZ_2M, NULL), 0);
	assert_int_equal(pt_pages_in_use(&pt), 1);
	pt_destroy(&pt);
}

static void test_one_level(void **state)
{
	static u64 pfns[511];
	struct pt_range r = { 0 };
	struct pgtable pt;

	(void)state;
	assert_int_equal(pt_init(&pt, 21, 1, &ctr), 0);
	assert_int_equal(pt.levels, 1);
	assert_int_equal(pt_prealloc(&pt, &r, SZ_4K, SZ_2M - SZ_4K, NULL), 0);
	fill(pfns, 511, 1);
	assert_int_equal(pt_link(&pt, &r, SZ_4K, pfns, 511, 0, UAL_PROT_RW, NULL), 0);
	assert_int_equal(pt.mapped, 511);
	assert_int_equal(pt_unlink(&pt, &r, SZ_4K, SZ_2M - SZ_4K, NULL), 0);
	pt_unpin(&pt, &r, SZ_4K, SZ_2M - SZ_4K);
	pt_destroy(&pt);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_levels),
		cmocka_unit_test(test_leaf_sizes),
		cmocka_unit_test(test_busy_and_unlink_rules),
		cmocka_unit_test(test_pool_exhaustion_all_or_nothing),
		cmocka_unit_test(test_prealloc_zero_alloc),
		cmocka_unit_test(test_nonprealloc_allocates),
		cmocka_unit_test(test_prealloc_exhaustion),
		cmocka_unit_test(test_five_levels),
		cmocka_unit_test(test_one_level),
	};

	return cmocka_run_group_tests_name("pgtable", tests, NULL, NULL);
}
