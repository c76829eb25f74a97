// SPDX-License-Identifier: Apache-2.0
/*
 * test_vfio.c - the vfio: backend.
 *
 * Everywhere: the transfer planner against a model of QEMU 7.2's edu checks
 * (every transfer it emits is one the device takes without aborting the
 * emulator), URI and open errors. With UAL_VFIO_URI set (in the QEMU guest:
 * scripts/guest/vfio-tests.sh), the real device: bytes host -> device ->
 * host checked one by one, every refusal before the device sees it, and in
 * virtual mode a DMA to an unlinked IOVA that writes nothing and is reported.
 */
#include <unistd.h>

#include "test_util.h"
#include "backends/vfio/vfio_priv.h"

/* QEMU 7.2 hw/misc/edu.c: edu_check_range() calls hw_error() (abort)
 * unless addr..addr+size lies in the buffer with end < buffer end;
 * edu_clamp_addr() masks the bus address to the 28-bit DMA mask. */
static bool edu_would_abort(u64 dev_addr, u64 cnt)
{
	u64 start = 0x40000, end2 = start + 4096, end1 = dev_addr + cnt;

	return !(dev_addr >= start && dev_addr < end2 && end1 > dev_addr && end1 >= start &&
		 end1 < end2);
}

static void t_plan_never_aborts(void **state)
{
	const struct vfio_quirk *q = vfio_quirk_find(0x1234, 0x11e8);
	struct dma_seg in[4], out[VFIO_MAX_SEGS];
	u64 dev, len, seed = 7;
	u32 n, i, accepted = 0, refused = 0;
	int ret;

	(void)state;
	assert_non_null(q);
	for (dev = 0; dev <= 4096; dev += 64)
		for (len = 64; len <= 8192; len += 64) {
			struct ual_err err = { .op = "copy" };

			in[0] = (struct dma_seg){ 0x1000 + (test_rand(&seed) & 0xfffc0), dev, (u32)len };
			ret = vfio_plan(q, 28, in, 1, out, VFIO_MAX_SEGS, &n, &err);
			if (ret) {
				assert_int_equal(ret, UAL_ERANGE);
				assert_true(dev + len > 4095);
				refused++;
				continue;
			}
			accepted++;
			for (i = 0; i < n; i++) {
				assert_false(edu_would_abort(q->buf_addr + out[i].dev, out[i].len));
				assert_true(out[i].bus + out[i].len <= 1ull << 28);
				assert_true(out[i].len >= 1 && out[i].len <= 4095);
			}
		}
	assert_true(accepted > 1000 && refused > 1000);
}

static void t_plan_edges(void **state)
{
	const struct vfio_quirk *q = vfio_quirk_find(0x1234, 0x11e8);
	struct dma_seg out[VFIO_MAX_SEGS];
	struct ual_err err = { .op = "copy" };
	u32 n;

	(void)state;
	/* Zero length, the last byte, past the buffer, above the mask. */
	assert_int_equal(vfio_plan(q, 28, &(struct dma_seg){ 0x1000, 0, 0 }, 1, out, 16, &n, &err),
			 UAL_EINVAL);
	assert_int_equal(vfio_plan(q, 28, &(struct dma_seg){ 0x1000, 4095, 1 }, 1, out, 16, &n,
				   &err), UAL_ERANGE);
	assert_msg_contains(err.msg, "last byte");
	assert_int_equal(vfio_plan(q, 28, &(struct dma_seg){ 0x1000, 0, 4096 }, 1, out, 16, &n,
				   &err), UAL_ERANGE);
	assert_int_equal(vfio_plan(q, 28, &(struct dma_seg){ 0x1000, 1ull << 40, 64 }, 1, out, 16,
				   &n, &err), UAL_ERANGE);
	assert_int_equal(vfio_plan(q, 28, &(struct dma_seg){ (1ull << 28) - 64, 0, 128 }, 1, out,
				   16, &n, &err), UAL_ERANGE);
	assert_msg_contains(err.msg, "28-bit DMA limit");
	assert_int_equal(vfio_plan(q, 28, &(struct dma_seg){ (1ull << 28) - 64, 0, 64 }, 1, out,
				   16, &n, &err), 0);
	/* Pieces contiguous on both sides merge; others do not. */
	assert_int_equal(vfio_plan(q, 28, (struct dma_seg[]){ { 0x1f00, 0, 0x100 },
							     { 0x2000, 0x100, 0x200 },
							     { 0x9000, 0x300, 0x40 } }, 3,
				   out, 16, &n, &err), 0);
	assert_int_equal(n, 2);
	assert_int_equal(out[0].len, 0x300);
	assert_int_equal(out[1].bus, 0x9000);
	/* A device whose transfers are shorter than its buffer: cut. */
	struct vfio_quirk small = *q;

	small.max_xfer = 1000;
	assert_int_equal(vfio_plan(&small, 28, &(struct dma_seg){ 0x1000, 0, 4032 }, 1, out, 16,
				   &n, &err), 0);
	assert_int_equal(n, 5);
	assert_int_equal(out[4].len, 32);
	assert_int_equal(out[4].dev, 4000);
	assert_int_equal(vfio_plan(&small, 28, &(struct dma_seg){ 0x1000, 0, 4032 }, 1, out, 3,
				   &n, &err), UAL_ENOSPC);
}

static void t_uri_errors(void **state)
{
	ual_dev *d = (ual_dev *)0x1;

	(void)state;
	assert_int_equal(ual_open("vfio:", &d), UAL_EINVAL);
	assert_msg_contains(ual_last_error(), "needs a PCI address");
	assert_int_equal(ual_open("vfio:00:03", &d), UAL_EINVAL);
	assert_msg_contains(ual_last_error(), "is not a PCI address");
	assert_int_equal(ual_open("vfio:00:20.0", &d), UAL_EINVAL);
	assert_msg_contains(ual_last_error(), "out of range");
	assert_int_equal(ual_open("vfio:0000:00:03.0x", &d), UAL_EINVAL);
	assert_int_equal(ual_open("vfio:0000:00:03.0?accels=2", &d), UAL_EINVAL);
	assert_msg_contains(ual_last_error(), "'accels' does not apply to vfio:");
	assert_int_equal(ual_open("vfio:0000:00:03.0?mem=8K", &d), UAL_EINVAL);
	assert_int_equal(ual_open("vfio:0000:00:03.0?mode=both", &d), UAL_EINVAL);
	assert_msg_contains(ual_last_error(), "runs in one mode");
	assert_int_equal(ual_open("vfio:00ff:1f:1f.7", &d), UAL_ENODEV);
	assert_msg_contains(ual_last_error(), "no PCI device 00ff:1f:1f.7");
	assert_ptr_equal(d, (ual_dev *)0x1);
	assert_null(vfio_quirk_find(0x8086, 0x10d3));
}

/* ---- the real device ------------------------------------------------------ */

/* A call that must succeed; the library's message on failure. */
#define OK(call)								\
	do {									\
		int r_ = (call);						\
		if (r_)								\
			fail_msg("%s = %d: %s", #call, r_, ual_last_error());	\
	} while (0)

static const char *dev_uri(void)
{
	return getenv("UAL_VFIO_URI");
}

#define NEED_DEVICE()								\
	do {									\
		if (!dev_uri()) {						\
			print_message("skipped: UAL_VFIO_URI not set (no device)\n"); \
			skip();							\
		}								\
	} while (0)

struct rig {
	ual_dev *d;
	struct ual_info info;
	bool virt;
	u8 *host;		/* 4 pages, registered */
	u64 hpfn[4], dpfn;
	u64 iova;		/* virtual: pages 0-3 host, page 4 device */
};

/* The rig of the running test, closed by teardown if the test failed. */
static struct rig *live;

static struct ual_faddr host_at(struct rig *r, u64 off)
{
	if (r->virt)
		return (struct ual_faddr){ r->iova + off, 0, 0 };
	return (struct ual_faddr){ (r->hpfn[off >> 12] << 12) + (off & 4095), UAL_ROUTE(0), 0 };
}

static struct ual_faddr dev_at(struct rig *r, u64 off)
{
	if (r->virt)
		return (struct ual_faddr){ r->iova + 4 * 4096 + off, 0, 0 };
	return (struct ual_faddr){ (r->dpfn << 12) + off, UAL_ROUTE(0), 0 };
}

static void rig_up(struct rig *r)
{
	memset(r, 0, sizeof(*r));
	OK(ual_open(dev_uri(), &r->d));
	live = r;
	OK(ual_query(r->d, &r->info));
	r->virt = r->info.modes == UAL_MODE_VIRTUAL;
	r->host = aligned_alloc(4096, 4 * 4096);
	assert_non_null(r->host);
	memset(r->host, 0xa5, 4 * 4096);
	OK(ual_mem_register(r->d, r->host, 4 * 4096, r->hpfn));
	OK(ual_mem_alloc(r->d, 4096, 0, &r->dpfn));
	if (r->virt) {
		OK(ual_iova_alloc(r->d, 8 * 4096, 0, &r->iova));
		OK(ual_iova_link(r->d, r->iova, 0, 0, r->hpfn, 4, UAL_PROT_RW));
		assert_int_equal(ual_iova_link(r->d, r->iova, 4 * 4096, 0, &r->dpfn, 1, UAL_PROT_RW),
				 0);
		OK(ual_iova_sync(r->d, r->iova, 0, 8 * 4096));
	}
}

static void rig_down(struct rig *r)
{
	ual_close(r->d);	/* frees range, links, registration */
	free(r->host);
	live = NULL;
}

static int teardown(void **state)
{
	(void)state;
	if (live)
		rig_down(live);
	return 0;
}

static u32 drain(ual_dev *d, struct ual_fault *f, u32 max)
{
	u32 n = 0;

	OK(ual_fault_read(d, f, max, &n, NULL));
	return n;
}

static void t_dev_info(void **state)
{
	static struct rig r;	/* teardown reaches it after a failure */

	(void)state;
	NEED_DEVICE();
	rig_up(&r);
	assert_string_equal(r.info.backend, "vfio");
	assert_int_equal(r.info.num_accels, 1);
	assert_int_equal(r.info.mem_size, 4096);
	assert_int_equal(r.info.dma_bits, 28);
	for (int i = 0; i < 4; i++)
		if (!r.virt)	/* real frames below the 28-bit limit */
			assert_true(r.hpfn[i] - (UAL_HOST_BASE >> 12) < (1u << 16));
	print_message("%s: %s mode, host frames 0x%llx 0x%llx\n", dev_uri(),
		      r.virt ? "virtual" : "physical",
		      (unsigned long long)(r.hpfn[0] - (UAL_HOST_BASE >> 12)),
		      (unsigned long long)(r.hpfn[1] - (UAL_HOST_BASE >> 12)));
	rig_down(&r);
}

static void t_dev_roundtrip(void **state)
{
	struct ual_fault f[4];
	static struct rig r;	/* teardown reaches it after a failure */
	u64 k, len = 4032;

	(void)state;
	NEED_DEVICE();
	rig_up(&r);
	for (k = 0; k < 4096; k++)
		r.host[k] = (u8)(k * 7 + 3);
	struct ual_faddr h0 = host_at(&r, 0), h1 = host_at(&r, 4096), d0 = dev_at(&r, 0);
	OK(ual_copy(r.d, 0, &d0, &h0, len));
	OK(ual_copy(r.d, 0, &h1, &d0, len));
	for (k = 0; k < len; k++)
		if (r.host[4096 + k] != r.host[k])
			fail_msg("byte %llu: 0x%02x, sent 0x%02x", (unsigned long long)k,
				 r.host[4096 + k], r.host[k]);
	for (k = len; k < 4096; k++)
		assert_int_equal(r.host[4096 + k], 0xa5);	/* nothing past the copy */
	/* Across a host page boundary (two frames in physical mode), into the
	 * middle of the buffer and back. */
	struct ual_faddr hx = host_at(&r, 4096 - 1024), dm = dev_at(&r, 1024);
	struct ual_faddr hy = host_at(&r, 3 * 4096 - 512);
	OK(ual_copy(r.d, 0, &dm, &hx, 2048));
	OK(ual_copy(r.d, 0, &hy, &dm, 2048));
	assert_memory_equal(r.host + 3 * 4096 - 512, r.host + 4096 - 1024, 2048);
	assert_int_equal(drain(r.d, f, 4), 0);
	rig_down(&r);
}

/* Inputs the device cannot take are refused before it sees them. */
static void t_dev_refusals(void **state)
{
	struct ual_fault f[4];
	static struct rig r;	/* teardown reaches it after a failure */
	u8 before[4 * 4096];

	(void)state;
	NEED_DEVICE();
	rig_up(&r);
	memcpy(before, r.host, sizeof(before));
	struct ual_faddr h0 = host_at(&r, 0), h1 = host_at(&r, 4096);
	struct ual_faddr d0 = dev_at(&r, 0), d64 = dev_at(&r, 64), dl = dev_at(&r, 4032);
	assert_int_equal(ual_copy(r.d, 0, &d0, &h0, 4096), UAL_ERANGE);
	assert_msg_contains(ual_last_error(), "last byte");
	assert_int_equal(ual_copy(r.d, 0, &h0, &d0, 1ull << 40), UAL_ERANGE);
	assert_int_equal(ual_copy(r.d, 0, &d64, &h0, 4032), UAL_ERANGE);
	assert_int_equal(ual_copy(r.d, 0, &h0, &dl, 64), UAL_ERANGE);
	assert_msg_contains(ual_last_error(), "last byte");
	assert_int_equal(ual_copy(r.d, 0, &h1, &h0, 64), UAL_ENOTSUP);
	assert_int_equal(ual_copy(r.d, 0, &d64, &d0, 64), UAL_ENOTSUP);
	assert_int_equal(ual_copy(r.d, 0, &d0, &h0, 0), UAL_EINVAL);
	assert_int_equal(ual_copy(r.d, 0, &d0, &h0, 100), UAL_EINVAL);
	assert_int_equal(ual_copy(r.d, 1, &d0, &h0, 64), UAL_ENODEV);
	assert_int_equal(ual_mem_write(r.d, 0, "x", 1), UAL_ENOTSUP);
	assert_msg_contains(ual_last_error(), "no CPU window");
	assert_int_equal(drain(r.d, f, 4), 0);
	assert_memory_equal(before, r.host, sizeof(before));
	rig_down(&r);
}

/* Virtual mode: the device writes to an IOVA that is no longer linked. */
static void t_dev_unlinked_iova(void **state)
{
	struct ual_fault f[4];
	static struct rig r;	/* teardown reaches it after a failure */
	u64 k, range;
	int ret;

	(void)state;
	NEED_DEVICE();
	rig_up(&r);
	if (!r.virt) {
		rig_down(&r);
		print_message("skipped: physical mode has no IOMMU to block a request\n");
		skip();
	}
	struct ual_faddr h2 = host_at(&r, 2 * 4096), d0 = dev_at(&r, 0), h0 = host_at(&r, 0);
	for (k = 0; k < 4096; k++)
		r.host[k] = (u8)(k ^ 0x3c);
	OK(ual_copy(r.d, 0, &d0, &h0, 1024));	/* known bytes in the buffer */
	OK(ual_copy(r.d, 0, &h2, &d0, 1024));	/* they arrive while linked */
	assert_memory_equal(r.host + 2 * 4096, r.host, 1024);
	memset(r.host + 2 * 4096, 0x5a, 4096);
	OK(ual_iova_unlink(r.d, r.iova, 2 * 4096, 4096));
	ret = ual_copy(r.d, 0, &h2, &d0, 1024);
	assert_int_equal(ret, UAL_EFAULT);
	print_message("unlinked: %s\n", ual_last_error());
	for (k = 0; k < 4096; k++)
		if (r.host[2 * 4096 + k] != 0x5a)
			fail_msg("byte %llu of the unlinked page changed to 0x%02x",
				 (unsigned long long)k, r.host[2 * 4096 + k]);
	assert_int_equal(drain(r.d, f, 4), 1);
	assert_int_equal(f[0].reason, UAL_FAULT_NOT_PRESENT);
	assert_int_equal(f[0].addr, h2.addr);
	assert_int_equal(f[0].access, UAL_ACCESS_WRITE);
	assert_int_equal(f[0].target, UAL_ACCEL_NONE);
	if (access("/dev/kmsg", R_OK) == 0)
		assert_msg_contains(ual_last_error(), "the IOMMU blocked it");
	/* A range never linked at all. */
	OK(ual_iova_alloc(r.d, 4096, 0, &range));
	struct ual_faddr never = { range, 0, 0 };
	assert_int_equal(ual_copy(r.d, 0, &never, &d0, 64), UAL_EFAULT);
	print_message("never linked: %s\n", ual_last_error());
	assert_int_equal(drain(r.d, f, 4), 1);
	/* Reading an unlinked IOVA into the buffer is refused before the device. */
	assert_int_equal(ual_copy(r.d, 0, &d0, &h2, 64), UAL_EFAULT);
	assert_int_equal(drain(r.d, f, 4), 1);
	assert_int_equal(f[0].access, UAL_ACCESS_READ);
	/* The buffer still holds what it held: copy it out to linked page 3. */
	struct ual_faddr h3 = host_at(&r, 3 * 4096);
	OK(ual_copy(r.d, 0, &h3, &d0, 1024));
	assert_memory_equal(r.host + 3 * 4096, r.host, 1024);
	rig_down(&r);
}

/* Closing a handle takes its IOMMU mappings away. */
static void t_dev_close_unmaps(void **state)
{
	static struct rig r;	/* teardown reaches it after a failure */
	ual_dev *b;
	u8 *page;
	u64 pfn, iova;

	(void)state;
	NEED_DEVICE();
	page = aligned_alloc(4096, 4096);
	assert_non_null(page);
	rig_up(&r);
	if (!r.virt) {
		rig_down(&r);
		free(page);
		skip();
	}
	memset(page, 0x77, 4096);
	OK(ual_open_peer(r.d, 0, &b));
	OK(ual_mem_register(b, page, 4096, &pfn));
	OK(ual_iova_alloc(b, 4096, 0, &iova));
	OK(ual_iova_link(b, iova, 0, 0, &pfn, 1, UAL_PROT_RW));
	ual_close(b);
	struct ual_faddr gone = { iova, 0, 0 }, d0 = dev_at(&r, 0);
	assert_int_equal(ual_copy(r.d, 0, &gone, &d0, 64), UAL_EFAULT);
	for (int k = 0; k < 4096; k++)
		assert_int_equal(page[k], 0x77);
	free(page);
	rig_down(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_plan_never_aborts),
		cmocka_unit_test(t_plan_edges),
		cmocka_unit_test(t_uri_errors),
		cmocka_unit_test_teardown(t_dev_info, teardown),
		cmocka_unit_test_teardown(t_dev_roundtrip, teardown),
		cmocka_unit_test_teardown(t_dev_refusals, teardown),
		cmocka_unit_test_teardown(t_dev_unlinked_iova, teardown),
		cmocka_unit_test_teardown(t_dev_close_unmaps, teardown),
	};

	return cmocka_run_group_tests_name("vfio", tests, NULL, NULL);
}
