// SPDX-License-Identifier: Apache-2.0
/* TLB, grant table, fault ring, device memory and host aperture. */
#include "test_util.h"
#include "core/devmem.h"
#include "core/fault.h"
#include "core/grant.h"
#include "core/host.h"
#include "core/tlb.h"

static ual_atomic64_t ctr;

/* ---- TLB ------------------------------------------------------------------ */

static void test_tlb_negative_and_exact_sync(void **state)
{
	struct tlb t;
	const struct tlb_entry *e;

	(void)state;
	assert_int_equal(tlb_init(&t, 64, &ctr), 0);
	assert_null(tlb_lookup(&t, 0x5000));
	assert_int_equal(t.misses, 1);
	tlb_fill_absent(&t, 0x5000);
	e = tlb_lookup(&t, 0x5abc);
	assert_non_null(e);
	assert_false(e->present);
	assert_int_equal(t.hits, 1);
	tlb_fill(&t, 0x200000, 21, 0x400, 2, UAL_PROT_READ);
	tlb_fill(&t, 0x410000, 16, 0x10, 3, UAL_PROT_RW);
	e = tlb_lookup(&t, 0x3fffff);
	assert_non_null(e);
	assert_true(e->present);
	assert_int_equal(e->size_shift, 21);
	assert_int_equal(e->pfn, 0x400);
	assert_non_null(tlb_lookup(&t, 0x41f000));
	assert_null(tlb_lookup(&t, 0x420000));
	assert_int_equal(tlb_count(&t), 3);

	/* Exactly the overlapping entries go. */
	assert_int_equal(tlb_invalidate(&t, 0x6000, 0x1000), 0);
	assert_int_equal(tlb_invalidate(&t, 0x4000, 0x1000), 0);
	assert_int_equal(tlb_count(&t), 3);
	assert_int_equal(tlb_invalidate(&t, 0x3ff000, 0x1000), 1);	/* tail of 2 MiB */
	assert_null(tlb_lookup(&t, 0x200000));
	assert_non_null(tlb_lookup(&t, 0x5000));
	assert_int_equal(tlb_invalidate(&t, 0x40f000, 0x2000), 1);	/* head of 64 KiB */
	assert_int_equal(tlb_invalidate(&t, 0x5000, 0x1000), 1);
	assert_int_equal(tlb_count(&t), 0);
	tlb_destroy(&t);
}

static void test_tlb_capacity_and_eviction(void **state)
{
	struct tlb t;
	u64 i, present = 0;

	(void)state;
	assert_int_equal(tlb_init(&t, 8, &ctr), 0);
	assert_int_equal(t.ways, 4);
	assert_int_equal(t.sets, 2);
	for (i = 0; i < 100; i++)
		tlb_fill(&t, i << 12, 12, i, 0, UAL_PROT_RW);
	assert_int_equal(tlb_count(&t), 8);
	for (i = 0; i < 100; i++)
		present += tlb_lookup(&t, i << 12) != NULL;
	assert_int_equal(present, 8);
	/* Recently used entries survive LRU replacement within their set. */
	tlb_invalidate(&t, 0, ~0ull);
	tlb_fill(&t, 0, 12, 0, 0, UAL_PROT_RW);
	for (i = 1; i < 100; i++) {
		assert_non_null(tlb_lookup(&t, 0));
		tlb_fill(&t, i << 12, 12, i, 0, UAL_PROT_RW);
	}
	assert_non_null(tlb_lookup(&t, 0));
	tlb_destroy(&t);
	assert_int_equal(tlb_init(&t, 12, &ctr), UAL_EINVAL);
	assert_int_equal(tlb_init(&t, 1, &ctr), 0);
	tlb_fill(&t, 0x1000, 12, 1, 0, UAL_PROT_RW);
	tlb_fill(&t, 0x2000, 12, 2, 0, UAL_PROT_RW);
	assert_null(tlb_lookup(&t, 0x1000));
	assert_non_null(tlb_lookup(&t, 0x2000));
	tlb_destroy(&t);
}

/* ---- grants ------------------------------------------------------------------ */

static void test_grant_overlap_and_lookup(void **state)
{
	struct grant_table gt;
	struct ual_err err = { .op = "grant" };

	(void)state;
	grant_init(&gt, 4096, &ctr);
	assert_int_equal(grant_add(&gt, 1, 100, 10, UAL_PROT_RW, NULL, &err), 0);
	assert_int_equal(grant_add(&gt, 2, 100, 10, UAL_PROT_READ, NULL, &err), 0);
	assert_int_equal(grant_add(&gt, 1, 109, 5, UAL_PROT_RW, NULL, &err), UAL_EEXIST);
	assert_msg_contains(err.msg, "overlap grant 0x64+0xa to accelerator 1");
	assert_int_equal(grant_add(&gt, 1, 95, 6, UAL_PROT_RW, NULL, &err), UAL_EEXIST);
	assert_int_equal(grant_add(&gt, 1, 90, 200, UAL_PROT_RW, NULL, &err), UAL_EEXIST);
	assert_int_equal(grant_add(&gt, 1, 110, 5, UAL_PROT_READ, NULL, &err), 0);
	assert_int_equal(grant_add(&gt, 1, 95, 5, UAL_PROT_WRITE, NULL, &err), 0);
	assert_int_equal(grant_count(&gt), 4);
	assert_null(grant_find(&gt, 1, 94));
	assert_int_equal(grant_find(&gt, 1, 95)->prot, UAL_PROT_WRITE);
	assert_int_equal(grant_find(&gt, 1, 109)->prot, UAL_PROT_RW);
	assert_int_equal(grant_find(&gt, 1, 114)->prot, UAL_PROT_READ);
	assert_null(grant_find(&gt, 1, 115));
	assert_int_equal(grant_find(&gt, 2, 105)->prot, UAL_PROT_READ);
	assert_null(grant_find(&gt, 3, 105));
	assert_null(grant_find(&gt, 0, 105));
	grant_destroy(&gt);
}

static void test_grant_split_revoke(void **state)
{
	struct grant_table gt;
	struct ual_err err = { .op = "revoke" };

	(void)state;
	grant_init(&gt, 3, &ctr);
	assert_int_equal(grant_add(&gt, 1, 0, 100, UAL_PROT_RW, NULL, &err), 0);
	/* A hole anywhere: ENOENT, nothing changes. */
	assert_int_equal(grant_revoke(&gt, 1, 90, 20, &err), UAL_ENOENT);
	assert_msg_contains(err.msg, "page 0x64 is not granted to accelerator 1");
	assert_int_equal(grant_revoke(&gt, 2, 10, 1, &err), UAL_ENOENT);
	assert_int_equal(grant_count(&gt), 1);
	/* Middle: split. */
	assert_int_equal(grant_revoke(&gt, 1, 40, 10, &err), 0);
	assert_int_equal(grant_count(&gt), 2);
	assert_non_null(grant_find(&gt, 1, 39));
	assert_null(grant_find(&gt, 1, 40));
	assert_null(grant_find(&gt, 1, 49));
	assert_non_null(grant_find(&gt, 1, 50));
	/* Across two entries, trimming both. */
	assert_int_equal(grant_revoke(&gt, 1, 30, 30, &err), UAL_ENOENT);	/* 40..49 gone */
	assert_int_equal(grant_revoke(&gt, 1, 30, 10, &err), 0);
	assert_int_equal(grant_add(&gt, 1, 30, 20, UAL_PROT_READ, NULL, &err), 0);
	assert_int_equal(grant_count(&gt), 3);
	/* Full table: a split needs a slot -> ENOSPC, nothing changes. */
	assert_int_equal(grant_add(&gt, 1, 200, 1, UAL_PROT_READ, NULL, &err), UAL_ENOSPC);
	assert_int_equal(grant_revoke(&gt, 1, 60, 10, &err), UAL_ENOSPC);
	assert_non_null(grant_find(&gt, 1, 65));
	/* Spanning three contiguous entries, exact ends: fine when full. */
	assert_int_equal(grant_revoke(&gt, 1, 25, 30, &err), 0);
	assert_int_equal(grant_count(&gt), 2);
	assert_non_null(grant_find(&gt, 1, 24));
	assert_null(grant_find(&gt, 1, 25));
	assert_null(grant_find(&gt, 1, 54));
	assert_non_null(grant_find(&gt, 1, 55));
	grant_revoke_owner(&gt, NULL);
	assert_int_equal(grant_count(&gt), 0);
	grant_destroy(&gt);
}

/* ---- faults --------------------------------------------------------------------- */

static void test_fault_ring(void **state)
{
	struct fault_ring r;
	struct ual_fault f = { .reason = UAL_FAULT_NOT_PRESENT }, out[8];
	u64 lost = 99, i;

	(void)state;
	assert_int_equal(fault_ring_init(&r, 3, &ctr), UAL_EINVAL);
	assert_int_equal(fault_ring_init(&r, 4, &ctr), 0);
	for (i = 0; i < 6; i++) {
		f.addr = i;
		assert_int_equal(fault_ring_push(&r, &f), i < 4);
	}
	/* Peek lost only. */
	assert_int_equal(fault_ring_read(&r, out, 0, &lost), 0);
	assert_int_equal(lost, 2);
	assert_int_equal(fault_ring_read(&r, out, 2, &lost), 2);
	assert_int_equal(lost, 0);
	assert_int_equal(out[0].seq, 0);
	assert_int_equal(out[0].addr, 0);	/* oldest first; newest dropped */
	assert_int_equal(out[1].seq, 1);
	f.addr = 100;
	assert_true(fault_ring_push(&r, &f));
	assert_int_equal(fault_ring_read(&r, out, 8, &lost), 3);
	assert_int_equal(out[0].addr, 2);
	assert_int_equal(out[1].addr, 3);
	assert_int_equal(out[2].addr, 100);
	assert_int_equal(out[2].seq, 4);	/* dropped faults take no seq */
	assert_int_equal(fault_ring_read(&r, out, 8, NULL), 0);
	fault_ring_destroy(&r);
}

/* ---- device memory --------------------------------------------------------------- */

static void test_devmem_sparse(void **state)
{
	struct devmem dm;
	struct ual_list owner;
	struct ual_err err = { .op = "mem" };
	u8 buf[64], zero[64] = { 0 };
	u64 pfn, pfn2, c0;

	(void)state;
	ual_list_init(&owner);
	c0 = ual_atomic64_read(&ctr);
	assert_int_equal(devmem_init(&dm, GiB(64), &ctr), 0);
	/* 64 GiB costs a directory (256 KiB), not the memory. */
	assert_true(ual_atomic64_read(&ctr) - c0 <= 3);
	assert_int_equal(devmem_alloc(&dm, 1 << 20, 512, &owner, &owner, &pfn, &err), 0);
	assert_int_equal(pfn, 0);
	assert_true(devmem_allocated(&dm, 12345));
	assert_false(devmem_allocated(&dm, 1 << 20));
	devmem_read(&dm, 0x12345, buf, sizeof(buf));
	assert_memory_equal(buf, zero, sizeof(buf));
	assert_int_equal(dm.backed, 0);
	/* A write across a page boundary backs exactly two pages. */
	memset(buf, 0xab, sizeof(buf));
	assert_int_equal(devmem_ensure(&dm, 0x1fe0, 64), 0);
	devmem_write(&dm, 0x1fe0, buf, 64);
	assert_int_equal(dm.backed, 2);
	memset(buf, 0, sizeof(buf));
	devmem_read(&dm, 0x1fe0, buf, 64);
	assert_int_equal(buf[0], 0xab);
	assert_int_equal(buf[63], 0xab);
	devmem_read(&dm, 0x1fc0, buf, 32);
	assert_memory_equal(buf, zero, 32);
	/* Free drops the backing: a new block reads zeros. */
	assert_int_equal(devmem_free(&dm, pfn, 1 << 19, &owner, &err), UAL_EINVAL);
	assert_int_equal(devmem_free(&dm, pfn + 1, 1 << 20, &owner, &err), UAL_ENOENT);
	assert_int_equal(devmem_free(&dm, pfn, 1 << 20, (void *)1, &err), UAL_ENOENT);
	assert_int_equal(devmem_free(&dm, pfn, 1 << 20, &owner, &err), 0);
	assert_int_equal(dm.backed, 0);
	assert_int_equal(devmem_alloc(&dm, 4, 1, &owner, &owner, &pfn2, &err), 0);
	devmem_read(&dm, 0x1fe0, buf, 64);
	assert_memory_equal(buf, zero, 64);
	/* Exhaustion. */
	assert_int_equal(devmem_alloc(&dm, 1ull << 24, 1, &owner, &owner, &pfn, &err), UAL_ENOMEM);
	assert_msg_contains(err.msg, "no free block of 0x1000000 pages");
	assert_int_equal(devmem_first_unallocated(&dm, 0, 4), ~0ull);
	assert_int_equal(devmem_first_unallocated(&dm, 2, 4), 4);
	devmem_destroy(&dm);
}

static void test_host_aperture(void **state)
{
	struct host_aperture ha;
	struct host_space hs, other;
	struct ual_list owner;
	struct ual_err err = { .op = "mem_register" };
	u64 pfns[8], idx, frames[5] = { 10, 11, 20, 21, 22 };
	struct host_reg *reg;

	(void)state;
	ual_list_init(&owner);
	assert_int_equal(host_init(&ha, &ctr), 0);
	host_space_init(&hs, &ctr);
	host_space_init(&other, &ctr);
	assert_int_equal(host_register(&ha, &hs, 0x10000, 4, NULL, &owner, NULL, pfns, &err), 0);
	assert_int_equal(pfns[0], HOST_PFN_BASE);
	assert_int_equal(pfns[3], HOST_PFN_BASE + 3);
	assert_int_equal(host_register(&ha, &hs, 0x13000, 1, NULL, &owner, NULL, pfns, &err),
			 UAL_EEXIST);
	/* Backend-supplied scattered frames become two runs. */
	assert_int_equal(host_register(&ha, &hs, 0x20000, 5, frames, &owner, NULL, pfns, &err), 0);
	assert_int_equal(pfns[2], HOST_PFN_BASE + 20);
	reg = host_lookup(&ha, 21, &idx);
	assert_non_null(reg);
	assert_int_equal(reg->nr_runs, 2);
	assert_int_equal(idx, 3);
	assert_null(host_lookup(&ha, 12, &idx));
	/* A frame already registered: EEXIST, nothing kept. */
	frames[0] = 22;
	assert_int_equal(host_register(&ha, &hs, 0x40000, 1, frames, &owner, NULL, pfns, &err),
			 UAL_EEXIST);
	assert_int_equal(host_nr_regs(&ha), 2);
	assert_int_equal(host_find_uaddr(&hs, 0x20000, &reg, &err), 0);
	host_unregister(&ha, reg);
	assert_null(host_lookup(&ha, 21, &idx));
	/* Fake frames are not reused right away. */
	assert_int_equal(host_find_uaddr(&hs, 0x10000, &reg, &err), 0);
	host_unregister(&ha, reg);
	assert_int_equal(host_register(&ha, &hs, 0x10000, 1, NULL, &owner, NULL, pfns, &err), 0);
	assert_int_equal(pfns[0], HOST_PFN_BASE + 4);
	assert_int_equal(host_find_uaddr(&hs, 0x11000, &reg, &err), UAL_ENOENT);
	/* User addresses are per owner (per process, for a kernel backend). */
	assert_int_equal(host_find_uaddr(&other, 0x10000, &reg, &err), UAL_ENOENT);
	assert_int_equal(host_register(&ha, &other, 0x10000, 1, NULL, &owner, NULL, pfns, &err), 0);
	assert_int_equal(pfns[0], HOST_PFN_BASE + 5);
	assert_int_equal(host_nr_regs(&ha), 2);
	host_destroy(&ha);
	host_space_destroy(&hs);
	host_space_destroy(&other);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tlb_negative_and_exact_sync),
		cmocka_unit_test(test_tlb_capacity_and_eviction),
		cmocka_unit_test(test_grant_overlap_and_lookup),
		cmocka_unit_test(test_grant_split_revoke),
		cmocka_unit_test(test_fault_ring),
		cmocka_unit_test(test_devmem_sparse),
		cmocka_unit_test(test_host_aperture),
	};

	return cmocka_run_group_tests_name("tlb_grant_fault_devmem_host", tests, NULL, NULL);
}
