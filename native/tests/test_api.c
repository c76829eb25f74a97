// SPDX-License-Identifier: Apache-2.0
/* End to end through the public API of ual.h on the fake backend. */
#include "test_util.h"
#include "ual.h"

#define SZ_4K	KiB(4)
#define SZ_64K	KiB(64)
#define SZ_2M	MiB(2)

static struct ual_info info_of(ual_dev *d)
{
	struct ual_info i;

	assert_int_equal(ual_query(d, &i), 0);
	return i;
}

static u32 drain(ual_dev *d, struct ual_fault *f, u32 max)
{
	u32 n;

	assert_int_equal(ual_fault_read(d, f, max, &n, NULL), 0);
	return n;
}

static void test_basics_and_null_args(void **state)
{
	struct ual_info i;
	ual_dev *d;
	u64 x;
	u32 n;

	(void)state;
	assert_int_equal(ual_abi_version() >> 16, UAL_ABI_VERSION_MAJOR);
	assert_string_equal(ual_strerror(UAL_EFAULT), "translation fault");
	assert_string_equal(ual_strerror(-1000), "unknown error");
	assert_string_equal(ual_strerror(0), "success");
	assert_int_equal(ual_open("fake:?accels=3&mem=64M&dma_bits=39&pt_pool=100&tlb=64", &d), 0);
	i = info_of(d);
	assert_int_equal(i.abi_version, UAL_ABI_VERSION);
	assert_int_equal(i.accel_id, 0);
	assert_int_equal(i.num_accels, 3);
	assert_int_equal(i.modes, UAL_MODE_PHYSICAL | UAL_MODE_VIRTUAL);
	assert_int_equal(i.phys_bits, 57);
	assert_int_equal(i.dma_bits, 39);
	assert_int_equal(i.pt_levels, 3);
	assert_int_equal(i.pgsize_bitmap, SZ_4K | SZ_64K | SZ_2M);
	assert_int_equal(i.mem_size, MiB(64));
	assert_int_equal(i.mem_free, MiB(64));
	assert_int_equal(i.pt_pool_pages, 100);
	assert_int_equal(i.pt_pool_free, 100);
	assert_int_equal(i.tlb_entries, 64);
	assert_int_equal(i.req_min, 64);
	assert_int_equal(i.req_max, 256);
	assert_string_equal(i.backend, "fake");

	assert_int_equal(ual_query(NULL, &i), UAL_EBADF);
	assert_string_equal(ual_last_error(), "query: invalid or closed handle");
	assert_int_equal(ual_query(d, NULL), UAL_EINVAL);
	assert_int_equal(ual_mem_alloc(d, SZ_4K, 0, NULL), UAL_EINVAL);
	assert_int_equal(ual_mem_write(d, 0, NULL, 1), UAL_EINVAL);
	assert_int_equal(ual_mem_write(d, 0, NULL, 0), 0);
	assert_int_equal(ual_mem_read(d, 0, NULL, 1), UAL_EINVAL);
	assert_int_equal(ual_mem_register(d, NULL, SZ_4K, &x), UAL_EINVAL);
	assert_int_equal(ual_map_pfns(d, 0, NULL, 1, UAL_PROT_READ, NULL), UAL_EINVAL);
	assert_int_equal(ual_iova_alloc(d, SZ_4K, 0, NULL), UAL_EINVAL);
	assert_int_equal(ual_iova_link(d, SZ_4K, 0, 0, NULL, 1, UAL_PROT_READ), UAL_EINVAL);
	assert_int_equal(ual_dump(d, 0, 0, NULL, 0, NULL), UAL_EINVAL);
	assert_int_equal(ual_dump(d, 0, 0, NULL, 1, &x), UAL_EINVAL);
	assert_int_equal(ual_dump(d, 0, 0, NULL, 0, &x), 0);
	assert_int_equal(x, 0);
	assert_int_equal(ual_dump(d, ~0ull, 2, NULL, 0, &x), UAL_EOVERFLOW);
	assert_int_equal(ual_translate(d, 0, NULL, UAL_ACCESS_READ, NULL), UAL_EINVAL);
	assert_int_equal(ual_copy(d, 0, NULL, NULL, 64), UAL_EINVAL);
	assert_int_equal(ual_fault_read(d, NULL, 0, NULL, NULL), UAL_EINVAL);
	assert_int_equal(ual_fault_read(d, NULL, 1, &n, NULL), UAL_EINVAL);
	assert_int_equal(ual_open_peer(d, 3, (ual_dev **)&x), UAL_ENODEV);
	assert_int_equal(ual_open_peer(d, 1, NULL), UAL_EINVAL);
	assert_int_equal(ual_alloc_count(NULL), 0);
	assert_true(ual_alloc_count(d) > 0);
	ual_close(NULL);
	ual_close(d);
}

static void test_memory(void **state)
{
	u8 buf[8192], back[8192];
	ual_dev *d, *p;
	u64 pfn, pfn2;

	(void)state;
	assert_int_equal(ual_open("fake:?accels=2&mem=1M", &d), 0);
	assert_int_equal(ual_mem_alloc(d, 0, 0, &pfn), UAL_EINVAL);
	assert_int_equal(ual_mem_alloc(d, 100, 0, &pfn), UAL_EINVAL);
	assert_int_equal(ual_mem_alloc(d, SZ_4K, 6000, &pfn), UAL_EINVAL);
	assert_int_equal(ual_mem_alloc(d, SZ_4K, 2048, &pfn), UAL_EINVAL);
	assert_int_equal(ual_mem_alloc(d, MiB(2), 0, &pfn), UAL_ENOMEM);
	assert_int_equal(ual_mem_alloc(d, SZ_4K, 0, &pfn), 0);
	assert_int_equal(ual_mem_alloc(d, SZ_64K, SZ_64K, &pfn2), 0);
	assert_int_equal(pfn2, 16);
	assert_int_equal(info_of(d).mem_free, MiB(1) - SZ_4K - SZ_64K);
	memset(buf, 0x5a, sizeof(buf));
	assert_int_equal(ual_mem_write(d, (pfn2 << 12) + 100, buf, sizeof(buf)), 0);
	assert_int_equal(ual_mem_read(d, (pfn2 << 12) + 100, back, sizeof(back)), 0);
	assert_memory_equal(buf, back, sizeof(buf));
	assert_int_equal(ual_mem_write(d, MiB(1) - 10, buf, 11), UAL_ERANGE);
	assert_string_equal(ual_last_error(),
			    "mem_write: [0xffff6, 0x100001) outside accelerator 0 memory (0x100000 bytes)");
	assert_int_equal(ual_mem_read(d, ~0ull - 4, back, 8), UAL_EOVERFLOW);
	assert_int_equal(ual_mem_free(d, pfn2, SZ_4K), UAL_EINVAL);
	assert_int_equal(ual_mem_free(d, pfn2 + 1, SZ_64K), UAL_ENOENT);
	assert_int_equal(ual_open_peer(d, 0, &p), 0);
	assert_int_equal(ual_mem_free(p, pfn2, SZ_64K), UAL_ENOENT);	/* not p's block */
	assert_int_equal(ual_mem_free(d, pfn2, SZ_64K), 0);
	assert_int_equal(ual_mem_free(d, pfn2, SZ_64K), UAL_ENOENT);
	/* Freed memory is zero when allocated again. */
	assert_int_equal(ual_mem_alloc(p, SZ_64K, SZ_64K, &pfn2), 0);
	assert_int_equal(ual_mem_read(p, (pfn2 << 12) + 100, back, 64), 0);
	memset(buf, 0, 64);
	assert_memory_equal(buf, back, 64);
	ual_close(p);
	assert_int_equal(info_of(d).mem_free, MiB(1) - SZ_4K);
	ual_close(d);
}

static void test_physical_mode_grants(void **state)
{
	struct ual_fault f[8];
	struct ual_faddr fa[2];
	struct ual_xlate x;
	ual_dev *a0, *a1;
	u64 pfn, pfns[2], lost;
	u32 n;

	(void)state;
	assert_int_equal(ual_open("fake:?accels=2&mem=64M", &a0), 0);
	assert_int_equal(ual_open_peer(a0, 1, &a1), 0);
	assert_int_equal(ual_mem_alloc(a1, 2 * SZ_4K, 0, &pfn), 0);
	pfns[0] = pfn;
	pfns[1] = pfn + 1;
	assert_int_equal(ual_map_pfns(a0, 1, pfns, 2, UAL_PROT_RW, fa), 0);
	assert_int_equal(fa[1].addr, (pfn + 1) << 12);
	assert_int_equal(fa[1].route, UAL_ROUTE(1));
	assert_int_equal(fa[0].rsvd, 0);

	/* Errors leave the output untouched. */
	memset(fa, 0xee, sizeof(fa));
	pfns[1] = 0x4000;
	assert_int_equal(ual_map_pfns(a0, 1, pfns, 2, UAL_PROT_RW, fa), UAL_ERANGE);
	assert_string_equal(ual_last_error(),
			    "map_pfns: PFN 0x4000 outside accelerator 1 memory (0x4000 pages)");
	assert_int_equal(fa[0].addr, 0xeeeeeeeeeeeeeeeeull);
	pfns[1] = pfn + 2;
	assert_int_equal(ual_map_pfns(a0, 1, pfns, 2, UAL_PROT_RW, fa), UAL_ENOENT);
	assert_int_equal(ual_map_pfns(a0, 2, pfns, 2, UAL_PROT_RW, fa), UAL_ENODEV);
	assert_int_equal(ual_map_pfns(a0, 1, pfns, 0, UAL_PROT_RW, fa), UAL_EINVAL);
	assert_int_equal(ual_map_pfns(a0, 1, pfns, 1, 0, fa), UAL_EINVAL);
	assert_int_equal(ual_map_pfns(a0, 1, pfns, 1, 4, fa), UAL_EINVAL);

	/* No grant: EACCES, fault in both rings. */
	fa[0] = (struct ual_faddr){ (pfn << 12) + 0x40, UAL_ROUTE(1), 0 };
	assert_int_equal(ual_translate(a0, 0, &fa[0], UAL_ACCESS_READ, &x), UAL_EACCES);
	assert_msg_contains(ual_last_error(), "no grant at the target");
	assert_int_equal(drain(a0, f, 8), 1);
	assert_int_equal(f[0].reason, UAL_FAULT_NO_GRANT);
	assert_int_equal(f[0].initiator, 0);
	assert_int_equal(f[0].target, 1);
	assert_int_equal(f[0].flags, 0);
	assert_int_equal(f[0].addr, (pfn << 12) + 0x40);
	assert_int_equal(f[0].route, UAL_ROUTE(1));
	assert_int_equal(f[0].access, UAL_ACCESS_READ);
	assert_int_equal(drain(a1, f, 8), 1);
	assert_int_equal(f[0].flags, UAL_FAULT_F_AT_TARGET);

	/* Grant rules. */
	assert_int_equal(ual_grant(a0, 1, 0, pfn, 1, UAL_PROT_READ), UAL_EPERM);
	assert_int_equal(ual_grant(a1, 1, 2, pfn, 1, UAL_PROT_READ), UAL_ENODEV);
	assert_int_equal(ual_grant(a1, 1, 0, pfn, 0, UAL_PROT_READ), UAL_EINVAL);
	assert_int_equal(ual_grant(a1, 1, 0, pfn, 1, 0), UAL_EINVAL);
	assert_int_equal(ual_grant(a1, 1, 0, ~0ull - 1, 4, UAL_PROT_READ), UAL_EOVERFLOW);
	assert_int_equal(ual_grant(a1, 1, 0, 0x3fff, 2, UAL_PROT_READ), UAL_ERANGE);
	assert_int_equal(ual_grant(a1, 1, 0, pfn, 3, UAL_PROT_READ), UAL_ENOENT);
	assert_int_equal(ual_grant(a1, 1, 0, pfn, 2, UAL_PROT_READ), 0);
	assert_int_equal(ual_grant(a1, 1, 0, pfn + 1, 1, UAL_PROT_RW), UAL_EEXIST);
	assert_int_equal(info_of(a1).grants, 1);

	assert_int_equal(ual_translate(a0, 0, &fa[0], UAL_ACCESS_READ, &x), 0);
	assert_int_equal(x.target, 1);
	assert_int_equal(x.phys, (pfn << 12) + 0x40);
	assert_int_equal(x.page_size, SZ_4K);
	assert_int_equal(x.prot, UAL_PROT_READ);
	assert_int_equal(x.flags, 0);
	assert_int_equal(ual_translate(a0, 0, &fa[0], UAL_ACCESS_WRITE, &x), UAL_EACCES);
	assert_int_equal(drain(a0, f, 8), 1);
	assert_int_equal(f[0].reason, UAL_FAULT_GRANT_PROT);
	/* Local requests need no grant. */
	assert_int_equal(ual_translate(a0, 1, &fa[0], UAL_ACCESS_WRITE, &x), 0);
	assert_int_equal(x.prot, UAL_PROT_RW);

	/* Bad requests record nothing; bad routes fault. */
	assert_int_equal(ual_translate(a0, 0, &fa[0], 3, &x), UAL_EINVAL);
	fa[1] = fa[0];
	fa[1].rsvd = 1;
	assert_int_equal(ual_translate(a0, 0, &fa[1], UAL_ACCESS_READ, &x), UAL_EINVAL);
	fa[1] = fa[0];
	fa[1].route |= 1u << 20;
	assert_int_equal(ual_translate(a0, 0, &fa[1], UAL_ACCESS_READ, &x), UAL_EINVAL);
	assert_int_equal(ual_translate(a0, 5, &fa[0], UAL_ACCESS_READ, &x), UAL_ENODEV);
	assert_int_equal(drain(a0, f, 8), 0);
	fa[1] = (struct ual_faddr){ 0, UAL_ROUTE(7), 0 };
	assert_int_equal(ual_translate(a0, 0, &fa[1], UAL_ACCESS_READ, &x), UAL_EFAULT);
	fa[1] = (struct ual_faddr){ MiB(64), UAL_ROUTE(1), 0 };
	assert_int_equal(ual_translate(a0, 0, &fa[1], UAL_ACCESS_READ, &x), UAL_EFAULT);
	assert_int_equal(drain(a0, f, 8), 2);
	assert_int_equal(f[0].reason, UAL_FAULT_BAD_TARGET);
	assert_int_equal(f[0].target, UAL_ACCEL_NONE);
	assert_int_equal(f[1].reason, UAL_FAULT_OUT_OF_RANGE);
	assert_int_equal(f[1].target, 1);
	assert_int_equal(f[1].seq, f[0].seq + 1);

	/* Revoke is synchronous; splits. */
	assert_int_equal(ual_revoke(a1, 1, 0, pfn, 3), UAL_ENOENT);
	assert_int_equal(ual_revoke(a1, 1, 0, pfn, 1), 0);
	assert_int_equal(ual_translate(a0, 0, &fa[0], UAL_ACCESS_READ, &x), UAL_EACCES);
	fa[1] = (struct ual_faddr){ (pfn + 1) << 12, UAL_ROUTE(1), 0 };
	assert_int_equal(ual_translate(a0, 0, &fa[1], UAL_ACCESS_READ, &x), 0);
	assert_int_equal(ual_fault_read(a1, f, 8, &n, &lost), 0);
	assert_int_equal(lost, 0);
	ual_close(a1);
	ual_close(a0);
}

static void test_copy_physical_and_host(void **state)
{
	struct ual_faddr dst, src;
	struct ual_fault f[4];
	ual_dev *a0, *a1;
	u64 pfn, hp[2];
	u8 *host = aligned_alloc(4096, 2 * 4096), back[512];
	int i;

	(void)state;
	assert_int_equal(ual_open("fake:?accels=2", &a0), 0);
	assert_int_equal(ual_open_peer(a0, 1, &a1), 0);
	for (i = 0; i < 8192; i++)
		host[i] = (u8)i;
	assert_int_equal(ual_mem_register(a0, host, 8192, hp), 0);
	assert_int_equal(hp[0], UAL_HOST_BASE >> 12);
	assert_int_equal(hp[1], hp[0] + 1);
	assert_int_equal(ual_mem_register(a0, host + 4096, 4096, hp), UAL_EEXIST);
	assert_int_equal(ual_mem_register(a0, host + 1, 4096, hp), UAL_EINVAL);
	assert_int_equal(ual_mem_register(a0, host, 100, hp), UAL_EINVAL);
	assert_int_equal(ual_mem_alloc(a1, SZ_64K, 0, &pfn), 0);

	/* Accelerator 1 pulls host bytes of accelerator 0: needs a grant. */
	src = (struct ual_faddr){ (hp[0] << 12) + 0x100, UAL_ROUTE(0), 0 };
	dst = (struct ual_faddr){ (pfn << 12) + 0x40, UAL_ROUTE(1), 0 };
	assert_int_equal(ual_copy(a1, 1, &dst, &src, 4096), UAL_EACCES);
	assert_int_equal(drain(a1, f, 4), 1);	/* exactly one fault */
	assert_int_equal(f[0].addr, (hp[0] << 12) + 0x100);
	assert_int_equal(f[0].len, 256 - 0x40);	/* first request, cut at dst's 256 B */
	assert_int_equal(ual_mem_read(a1, pfn << 12, back, 512), 0);
	for (i = 0; i < 512; i++)
		assert_int_equal(back[i], 0);	/* nothing moved */
	assert_int_equal(ual_grant(a0, 0, 1, hp[0], 1, UAL_PROT_READ), 0);
	/* Second page not granted: the whole copy fails, nothing moves. */
	assert_int_equal(ual_copy(a1, 1, &dst, &src, 4096), UAL_EACCES);
	assert_int_equal(drain(a1, f, 4), 1);
	assert_int_equal(f[0].addr, hp[1] << 12);
	assert_int_equal(ual_mem_read(a1, pfn << 12, back, 512), 0);
	assert_int_equal(back[0x40], 0);
	assert_int_equal(ual_grant(a0, 0, 1, hp[1], 1, UAL_PROT_READ), 0);
	assert_int_equal(ual_copy(a1, 1, &dst, &src, 4096), 0);
	assert_int_equal(ual_mem_read(a1, (pfn << 12) + 0x40, back, 256), 0);
	for (i = 0; i < 256; i++)
		assert_int_equal(back[i], (u8)(0x100 + i));
	/* And back into the host buffer (local target). */
	memset(host, 0, 8192);
	assert_int_equal(ual_copy(a0, 1, &src, &dst, 128), UAL_EACCES);	/* read-only grant */
	assert_int_equal(ual_grant(a1, 1, 0, pfn, 16, UAL_PROT_READ), 0);
	assert_int_equal(ual_copy(a0, 0, &src, &dst, 128), 0);
	assert_int_equal(host[0x100], 0x00);
	assert_int_equal(host[0x17f], 0x7f);
	assert_int_equal(host[0x180], 0);

	/* Argument errors. */
	assert_int_equal(ual_copy(a0, 0, &src, &dst, 0), UAL_EINVAL);
	assert_int_equal(ual_copy(a0, 0, &src, &dst, 65), UAL_EINVAL);
	dst.addr += 8;
	assert_int_equal(ual_copy(a0, 0, &src, &dst, 64), UAL_EINVAL);
	dst.addr = ~0ull - 63;
	assert_int_equal(ual_copy(a0, 0, &src, &dst, 128), UAL_EOVERFLOW);

	/* Granted pages keep the buffer registered (a later registration of
	 * the frames would inherit the grants): revoke first. */
	assert_int_equal(ual_mem_unregister(a1, host), UAL_ENOENT);
	assert_int_equal(ual_mem_unregister(a0, host), UAL_EBUSY);
	assert_non_null(strstr(ual_last_error(), "0 page(s) linked in IOVA ranges, 2 page(s) granted"));
	assert_int_equal(ual_revoke(a0, 0, 1, hp[0], 1), 0);
	assert_int_equal(ual_mem_unregister(a0, host), UAL_EBUSY);
	assert_non_null(strstr(ual_last_error(), "1 page(s) granted"));
	assert_int_equal(ual_revoke(a0, 0, 1, hp[1], 1), 0);
	/* Unregistered: faults, never touches the buffer. */
	assert_int_equal(ual_mem_unregister(a0, host), 0);
	assert_int_equal(ual_mem_unregister(a0, host), UAL_ENOENT);
	dst = (struct ual_faddr){ pfn << 12, UAL_ROUTE(1), 0 };
	drain(a0, f, 4);
	assert_int_equal(ual_copy(a0, 0, &src, &dst, 64), UAL_EFAULT);
	assert_int_equal(drain(a0, f, 4), 1);
	assert_int_equal(f[0].reason, UAL_FAULT_OUT_OF_RANGE);
	assert_int_equal(host[0x100], 0);
	ual_close(a1);
	ual_close(a0);
	free(host);
}

static void test_virtual_tlb_and_sync(void **state)
{
	struct ual_mapping m[4];
	struct ual_fault f[4];
	struct ual_faddr fa;
	struct ual_xlate x;
	struct ual_info inf;
	ual_dev *a0, *a1;
	u64 pfn, iova, pfns[16], cnt;
	int i;

	(void)state;
	assert_int_equal(ual_open("fake:?accels=2", &a0), 0);
	assert_int_equal(ual_open_peer(a0, 1, &a1), 0);
	assert_int_equal(ual_mem_alloc(a1, SZ_64K, SZ_64K, &pfn), 0);
	assert_int_equal(ual_grant(a1, 1, 0, pfn, 16, UAL_PROT_RW), 0);
	assert_int_equal(ual_iova_alloc(a0, SZ_64K, 0, &iova), 0);
	assert_int_equal(iova % SZ_64K, 0);
	assert_true(iova != 0);

	/* Translation before the link caches "not present". */
	fa = (struct ual_faddr){ iova + 0x1040, 0, 0 };
	assert_int_equal(ual_translate(a0, 0, &fa, UAL_ACCESS_READ, &x), UAL_EFAULT);
	for (i = 0; i < 16; i++)
		pfns[i] = pfn + i;
	assert_int_equal(ual_iova_link(a0, iova, 0, 1, pfns, 16, UAL_PROT_RW), 0);
	inf = info_of(a0);
	assert_int_equal(inf.mapped_pages, 16);
	assert_int_equal(inf.iova_ranges, 1);
	/* Not synced: still faulting, from the TLB. */
	assert_int_equal(ual_translate(a0, 0, &fa, UAL_ACCESS_READ, &x), UAL_EFAULT);
	assert_msg_contains(ual_last_error(), "(cached in the TLB)");
	assert_int_equal(drain(a0, f, 4), 2);
	assert_int_equal(f[0].flags, 0);
	assert_int_equal(f[1].flags, UAL_FAULT_F_TLB);
	assert_int_equal(f[1].reason, UAL_FAULT_NOT_PRESENT);
	assert_int_equal(f[1].target, UAL_ACCEL_NONE);
	/* A page never looked up works at once. */
	fa.addr = iova + 0x2000;
	assert_int_equal(ual_translate(a0, 0, &fa, UAL_ACCESS_READ, &x), 0);
	assert_int_equal(x.page_size, SZ_64K);
	assert_int_equal(x.phys, (pfn + 2) << 12);
	/* Syncing another page does not help... */
	assert_int_equal(ual_iova_sync(a0, iova, 0, SZ_4K), 0);
	fa.addr = iova + 0x1040;
	assert_int_equal(ual_translate(a0, 0, &fa, UAL_ACCESS_READ, &x), UAL_EFAULT);
	/* ...syncing it does. */
	assert_int_equal(ual_iova_sync(a0, iova, SZ_4K, SZ_4K), 0);
	assert_int_equal(ual_translate(a0, 0, &fa, UAL_ACCESS_READ, &x), 0);
	assert_int_equal(x.flags, 0);
	assert_int_equal(x.target, 1);
	assert_int_equal(x.phys, ((pfn + 1) << 12) + 0x40);
	assert_int_equal(ual_translate(a0, 0, &fa, UAL_ACCESS_WRITE, &x), 0);
	assert_int_equal(x.flags, UAL_XLATE_TLB_HIT);
	assert_int_equal(x.prot, UAL_PROT_RW);
	inf = info_of(a0);
	assert_true(inf.tlb_hits >= 2);
	assert_true(inf.tlb_misses >= 2);

	assert_int_equal(ual_dump(a0, 0, 0, m, 4, &cnt), 0);
	assert_int_equal(cnt, 1);
	assert_int_equal(m[0].iova, iova);
	assert_int_equal(m[0].size, SZ_64K);
	assert_int_equal(m[0].target, 1);

	/* Sync argument errors. */
	assert_int_equal(ual_iova_sync(a0, iova, 1, SZ_4K), UAL_EINVAL);
	assert_int_equal(ual_iova_sync(a0, iova, 0, 0), UAL_EINVAL);
	assert_int_equal(ual_iova_sync(a0, iova, 0, 2 * SZ_64K), UAL_ERANGE);
	assert_int_equal(ual_iova_sync(a0, iova, ~0ull & ~0xfffull, SZ_4K), UAL_EOVERFLOW);
	assert_int_equal(ual_iova_sync(a0, iova + SZ_4K, 0, SZ_4K), UAL_ENOENT);
	assert_int_equal(ual_iova_sync(a1, iova, 0, SZ_4K), UAL_ENOENT);

	/* Unlink is synchronous; the 64 KiB entry goes whole. */
	assert_int_equal(ual_iova_unlink(a0, iova, 0, SZ_4K), UAL_EINVAL);
	assert_int_equal(ual_iova_unlink(a0, iova, 0, SZ_64K), 0);
	assert_int_equal(ual_translate(a0, 0, &fa, UAL_ACCESS_READ, &x), UAL_EFAULT);
	assert_int_equal(ual_iova_unlink(a0, iova, 0, SZ_64K), UAL_ENOENT);
	assert_int_equal(ual_iova_free(a0, iova), 0);
	assert_int_equal(ual_iova_free(a0, iova), UAL_ENOENT);
	inf = info_of(a0);
	assert_int_equal(inf.mapped_pages, 0);
	assert_int_equal(inf.iova_ranges, 0);
	ual_close(a1);
	ual_close(a0);
}

static void test_link_errors_change_nothing(void **state)
{
	struct ual_mapping m[2];
	struct ual_info before, after;
	ual_dev *d;
	u64 pfn, iova, pfns[4], cnt, c0;

	(void)state;
	assert_int_equal(ual_open("fake:?accels=2&mem=64M", &d), 0);
	assert_int_equal(ual_mem_alloc(d, 4 * SZ_4K, 0, &pfn), 0);
	assert_int_equal(ual_iova_alloc(d, 4 * SZ_4K, 0, &iova), 0);
	pfns[0] = pfn;
	pfns[1] = pfn + 1;
	pfns[2] = 0x4000;
	pfns[3] = pfn + 3;
	before = info_of(d);
	c0 = ual_alloc_count(d);
	assert_int_equal(ual_iova_link(d, iova, 0, 0, pfns, 4, UAL_PROT_RW), UAL_ERANGE);
	assert_string_equal(ual_last_error(),
			    "iova_link: PFN 0x4000 outside accelerator 0 memory (0x4000 pages)");
	pfns[2] = pfn + 10;
	assert_int_equal(ual_iova_link(d, iova, 0, 0, pfns, 4, UAL_PROT_RW), UAL_ENOENT);
	assert_msg_contains(ual_last_error(), "is not allocated");
	pfns[2] = pfn + 2;
	assert_int_equal(ual_iova_link(d, iova, SZ_4K, 0, pfns, 4, UAL_PROT_RW), UAL_ERANGE);
	assert_int_equal(ual_iova_link(d, iova, 1, 0, pfns, 4, UAL_PROT_RW), UAL_EINVAL);
	assert_int_equal(ual_iova_link(d, iova, 0, 0, pfns, 0, UAL_PROT_RW), UAL_EINVAL);
	assert_int_equal(ual_iova_link(d, iova, 0, 0, pfns, 4, 0), UAL_EINVAL);
	assert_int_equal(ual_iova_link(d, iova, 0, 9, pfns, 4, UAL_PROT_RW), UAL_ENODEV);
	assert_int_equal(ual_iova_link(d, iova + SZ_4K, 0, 0, pfns, 4, UAL_PROT_RW), UAL_ENOENT);
	assert_int_equal(ual_iova_link(d, iova, ~0ull & ~0xfffull, 0, pfns, 4, UAL_PROT_RW),
			 UAL_EOVERFLOW);
	assert_int_equal(ual_iova_link(d, iova, 0, 0, pfns, ~0ull, UAL_PROT_RW), UAL_EOVERFLOW);
	assert_int_equal(ual_iova_link(d, iova, 2 * SZ_4K, 0, pfns, 1, UAL_PROT_READ), 0);
	assert_int_equal(ual_iova_link(d, iova, 0, 0, pfns, 4, UAL_PROT_RW), UAL_EBUSY);
	assert_msg_contains(ual_last_error(), "is already linked");
	assert_int_equal(ual_dump(d, 0, 0, m, 2, &cnt), 0);
	assert_int_equal(cnt, 1);
	after = info_of(d);
	assert_int_equal(after.mapped_pages, 1);
	assert_int_equal(after.pt_pool_free, before.pt_pool_free - 4);	/* the one good link */
	assert_int_equal(ual_iova_free(d, iova), UAL_EBUSY);
	assert_int_equal(ual_iova_unlink(d, iova, 0, 4 * SZ_4K), UAL_ENOENT);
	assert_int_equal(info_of(d).mapped_pages, 1);
	assert_int_equal(ual_iova_unlink(d, iova, 2 * SZ_4K, SZ_4K), 0);
	assert_int_equal(info_of(d).pt_pool_free, before.pt_pool_free - 1);	/* root stays */
	assert_int_equal(ual_iova_free(d, iova), 0);
	assert_true(ual_alloc_count(d) > c0);
	ual_close(d);
}

static void test_pool_exhaustion_via_api(void **state)
{
	ual_dev *d;
	u64 pfn, iova, iova2, *pfns = malloc(1025 * sizeof(u64)), cnt;
	struct ual_info before;
	int i;

	(void)state;
	assert_int_equal(ual_open("fake:?accels=1&pt_pool=5", &d), 0);
	assert_int_equal(ual_mem_alloc(d, MiB(4) + 2 * SZ_4K, 0, &pfn), 0);
	for (i = 0; i < 1025; i++)
		pfns[i] = pfn + 1 + i;	/* misaligned: 4 KiB leaves only */
	assert_int_equal(ual_iova_alloc(d, MiB(4) + SZ_4K, 0, &iova), 0);
	assert_int_equal(ual_iova_link(d, iova, 0, 0, pfns, 1, UAL_PROT_RW), 0);
	before = info_of(d);
	assert_int_equal(before.pt_pool_free, 1);
	assert_int_equal(ual_iova_link(d, iova, SZ_4K, 0, pfns + 1, 1024, UAL_PROT_RW), UAL_ENOMEM);
	assert_string_equal(ual_last_error(),
			    "iova_link: page-table pool exhausted: need 2 pages, 1 free");
	assert_int_equal(info_of(d).pt_pool_free, 1);
	assert_int_equal(info_of(d).mapped_pages, 1);
	assert_int_equal(ual_dump(d, 0, 0, NULL, 0, &cnt), 0);
	assert_int_equal(cnt, 1);
	/* Prealloc needing more than the pool: ENOMEM, no range left. */
	assert_int_equal(ual_iova_alloc(d, MiB(8), UAL_IOVA_PREALLOC, &iova2), UAL_ENOMEM);
	assert_int_equal(info_of(d).iova_ranges, 1);
	assert_int_equal(info_of(d).pt_pool_free, 1);
	assert_int_equal(ual_iova_alloc(d, SZ_4K, 2, &iova2), UAL_EINVAL);
	assert_int_equal(ual_iova_alloc(d, 0, 0, &iova2), UAL_EINVAL);
	assert_int_equal(ual_iova_alloc(d, 100, 0, &iova2), UAL_EINVAL);
	ual_close(d);

	/* The IOVA space itself: dma_bits=21 is [4 KiB, 2 MiB). */
	assert_int_equal(ual_open("fake:?accels=1&dma_bits=21", &d), 0);
	assert_int_equal(info_of(d).pt_levels, 1);
	assert_int_equal(info_of(d).pgsize_bitmap, SZ_4K | SZ_64K);
	assert_int_equal(ual_iova_alloc(d, SZ_2M, 0, &iova), UAL_ENOSPC);
	assert_msg_contains(ual_last_error(), "below the DMA limit 1 << 21");
	assert_int_equal(ual_iova_alloc(d, SZ_2M - SZ_64K, 0, &iova), 0);
	assert_int_equal(iova, SZ_64K);
	assert_int_equal(ual_iova_alloc(d, SZ_4K, 0, &iova), 0);
	assert_int_equal(iova, SZ_4K);
	ual_close(d);
	free(pfns);
}

static void test_prealloc_zero_allocations(void **state)
{
	ual_dev *d;
	u64 pfn, iova, iova2, *pfns = malloc(1024 * sizeof(u64)), c0;
	struct ual_faddr fa;
	struct ual_xlate x;
	u32 pool0;
	int i;

	(void)state;
	assert_int_equal(ual_open("fake:?accels=1", &d), 0);
	assert_int_equal(ual_mem_alloc(d, MiB(4), SZ_2M, &pfn), 0);
	assert_int_equal(ual_iova_alloc(d, MiB(4), UAL_IOVA_PREALLOC, &iova), 0);
	assert_int_equal(iova % SZ_2M, 0);
	pool0 = (u32)info_of(d).pt_pool_free;

	for (int round = 0; round < 2; round++) {
		/* Round 0: 2 MiB leaves (stash); round 1: 4 KiB + 64 KiB. */
		for (i = 0; i < 1024; i++)
			pfns[i] = pfn + i + (u64)round;
		c0 = ual_alloc_count(d);
		assert_int_equal(ual_iova_link(d, iova, 0, 0, pfns, 1024 - round, UAL_PROT_RW), 0);
		assert_int_equal(ual_alloc_count(d), c0);
		assert_int_equal(ual_iova_sync(d, iova, 0, MiB(4)), 0);
		fa = (struct ual_faddr){ iova + SZ_2M + 0x40, 0, 0 };
		assert_int_equal(ual_translate(d, 0, &fa, UAL_ACCESS_WRITE, &x), 0);
		assert_int_equal(x.page_size, round ? SZ_4K : SZ_2M);
		assert_int_equal(ual_iova_unlink(d, iova, 0, MiB(4) - SZ_4K * round), 0);
		assert_int_equal(ual_alloc_count(d), c0);
		assert_int_equal(info_of(d).pt_pool_free, pool0);
	}

	/* A non-prealloc link that needs tables does allocate. */
	assert_int_equal(ual_iova_alloc(d, SZ_2M, 0, &iova2), 0);
	c0 = ual_alloc_count(d);
	assert_int_equal(ual_iova_link(d, iova2, 0, 0, pfns, 1, UAL_PROT_RW), 0);
	assert_true(ual_alloc_count(d) > c0);
	assert_int_equal(ual_iova_unlink(d, iova2, 0, SZ_4K), 0);
	assert_int_equal(ual_iova_free(d, iova2), 0);
	assert_int_equal(ual_iova_free(d, iova), 0);
	/* Tables pinned by the range went back (root stays). */
	assert_int_equal(info_of(d).pt_pool_free, 4095);
	ual_close(d);
	free(pfns);
}

static void test_copy_virtual(void **state)
{
	struct ual_faddr dst, src;
	struct ual_fault f[4];
	ual_dev *a0, *a1;
	u64 pfn0, pfn1, iova, pfns[2], hp;
	u8 *host = aligned_alloc(4096, 4096), buf[4096];
	int i;

	(void)state;
	assert_int_equal(ual_open("fake:?accels=2", &a0), 0);
	assert_int_equal(ual_open_peer(a0, 1, &a1), 0);
	assert_int_equal(ual_mem_alloc(a0, SZ_4K, 0, &pfn0), 0);
	assert_int_equal(ual_mem_alloc(a1, SZ_4K, 0, &pfn1), 0);
	for (i = 0; i < 4096; i++)
		host[i] = (u8)(i * 7);
	assert_int_equal(ual_mem_register(a1, host, 4096, &hp), 0);
	assert_int_equal(ual_iova_alloc(a0, 2 * SZ_4K, 0, &iova), 0);
	/* A host page is mappable only through the handle that pinned it. */
	pfns[0] = pfn1;
	pfns[1] = hp;
	assert_int_equal(ual_iova_link(a0, iova, 0, 1, pfns, 2, UAL_PROT_RW), UAL_EPERM);
	assert_string_equal(ual_last_error(),
			    "iova_link: host PFN 0x100000000000 of accelerator 1 was not "
			    "registered through this handle");
	assert_int_equal(ual_map_pfns(a0, 1, &hp, 1, UAL_PROT_READ, &dst), UAL_EPERM);
	assert_int_equal(info_of(a0).mapped_pages, 0);
	assert_int_equal(ual_mem_unregister(a1, host), 0);
	assert_int_equal(ual_mem_register(a0, host, 4096, &hp), 0);
	/* a0's domain: page 0 -> a1 memory, page 1 -> a0's own host page
	 * (read-only mapping). */
	assert_int_equal(ual_iova_link(a0, iova, 0, 1, &pfn1, 1, UAL_PROT_RW), 0);
	assert_int_equal(ual_iova_link(a0, iova, SZ_4K, 0, &hp, 1, UAL_PROT_READ), 0);
	assert_int_equal(ual_grant(a1, 1, 0, pfn1, 1, UAL_PROT_READ), 0);

	/* host page (via IOVA) -> a1 memory (via IOVA): a read-only grant
	 * refuses the write at the target, nothing moves. */
	src = (struct ual_faddr){ iova + SZ_4K, 0, 0 };
	dst = (struct ual_faddr){ iova, 0, 0 };
	assert_int_equal(ual_copy(a0, 0, &dst, &src, 4096), UAL_EACCES);
	assert_int_equal(drain(a0, f, 4), 1);
	assert_int_equal(f[0].reason, UAL_FAULT_GRANT_PROT);
	assert_int_equal(f[0].addr, iova);
	assert_int_equal(drain(a1, f, 4), 1);
	assert_int_equal(f[0].flags, UAL_FAULT_F_AT_TARGET);
	assert_int_equal(ual_mem_read(a1, pfn1 << 12, buf, 64), 0);
	assert_int_equal(buf[1], 0);
	assert_int_equal(ual_revoke(a1, 1, 0, pfn1, 1), 0);
	assert_int_equal(ual_grant(a1, 1, 0, pfn1, 1, UAL_PROT_RW), 0);
	assert_int_equal(ual_copy(a0, 0, &dst, &src, 4096), 0);
	assert_int_equal(ual_mem_read(a1, pfn1 << 12, buf, 4096), 0);
	assert_memory_equal(buf, host, 4096);
	/* Writing through the read-only mapping of the host page faults. */
	assert_int_equal(ual_copy(a0, 0, &src, &dst, 64), UAL_EFAULT);
	assert_int_equal(drain(a0, f, 4), 1);
	assert_int_equal(f[0].reason, UAL_FAULT_PROT);
	assert_int_equal(f[0].addr, iova + SZ_4K);
	/* IOVA -> local physical. */
	dst = (struct ual_faddr){ pfn0 << 12, UAL_ROUTE(0), 0 };
	assert_int_equal(ual_copy(a0, 0, &dst, &src, 4096), 0);
	assert_int_equal(ual_mem_read(a0, pfn0 << 12, buf, 4096), 0);
	assert_memory_equal(buf, host, 4096);
	/* Past the range: translation fault, one record, nothing moved. */
	memset(buf, 0, sizeof(buf));
	assert_int_equal(ual_mem_write(a0, pfn0 << 12, buf, 4096), 0);
	assert_int_equal(ual_copy(a0, 0, &dst, &src, 8192), UAL_EFAULT);
	assert_int_equal(drain(a0, f, 4), 1);
	assert_int_equal(f[0].reason, UAL_FAULT_NOT_PRESENT);
	assert_int_equal(f[0].addr, iova + 2 * SZ_4K);
	assert_int_equal(ual_mem_read(a0, pfn0 << 12, buf, 64), 0);
	assert_int_equal(buf[1], 0);
	ual_close(a1);
	ual_close(a0);
	free(host);
}

static void test_modes(void **state)
{
	struct ual_faddr fa = { 0x1000, 0, 0 };
	struct ual_fault f[2];
	struct ual_xlate x;
	ual_dev *d;
	u64 pfn, iova, cnt;

	(void)state;
	assert_int_equal(ual_open("fake:?accels=1&mode=virtual", &d), 0);
	assert_int_equal(ual_mem_alloc(d, SZ_4K, 0, &pfn), 0);
	assert_int_equal(ual_map_pfns(d, 0, &pfn, 1, UAL_PROT_READ, &fa), UAL_ENOTSUP);
	fa = (struct ual_faddr){ 0, UAL_ROUTE(0), 0 };
	assert_int_equal(ual_translate(d, 0, &fa, UAL_ACCESS_READ, &x), UAL_EFAULT);
	assert_int_equal(drain(d, f, 2), 1);
	assert_int_equal(f[0].reason, UAL_FAULT_MODE);
	assert_int_equal(ual_iova_alloc(d, SZ_4K, 0, &iova), 0);
	ual_close(d);

	assert_int_equal(ual_open("fake:?accels=1&mode=physical", &d), 0);
	assert_int_equal(info_of(d).modes, UAL_MODE_PHYSICAL);
	assert_int_equal(ual_iova_alloc(d, SZ_4K, 0, &iova), UAL_ENOTSUP);
	assert_int_equal(ual_iova_link(d, SZ_4K, 0, 0, &pfn, 1, UAL_PROT_READ), UAL_ENOTSUP);
	assert_int_equal(ual_iova_sync(d, SZ_4K, 0, SZ_4K), UAL_ENOTSUP);
	assert_int_equal(ual_iova_unlink(d, SZ_4K, 0, SZ_4K), UAL_ENOTSUP);
	assert_int_equal(ual_iova_free(d, SZ_4K), UAL_ENOTSUP);
	assert_int_equal(ual_dump(d, 0, 0, NULL, 0, &cnt), 0);
	assert_int_equal(cnt, 0);
	fa = (struct ual_faddr){ 0x1000, 0, 0 };
	assert_int_equal(ual_translate(d, 0, &fa, UAL_ACCESS_READ, &x), UAL_EFAULT);
	assert_int_equal(drain(d, f, 2), 1);
	assert_int_equal(f[0].reason, UAL_FAULT_MODE);
	ual_close(d);
}

static void test_close_releases_everything(void **state)
{
	ual_dev *h1, *h2, *h3, *p;
	struct ual_info i;
	u64 pfn, iova, iova2, hp, pfns[4];
	u8 *host = aligned_alloc(4096, 4096);

	(void)state;
	assert_int_equal(ual_open("fake:shared?accels=2&mem=8M", &h1), 0);
	assert_int_equal(ual_open("fake:shared?mem=16M", &h3), UAL_EEXIST);
	assert_string_equal(ual_last_error(),
			    "open: fabric 'shared' exists with mem=8388608 (asked 16777216)");
	assert_int_equal(ual_open("fake:shared?mem=8M&accels=2", &h2), 0);
	assert_int_equal(ual_open("fake:shared?local=3", &h3), UAL_ENODEV);
	assert_int_equal(ual_open("fake:shared?local=1", &p), 0);

	/* h2 creates one of everything on accelerator 0. */
	assert_int_equal(ual_mem_alloc(h2, 4 * SZ_4K, 0, &pfn), 0);
	assert_int_equal(ual_mem_register(h2, host, 4096, &hp), 0);
	assert_int_equal(ual_grant(h2, 0, 1, pfn, 4, UAL_PROT_RW), 0);
	assert_int_equal(ual_grant(h2, 0, 1, hp, 1, UAL_PROT_RW), 0);
	assert_int_equal(ual_iova_alloc(h2, 4 * SZ_4K, UAL_IOVA_PREALLOC, &iova), 0);
	assert_int_equal(ual_iova_alloc(h2, SZ_2M, 0, &iova2), 0);
	pfns[0] = pfn;
	pfns[1] = pfn + 1;
	pfns[2] = hp;
	assert_int_equal(ual_iova_link(h2, iova, 0, 0, pfns, 3, UAL_PROT_RW), 0);
	assert_int_equal(ual_iova_link(h2, iova2, 0, 0, pfns, 1, UAL_PROT_RW), 0);
	/* h1 owns a block too. */
	assert_int_equal(ual_mem_alloc(h1, SZ_4K, 0, &pfns[3]), 0);
	i = info_of(h1);
	assert_int_equal(i.iova_ranges, 2);
	assert_int_equal(i.mapped_pages, 4);
	assert_int_equal(i.grants, 2);
	assert_int_equal(i.mem_free, MiB(8) - 5 * SZ_4K);
	/* h1 cannot touch h2's objects. */
	assert_int_equal(ual_iova_free(h1, iova), UAL_ENOENT);
	assert_int_equal(ual_mem_free(h1, pfn, 4 * SZ_4K), UAL_ENOENT);
	assert_int_equal(ual_mem_unregister(h1, host), UAL_ENOENT);

	ual_close(h2);
	i = info_of(h1);
	assert_int_equal(i.iova_ranges, 0);
	assert_int_equal(i.mapped_pages, 0);
	assert_int_equal(i.grants, 0);
	assert_int_equal(i.mem_free, MiB(8) - SZ_4K);
	assert_int_equal(i.pt_pool_free, 4095);
	/* The host buffer is free to register again. */
	assert_int_equal(ual_mem_register(h1, host, 4096, &hp), 0);
	ual_close(h1);
	ual_close(p);
	/* Last handle gone: the name is free for other options. */
	assert_int_equal(ual_open("fake:shared?mem=16M", &h3), 0);
	assert_int_equal(info_of(h3).mem_free, MiB(16));
	ual_close(h3);
	free(host);
}

static void test_fault_overflow(void **state)
{
	struct ual_faddr fa = { SZ_4K, 0, 0 };
	struct ual_fault f[8];
	struct ual_xlate x;
	ual_dev *d;
	u64 lost;
	u32 n;
	int i;

	(void)state;
	assert_int_equal(ual_open("fake:?accels=1&faults=4", &d), 0);
	for (i = 0; i < 10; i++) {
		fa.addr = SZ_4K * (i + 1);
		assert_int_equal(ual_translate(d, 0, &fa, UAL_ACCESS_READ, &x), UAL_EFAULT);
	}
	assert_int_equal(ual_fault_read(d, NULL, 0, &n, &lost), 0);
	assert_int_equal(n, 0);
	assert_int_equal(lost, 6);
	assert_int_equal(ual_fault_read(d, f, 8, &n, &lost), 0);
	assert_int_equal(n, 4);
	assert_int_equal(lost, 0);
	assert_int_equal(f[0].addr, SZ_4K);
	assert_int_equal(f[3].addr, 4 * SZ_4K);
	assert_int_equal(f[3].seq, 3);
	ual_close(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_basics_and_null_args),
		cmocka_unit_test(test_memory),
		cmocka_unit_test(test_physical_mode_grants),
		cmocka_unit_test(test_copy_physical_and_host),
		cmocka_unit_test(test_virtual_tlb_and_sync),
		cmocka_unit_test(test_link_errors_change_nothing),
		cmocka_unit_test(test_pool_exhaustion_via_api),
		cmocka_unit_test(test_prealloc_zero_allocations),
		cmocka_unit_test(test_copy_virtual),
		cmocka_unit_test(test_modes),
		cmocka_unit_test(test_close_releases_everything),
		cmocka_unit_test(test_fault_overflow),
	};

	return cmocka_run_group_tests_name("api", tests, NULL, NULL);
}
