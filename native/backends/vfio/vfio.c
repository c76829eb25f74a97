// SPDX-License-Identifier: Apache-2.0
/*
 * vfio.c - the vfio: backend, "vfio:<PCI address>[?mode=virtual|physical&...]".
 *
 * A core fabric of one accelerator models the device (see vfio_priv.h for
 * what maps to what); this file adds the hardware: the IOMMU programmed
 * through VFIO for host pages linked in virtual mode, real physical frames
 * in physical mode, and ual_copy() driving the device's DMA engine.
 *
 * Locks, outermost first: the registry lock, a device's hw_lock (IOMMU
 * programming, the IOVA -> host page record, DMA; held across a copy's
 * checks and transfers so that an unlink or unregister cannot slip in
 * between), then the core's locks.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "vfio_priv.h"

struct vfio_fab {
	struct ual_list link;		/* registry */
	char bdf[16];
	struct ual_uri opts;		/* as opened: attaches must agree */
	u32 refs;			/* registry lock */
	struct ual_fabric *fab;
	const struct vfio_quirk *q;
	u32 mode;			/* UAL_MODE_VIRTUAL or UAL_MODE_PHYSICAL */
	u32 dma_bits;
	struct vfio_hw hw;
	pthread_mutex_t hw_lock;
	/* Virtual mode: IOVA pages (units) mapped in the IOMMU, data = the
	 * host registration the page belongs to. hw_lock. */
	struct range_alloc maps;
	bool wedged;			/* a transfer never finished */
};

struct vfio_dev {
	struct ual_dev base;
	struct vfio_fab *vf;
	struct ual_owner owner;
};

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static struct ual_list registry = { &registry, &registry };

static struct vfio_dev *to_vd(struct ual_dev *dev)
{
	return ual_container_of(dev, struct vfio_dev, base);
}

static struct ual_accel *accel0(struct vfio_fab *vf)
{
	return &vf->fab->accel[0];
}

/* ---- host pages ------------------------------------------------------------ */

/* The process's own memory: the registered pointer is the memory. */
static void vfio_host_access(void *ctx, const struct host_reg *reg, u64 page_index, u32 off,
			     void *buf, u32 len, bool write)
{
	u8 *p = (u8 *)(uintptr_t)reg->uaddr + (page_index << UAL_PAGE_SHIFT) + off;

	(void)ctx;
	if (write)
		memcpy(p, buf, len);
	else
		memcpy(buf, p, len);
}

/*
 * A registration goes (unregister, close): no device request may reach its
 * pages any more. Virtual mode: unmap every IOVA page of it from the IOMMU.
 * Physical mode: unlock the pages. Called with hw_lock and the target lock
 * held (every path to it takes hw_lock first).
 */
static void vfio_host_release(void *ctx, struct host_reg *reg)
{
	struct vfio_fab *vf = ctx;
	struct ra_node *n;
	u64 at = 0, done;

	if (vf->mode == UAL_MODE_PHYSICAL) {
		munlock((void *)(uintptr_t)reg->uaddr, reg->npages << UAL_PAGE_SHIFT);
		return;
	}
	while ((n = ra_next(&vf->maps, at))) {
		at = n->start + n->len;
		if (n->data != reg)
			continue;
		/* Cannot fail for a page mapped alone; if it did the mapping
		 * would stay, with VFIO's own pin keeping the page valid. */
		vfio_iommu_unmap(&vf->hw, n->start << UAL_PAGE_SHIFT, UAL_PAGE_SIZE, &done, NULL);
		ra_free(&vf->maps, n->start);
	}
}

/* Host page @pfn of the aperture: its registration and user address. Takes
 * the target lock; the registration lives while hw_lock is held. */
static struct host_reg *host_page(struct vfio_fab *vf, u64 pfn, u64 *vaddr)
{
	struct ual_accel *a = accel0(vf);
	struct host_reg *reg;
	u64 idx = 0;

	ual_mutex_lock(&a->tgt.lock);
	reg = host_lookup(&a->tgt.host, pfn - HOST_PFN_BASE, &idx);
	ual_mutex_unlock(&a->tgt.lock);
	if (reg)
		*vaddr = reg->uaddr + (idx << UAL_PAGE_SHIFT);
	return reg;
}

/* ---- open / close ---------------------------------------------------------- */

static struct vfio_fab *find_open(const char *bdf)
{
	struct ual_list *p;

	for (p = registry.next; p != &registry; p = p->next) {
		struct vfio_fab *vf = ual_container_of(p, struct vfio_fab, link);

		if (!strcmp(vf->bdf, bdf))
			return vf;
	}
	return NULL;
}

static int check_options(const struct ual_uri *u, struct ual_err *err)
{
	static const enum ual_opt fixed[] = { UAL_OPT_ACCELS, UAL_OPT_MEM, UAL_OPT_LOCAL };
	size_t i;

	for (i = 0; i < UAL_ARRAY_SIZE(fixed); i++)
		if (u->set & (1u << fixed[i]))
			return ual_err_set(err, UAL_EINVAL,
					   "option '%s' does not apply to vfio: (one accelerator, "
					   "the device; its memory is the device's buffer)",
					   ual_opt_names[fixed[i]]);
	if ((u->set & (1u << UAL_OPT_MODE)) &&
	    u->val[UAL_OPT_MODE] == (UAL_MODE_PHYSICAL | UAL_MODE_VIRTUAL))
		return ual_err_set(err, UAL_EINVAL,
				   "option 'mode': a PCI device runs in one mode: virtual (vfio-pci, "
				   "IOMMU) or physical (uio_pci_generic, no IOMMU)");
	return 0;
}

static int new_dev(struct vfio_fab *vf, struct ual_dev **out, struct ual_err *err)
{
	struct vfio_dev *d = ual_zalloc(&vf->fab->allocs, sizeof(*d));

	if (!d)
		return ual_err_set(err, UAL_ENOMEM, "out of memory for a handle");
	d->base.magic = UAL_DEV_MAGIC;
	d->base.ops = &ual_vfio_ops;
	d->base.core = &d->owner;
	d->vf = vf;
	ual_owner_init(&d->owner, vf->fab, 0);
	vf->refs++;
	*out = &d->base;
	return 0;
}

/* Wait until the engine is idle; wedge the device on timeout. hw_lock. */
static int wait_idle(struct vfio_fab *vf, struct ual_err *err)
{
	const struct vfio_quirk *q = vf->q;
	struct timespec t0, t;
	u32 cmd;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		cmd = vfio_reg_read(&vf->hw, q->reg_cmd);
		if (!(cmd & q->cmd_start))
			return 0;
		clock_gettime(CLOCK_MONOTONIC, &t);
		if ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 >
		    (long)q->timeout_ms) {
			vf->wedged = true;
			return ual_err_set(err, UAL_EIO,
					   "%s %s: DMA engine still busy after %u ms (command "
					   "register 0x%x); refusing further transfers", q->name,
					   vf->bdf, q->timeout_ms, cmd);
		}
		nanosleep(&(struct timespec){ 0, 2 * 1000 * 1000 }, NULL);
	}
}

static int setup_device(struct vfio_fab *vf, const struct ual_uri *u, struct ual_err *err)
{
	const struct vfio_quirk *q;
	u16 cmd;
	u32 id;
	int ret;

	q = vfio_quirk_find(vf->hw.vendor, vf->hw.device);
	if (!q)
		return ual_err_set(err, UAL_ENODEV,
				   "%s is %04x:%04x, which has no quirk entry (DMA mask, buffer, "
				   "DMA registers): add one to native/backends/vfio/quirks.c",
				   vf->bdf, vf->hw.vendor, vf->hw.device);
	vf->q = q;
	vf->dma_bits = q->dma_bits;
	if (u->set & (1u << UAL_OPT_DMA_BITS)) {
		if (u->val[UAL_OPT_DMA_BITS] > q->dma_bits)
			return ual_err_set(err, UAL_EINVAL,
					   "option 'dma_bits': %llu is above the %u-bit DMA mask of %s",
					   (unsigned long long)u->val[UAL_OPT_DMA_BITS], q->dma_bits,
					   q->name);
		vf->dma_bits = (u32)u->val[UAL_OPT_DMA_BITS];
	}
	if (vf->mode == UAL_MODE_VIRTUAL &&
	    (vf->hw.iova_lo > UAL_PAGE_SIZE || vf->hw.iova_hi < (1ull << vf->dma_bits) - 1))
		return ual_err_set(err, UAL_ENOTSUP,
				   "the IOMMU's usable IOVA window 0x%llx-0x%llx does not cover "
				   "0x1000-0x%llx", (unsigned long long)vf->hw.iova_lo,
				   (unsigned long long)vf->hw.iova_hi,
				   (unsigned long long)(1ull << vf->dma_bits) - 1);
	ret = vfio_bar_map(&vf->hw, q->bar, err);
	if (ret)
		return ret;
	if (vf->hw.bar_len < q->reg_cmd + 4)
		return ual_err_set(err, UAL_ENODEV, "BAR%u of %s is 0x%llx bytes: no register 0x%x",
				   q->bar, vf->bdf, (unsigned long long)vf->hw.bar_len, q->reg_cmd);
	id = vfio_reg_read(&vf->hw, q->id_reg);
	if ((id & q->id_mask) != q->id_value)
		return ual_err_set(err, UAL_ENODEV,
				   "%s: identity register 0x%x reads 0x%x, not a %s", vf->bdf,
				   q->id_reg, id, q->name);
	ret = vfio_cfg_read(&vf->hw, 4, &cmd, 2, err);
	if (ret)
		return ret;
	/* Memory decoding for the registers; bus mastering for DMA, which
	 * vfio-pci leaves off (the device's requests are dropped otherwise). */
	cmd |= 1u << 1;
	if (q->bus_master)
		cmd |= 1u << 2;
	ret = vfio_cfg_write(&vf->hw, 4, &cmd, 2, err);
	if (ret)
		return ret;
	return wait_idle(vf, err);	/* a previous user may have left one running */
}

static int vfio_open(const struct ual_uri *u, struct ual_dev **out, struct ual_err *err)
{
	struct ual_fabric_cfg cfg;
	struct vfio_fab *vf;
	char bdf[16], driver[32];
	u32 mode;
	size_t i;
	int ret;

	ret = vfio_parse_bdf(u->name, bdf, err);
	if (!ret)
		ret = check_options(u, err);
	if (ret)
		return ret;
	pthread_mutex_lock(&registry_lock);
	vf = find_open(bdf);
	if (vf) {
		for (i = 0; i < UAL_OPT_COUNT; i++)
			if ((u->set & (1u << i)) && u->val[i] != vf->opts.val[i]) {
				ret = ual_err_set(err, UAL_EEXIST,
						  "%s is open in this process with %s=%llu (asked %llu)",
						  bdf, ual_opt_names[i],
						  (unsigned long long)vf->opts.val[i],
						  (unsigned long long)u->val[i]);
				goto out;
			}
		ret = new_dev(vf, out, err);
		goto out;
	}
	ret = vfio_sysfs_driver(bdf, driver, sizeof(driver), err);
	if (ret)
		goto out;
	if (u->set & (1u << UAL_OPT_MODE))
		mode = (u32)u->val[UAL_OPT_MODE];
	else if (!strcmp(driver, "uio_pci_generic"))
		mode = UAL_MODE_PHYSICAL;
	else
		mode = UAL_MODE_VIRTUAL;
	if (strcmp(driver, mode == UAL_MODE_VIRTUAL ? "vfio-pci" : "uio_pci_generic")) {
		ret = ual_err_set(err, UAL_ENODEV,
				  "%s is bound to %s: %s mode needs it bound to %s (echo %s > "
				  "/sys/bus/pci/devices/%s/driver_override; echo %s > "
				  "/sys/bus/pci/drivers_probe)", bdf, driver[0] ? driver : "no driver",
				  mode == UAL_MODE_VIRTUAL ? "virtual" : "physical",
				  mode == UAL_MODE_VIRTUAL ? "vfio-pci" : "uio_pci_generic",
				  mode == UAL_MODE_VIRTUAL ? "vfio-pci" : "uio_pci_generic", bdf, bdf);
		goto out;
	}
	vf = ual_zalloc(NULL, sizeof(*vf));
	if (!vf) {
		ret = ual_err_set(err, UAL_ENOMEM, "out of memory");
		goto out;
	}
	memcpy(vf->bdf, bdf, sizeof(bdf));
	vf->opts = *u;
	vf->mode = mode;
	pthread_mutex_init(&vf->hw_lock, NULL);
	ret = vfio_hw_open(&vf->hw, bdf, mode == UAL_MODE_VIRTUAL, err);
	if (ret) {
		ual_free(vf);
		goto out;
	}
	ret = setup_device(vf, u, err);
	if (ret)
		goto fail_hw;
	if (mode == UAL_MODE_PHYSICAL) {
		/* Resolves PFNs now, so a non-root caller hears it at open. */
		u64 pfn;

		ret = mlock(vf, sizeof(*vf)) ? ual_err_set(err, UAL_EPERM, "mlock: %s",
							     strerror(errno)) :
		      vfio_pagemap_pfn(&vf->hw, (u64)(uintptr_t)vf & ~(UAL_PAGE_SIZE - 1), &pfn, err);
		munlock(vf, sizeof(*vf));
		if (ret)
			goto fail_hw;
	}
	cfg = (struct ual_fabric_cfg){
		.accels = 1, .mem = vf->q->buf_size, .modes = mode,
		.pt_pool = (u32)u->val[UAL_OPT_PT_POOL], .dma_bits = vf->dma_bits,
		.tlb = (u32)u->val[UAL_OPT_TLB], .faults = (u32)u->val[UAL_OPT_FAULTS],
	};
	ret = ual_fabric_create(&cfg, &(struct ual_host_ops){ vfio_host_access,
			       vfio_host_release, vf }, &vf->fab, err);
	if (ret)
		goto fail_hw;
	ual_atomic64_add(&vf->fab->allocs, 1);	/* vf itself */
	if (ra_init(&vf->maps, 0, 1ull << (vf->dma_bits - UAL_PAGE_SHIFT), &vf->fab->allocs)) {
		ret = ual_err_set(err, UAL_ENOMEM, "out of memory");
		goto fail_fab;
	}
	ret = new_dev(vf, out, err);
	if (ret) {
		ra_destroy(&vf->maps);
		goto fail_fab;
	}
	ual_list_add_tail(&vf->link, &registry);
	goto out;
fail_fab:
	ual_fabric_destroy(vf->fab);
fail_hw:
	vfio_hw_close(&vf->hw);
	pthread_mutex_destroy(&vf->hw_lock);
	ual_free(vf);
out:
	pthread_mutex_unlock(&registry_lock);
	return ret;
}

static int vfio_open_peer(struct ual_dev *dev, u32 accel, struct ual_dev **out,
			  struct ual_err *err)
{
	int ret;

	if (accel != 0)
		return ual_err_set(err, UAL_ENODEV, "no accelerator %u in the fabric (1: the device)",
				   accel);
	pthread_mutex_lock(&registry_lock);
	ret = new_dev(to_vd(dev)->vf, out, err);
	pthread_mutex_unlock(&registry_lock);
	return ret;
}

/* Unmap the IOMMU pages of [iova, iova + len) and forget them. hw_lock.
 * Return: 0; UAL_EIO if the IOMMU did not unmap what was recorded. */
static int unmap_window(struct vfio_fab *vf, u64 iova, u64 len, struct ual_err *err)
{
	u64 first = iova >> UAL_PAGE_SHIFT, end = (iova + len) >> UAL_PAGE_SHIFT;
	u64 expect = 0, done = 0;
	struct ra_node *n;
	int ret;

	while ((n = ra_next(&vf->maps, first)) && n->start < end) {
		first = n->start + 1;
		ra_free(&vf->maps, n->start);
		expect += UAL_PAGE_SIZE;
	}
	if (!expect)
		return 0;
	ret = vfio_iommu_unmap(&vf->hw, iova, len, &done, err);
	if (!ret && done != expect)
		ret = ual_err_set(err, UAL_EIO,
				  "VFIO_IOMMU_UNMAP_DMA of 0x%llx+0x%llx unmapped 0x%llx bytes, "
				  "0x%llx were mapped", (unsigned long long)iova,
				  (unsigned long long)len, (unsigned long long)done,
				  (unsigned long long)expect);
	return ret;
}

static void vfio_close(struct ual_dev *dev)
{
	struct vfio_dev *d = to_vd(dev);
	struct vfio_fab *vf = d->vf;
	struct ual_accel *a = accel0(vf);
	struct ual_list *p;

	pthread_mutex_lock(&registry_lock);
	pthread_mutex_lock(&vf->hw_lock);
	if (vf->mode == UAL_MODE_VIRTUAL) {
		/* The core frees the handle's ranges without telling: take
		 * their IOMMU pages out first. */
		ual_mutex_lock(&a->dom.lock);
		for (p = d->owner.ranges.next; p != &d->owner.ranges; p = p->next) {
			struct iova_range *r = ual_container_of(p, struct iova_range, link);

			unmap_window(vf, r->iova, r->size, NULL);
		}
		ual_mutex_unlock(&a->dom.lock);
	}
	ual_owner_release(&d->owner);
	pthread_mutex_unlock(&vf->hw_lock);
	ual_free(d);
	if (!--vf->refs) {
		ual_list_del(&vf->link);
		pthread_mutex_lock(&vf->hw_lock);
		ual_fabric_destroy(vf->fab);	/* releases what is left */
		ra_destroy(&vf->maps);
		pthread_mutex_unlock(&vf->hw_lock);
		vfio_hw_close(&vf->hw);		/* the group goes: so do its mappings */
		pthread_mutex_destroy(&vf->hw_lock);
		ual_free(vf);
	}
	pthread_mutex_unlock(&registry_lock);
}

/* ---- device memory: no CPU window ------------------------------------------ */

static int no_cpu_window(struct ual_dev *dev, struct ual_err *err)
{
	struct vfio_fab *vf = to_vd(dev)->vf;

	return ual_err_set(err, UAL_ENOTSUP,
			   "%s %s has no CPU window onto its buffer (not behind a BAR): move "
			   "bytes with ual_copy between it and a registered host buffer",
			   vf->q->name, vf->bdf);
}

static int vfio_mem_write(struct ual_dev *dev, u64 phys, const void *buf, u64 len,
			  struct ual_err *err)
{
	(void)phys, (void)buf, (void)len;
	return no_cpu_window(dev, err);
}

static int vfio_mem_read(struct ual_dev *dev, u64 phys, void *buf, u64 len,
			 struct ual_err *err)
{
	(void)phys, (void)buf, (void)len;
	return no_cpu_window(dev, err);
}

/* ---- host registration ----------------------------------------------------- */

static int vfio_mem_register(struct ual_dev *dev, void *addr, u64 len, u64 *pfns,
			     struct ual_err *err)
{
	struct vfio_dev *d = to_vd(dev);
	struct vfio_fab *vf = d->vf;
	u64 ua = (u64)(uintptr_t)addr, npages, i, *frames;
	int ret;

	if (vf->mode == UAL_MODE_VIRTUAL)	/* VFIO pins at link time */
		return fab_mem_register(&d->owner, ua, len, NULL, NULL, pfns, err);
	/* Physical mode: the frames are the real ones. Checked here first
	 * because mlock() and pagemap come before the core sees the buffer. */
	if ((ua & (UAL_PAGE_SIZE - 1)) || !len || (len & (UAL_PAGE_SIZE - 1)) || ua + len < ua)
		return ual_err_set(err, UAL_EINVAL,
				   "buffer 0x%llx+0x%llx is not a non-empty 4 KiB-aligned range",
				   (unsigned long long)ua, (unsigned long long)len);
	npages = len >> UAL_PAGE_SHIFT;
	frames = ual_zalloc(&vf->fab->allocs, npages * sizeof(*frames));
	if (!frames)
		return ual_err_set(err, UAL_ENOMEM, "out of memory for %llu frames",
				   (unsigned long long)npages);
	pthread_mutex_lock(&vf->hw_lock);
	/* Resident and write-faulted (no shared zero page): mlock populates a
	 * writable private mapping with write faults. Userspace cannot pin
	 * against migration; each copy re-checks the frames. */
	if (mlock(addr, len)) {
		ret = ual_err_set(err, errno == EPERM || errno == ENOMEM ? UAL_ENOMEM : UAL_EINVAL,
				  "mlock of 0x%llx+0x%llx: %s", (unsigned long long)ua,
				  (unsigned long long)len, strerror(errno));
		goto out;
	}
	for (i = 0, ret = 0; i < npages && !ret; i++) {
		ret = vfio_pagemap_pfn(&vf->hw, ua + (i << UAL_PAGE_SHIFT), &frames[i], err);
		if (!ret && frames[i] >= 1ull << (vf->dma_bits - UAL_PAGE_SHIFT))
			ret = ual_err_set(err, UAL_ERANGE,
					  "page %llu of the buffer (0x%llx) is at physical 0x%llx, "
					  "above the %u-bit DMA limit of %s (0x%llx): give the "
					  "machine less memory, or use virtual mode",
					  (unsigned long long)i,
					  (unsigned long long)(ua + (i << UAL_PAGE_SHIFT)),
					  (unsigned long long)(frames[i] << UAL_PAGE_SHIFT),
					  vf->dma_bits, vf->q->name,
					  (unsigned long long)(1ull << vf->dma_bits));
	}
	if (!ret)
		ret = fab_mem_register(&d->owner, ua, len, frames, NULL, pfns, err);
	/* EEXIST: those pages belong to a live registration, whose lock stays. */
	if (ret && ret != UAL_EEXIST)
		munlock(addr, len);
out:
	pthread_mutex_unlock(&vf->hw_lock);
	ual_free(frames);
	return ret;
}

static int vfio_mem_unregister(struct ual_dev *dev, void *addr, struct ual_err *err)
{
	struct vfio_dev *d = to_vd(dev);
	int ret;

	pthread_mutex_lock(&d->vf->hw_lock);
	ret = fab_mem_unregister(&d->owner, (u64)(uintptr_t)addr, err);
	pthread_mutex_unlock(&d->vf->hw_lock);
	return ret;
}

/* ---- virtual mode: the IOMMU ------------------------------------------------ */

/*
 * Link in the core (it validates everything and changes nothing on error),
 * then map each host page in the IOMMU at its IOVA, one 4 KiB mapping each
 * so any page-aligned part can be unlinked later (type1 does not split a
 * mapping). A failure undoes both.
 */
static int vfio_iova_link(struct ual_dev *dev, u64 iova, u64 offset, u32 target,
			  const u64 *pfns, u64 n, u32 prot, struct ual_err *err)
{
	struct vfio_dev *d = to_vd(dev);
	struct vfio_fab *vf = d->vf;
	u64 i, at = iova + offset, vaddr = 0;
	int ret;

	pthread_mutex_lock(&vf->hw_lock);
	ret = fab_iova_link(&d->owner, iova, offset, target, pfns, n, prot, err);
	if (ret || vf->mode != UAL_MODE_VIRTUAL)
		goto out;
	for (i = 0; !ret && i < n; i++) {
		u64 page = at + (i << UAL_PAGE_SHIFT);
		struct host_reg *reg;

		if (pfns[i] < HOST_PFN_BASE)
			continue;	/* device memory: the engine reaches it itself */
		reg = host_page(vf, pfns[i], &vaddr);
		if (!reg) {	/* the core just checked it */
			ret = ual_err_set(err, UAL_EIO, "host PFN 0x%llx vanished",
					  (unsigned long long)pfns[i]);
			break;
		}
		ret = ra_reserve(&vf->maps, page >> UAL_PAGE_SHIFT, 1, reg);
		if (ret) {
			ret = ual_err_set(err, ret, "recording IOVA 0x%llx: %s",
					  (unsigned long long)page, ual_strerror(ret));
			break;
		}
		ret = vfio_iommu_map(&vf->hw, vaddr, page, UAL_PAGE_SIZE, prot, err);
		if (ret) {
			ra_free(&vf->maps, page >> UAL_PAGE_SHIFT);
			break;
		}
	}
	if (ret) {
		/* Undo: pages before i are mapped; the core linked all n. */
		unmap_window(vf, at, i << UAL_PAGE_SHIFT, NULL);
		fab_iova_unlink(&d->owner, iova, offset, n << UAL_PAGE_SHIFT, NULL);
	}
out:
	pthread_mutex_unlock(&vf->hw_lock);
	return ret;
}

static int vfio_iova_unlink(struct ual_dev *dev, u64 iova, u64 offset, u64 len,
			    struct ual_err *err)
{
	struct vfio_dev *d = to_vd(dev);
	struct vfio_fab *vf = d->vf;
	int ret;

	pthread_mutex_lock(&vf->hw_lock);
	ret = fab_iova_unlink(&d->owner, iova, offset, len, err);
	if (!ret)
		ret = unmap_window(vf, iova + offset, len, err);
	pthread_mutex_unlock(&vf->hw_lock);
	return ret;
}

/* ---- ual_copy: the device's DMA engine -------------------------------------- */

static int dma_run(struct vfio_fab *vf, const struct dma_seg *s, bool to_host,
		   struct ual_err *err)
{
	const struct vfio_quirk *q = vf->q;
	u64 devaddr = q->buf_addr + s->dev;
	int ret;

	/* Last line of defence, whatever the planner did: the device must
	 * never see a transfer that can hurt it (or the emulator). */
	if (!s->len || s->len > q->max_xfer || s->dev >= q->buf_reach ||
	    s->len > q->buf_reach - s->dev || s->bus >= 1ull << vf->dma_bits ||
	    s->len > (1ull << vf->dma_bits) - s->bus)
		return ual_err_set(err, UAL_EINVAL, "refusing an unsafe transfer 0x%llx+0x%x",
				   (unsigned long long)s->bus, s->len);
	ret = wait_idle(vf, err);
	if (ret)
		return ret;
	vfio_reg_write(&vf->hw, q->reg_src, (u32)(to_host ? devaddr : s->bus));
	vfio_reg_write(&vf->hw, q->reg_dst, (u32)(to_host ? s->bus : devaddr));
	vfio_reg_write(&vf->hw, q->reg_count, s->len);
	vfio_reg_write(&vf->hw, q->reg_cmd, q->cmd_start | (to_host ? q->cmd_to_host : 0));
	return wait_idle(vf, err);
}

/* Bytes from @off to the next page boundary of @addr + @off. */
static u64 page_left(u64 addr, u64 off)
{
	return UAL_PAGE_SIZE - ((addr + off) & (UAL_PAGE_SIZE - 1));
}

/* Whether any page of the IOVA window [addr, addr + len) is linked: the
 * page tables themselves (not the TLB), so nothing is recorded. */
static bool window_linked(struct vfio_fab *vf, u64 addr, u64 len)
{
	struct ual_accel *a = accel0(vf);
	struct pt_leaf leaf;
	bool linked = false;
	u64 p, skip;

	ual_mutex_lock(&a->dom.lock);
	for (p = addr & ~(UAL_PAGE_SIZE - 1); p < addr + len && !linked; p += UAL_PAGE_SIZE)
		linked = pt_lookup(&a->dom.pt, p, &leaf, &skip);
	ual_mutex_unlock(&a->dom.lock);
	return linked;
}

/*
 * One side of a piece: translate (the core's fabric rules: page tables
 * through the TLB, grants, memory ranges; a refusal is recorded as a fault)
 * and say where the device finds it.
 */
static int resolve(struct vfio_fab *vf, struct ual_owner *o, const struct ual_faddr *fa,
		   u64 off, u32 access, bool *is_dev, u64 *where, struct ual_err *err)
{
	struct ual_faddr a = *fa;
	struct ual_xlate x;
	u64 vaddr = 0, pfn;
	int ret;

	a.addr += off;
	ret = fab_translate(o, 0, &a, access, &x, err);
	if (ret)
		return ret;
	if (x.phys < vf->q->buf_size) {
		*is_dev = true;
		*where = x.phys;
		return 0;
	}
	*is_dev = false;
	if (vf->mode == UAL_MODE_VIRTUAL) {
		*where = a.addr;	/* the IOMMU maps this IOVA to the page */
		return 0;
	}
	/* Physical: the bus address is the frame; make sure it still is. */
	*where = x.phys - UAL_HOST_BASE;
	if (!host_page(vf, x.phys >> UAL_PAGE_SHIFT, &vaddr))
		return ual_err_set(err, UAL_EIO, "host page 0x%llx vanished",
				   (unsigned long long)x.phys);
	ret = vfio_pagemap_pfn(&vf->hw, vaddr, &pfn, err);
	if (!ret && pfn != *where >> UAL_PAGE_SHIFT)
		ret = ual_err_set(err, UAL_EIO,
				  "the page at 0x%llx moved from frame 0x%llx to 0x%llx since it "
				  "was registered: register it again",
				  (unsigned long long)vaddr,
				  (unsigned long long)(*where >> UAL_PAGE_SHIFT),
				  (unsigned long long)pfn);
	return ret;
}

static int run_plan(struct vfio_fab *vf, const struct dma_seg *pieces, u32 n, bool to_host,
		    struct ual_err *err)
{
	struct dma_seg segs[VFIO_MAX_SEGS];
	u32 nseg, i;
	int ret = vfio_plan(vf->q, vf->dma_bits, pieces, n, segs, VFIO_MAX_SEGS, &nseg, err);

	for (i = 0; !ret && i < nseg; i++)
		ret = dma_run(vf, &segs[i], to_host, err);
	return ret;
}

/*
 * The destination is a wholly unlinked IOVA window and the source the
 * device's buffer: the transfer goes to the device anyway, because the
 * IOMMU - not this library - is what must stop it; the backend then
 * reports the fault with what it knows: the core's record (address,
 * access, initiator) and the kernel's DMAR line. A read from an unlinked
 * IOVA is refused before the device sees it: the device would fill its
 * buffer with whatever the bus returns for a blocked read.
 */
static int copy_to_unlinked(struct vfio_dev *d, const struct ual_faddr *dst,
			    const struct ual_faddr *src, u64 len, struct ual_err *err)
{
	struct vfio_fab *vf = d->vf;
	struct dma_seg pieces[8], scratch[VFIO_MAX_SEGS];
	struct ual_xlate x;
	char line[200], core[UAL_ERR_MSG_MAX];
	u32 nseg;
	u64 off, step, where, fault_addr = 0;
	u32 n = 0;
	bool is_dev, seen;
	int ret = 0;

	for (off = 0; off < len; off += step) {
		step = UAL_MIN(page_left(src->addr, off), len - off);
		ret = resolve(vf, &d->owner, src, off, UAL_ACCESS_READ, &is_dev, &where, err);
		if (ret)
			return ret;
		if (!is_dev)
			return ual_err_set(err, UAL_ENOTSUP,
					   "source and destination are both host memory: %s's DMA "
					   "engine moves bytes between its buffer and host memory",
					   vf->q->name);
		pieces[n++] = (struct dma_seg){ dst->addr + off, where, (u32)step };
	}
	/* Everything the device could not take is refused before the record. */
	ret = vfio_plan(vf->q, vf->dma_bits, pieces, n, scratch, VFIO_MAX_SEGS, &nseg, err);
	if (ret)
		return ret;
	/* The fault record: the core refuses the first page (not present). */
	ret = fab_translate(&d->owner, 0, dst, UAL_ACCESS_WRITE, &x, err);
	if (!ret)
		return ual_err_set(err, UAL_EIO, "IOVA 0x%llx translates though nothing is linked",
				   (unsigned long long)dst->addr);
	/* The core's words ("write of 0x... (IOVA) ...: not present"), without
	 * its "copy: " prefix: err->msg is rewritten below. */
	snprintf(core, sizeof(core), "%s", strncmp(err->msg, "copy: ", 6) ? err->msg : err->msg + 6);
	vfio_kmsg_skip(&vf->hw);
	ret = run_plan(vf, pieces, n, true, NULL);
	if (ret)
		return ual_err_set(err, UAL_EIO, "%s; the transfer sent to probe the IOMMU failed",
				   core);
	/* The IOMMU reports by interrupt; a loaded TCG guest takes seconds. */
	seen = vfio_kmsg_dmar(&vf->hw, 5000, line, sizeof(line), &fault_addr);
	return ual_err_set(err, UAL_EFAULT, "%.100s; sent to the device anyway: %s%s%s", core,
			   seen ? "the IOMMU blocked it (kernel: " :
			   vf->hw.kmsg < 0 ? "no kernel log to confirm the IOMMU blocked it "
					     "(/dev/kmsg not readable)" :
					     "the kernel logged no DMAR fault within 5 s",
			   seen ? line : "", seen ? ")" : "");
}

static int vfio_copy(struct ual_dev *dev, u32 initiator, const struct ual_faddr *dst,
		     const struct ual_faddr *src, u64 len, struct ual_err *err)
{
	struct vfio_dev *d = to_vd(dev);
	struct vfio_fab *vf = d->vf;
	struct dma_seg pieces[8];
	u64 off, step, swhere, dwhere;
	bool sdev, ddev, to_host = false;
	u32 n = 0;
	char line[200];
	u64 fault_addr;
	int ret;

	/* The ABI's input checks (no fault recorded), then what the device
	 * cannot take, before anything is translated or programmed. */
	ret = fab_copy_args(vf->fab, initiator, dst, src, len, err);
	if (ret)
		return ret;
	if (len > vf->q->buf_reach)
		return ual_err_set(err, UAL_ERANGE,
				   "%s moves at most 0x%llx bytes in or out of its buffer (a transfer "
				   "must not reach its last byte), asked 0x%llx", vf->q->name,
				   (unsigned long long)vf->q->buf_reach,
				   (unsigned long long)len);

	pthread_mutex_lock(&vf->hw_lock);
	if (vf->wedged) {
		ret = ual_err_set(err, UAL_EIO, "%s %s is wedged (a DMA never finished): reopen it",
				  vf->q->name, vf->bdf);
		goto out;
	}
	if (vf->mode == UAL_MODE_VIRTUAL && !dst->route && !window_linked(vf, dst->addr, len) &&
	    (src->route || window_linked(vf, src->addr, len))) {
		ret = copy_to_unlinked(d, dst, src, len, err);
		goto out;
	}
	/* Each piece lies in one page of either side; all are checked (the
	 * first refusal records one fault) before the device sees any. */
	for (off = 0; off < len; off += step) {
		step = UAL_MIN(UAL_MIN(page_left(src->addr, off), page_left(dst->addr, off)),
			       len - off);
		ret = resolve(vf, &d->owner, src, off, UAL_ACCESS_READ, &sdev, &swhere, err);
		if (!ret)
			ret = resolve(vf, &d->owner, dst, off, UAL_ACCESS_WRITE, &ddev, &dwhere, err);
		if (ret)
			goto out;
		if (sdev == ddev) {
			ret = ual_err_set(err, UAL_ENOTSUP,
					  "source and destination are both %s: %s's DMA engine moves "
					  "bytes between its buffer and host memory",
					  sdev ? "its buffer" : "host memory", vf->q->name);
			goto out;
		}
		if (off && to_host != sdev) {
			ret = ual_err_set(err, UAL_ENOTSUP,
					  "a side mixes the device's buffer and host pages");
			goto out;
		}
		to_host = sdev;
		pieces[n++] = sdev ? (struct dma_seg){ dwhere, swhere, (u32)step } :
				     (struct dma_seg){ swhere, dwhere, (u32)step };
	}
	vfio_kmsg_skip(&vf->hw);
	ret = run_plan(vf, pieces, n, to_host, err);
	if (!ret && vf->mode == UAL_MODE_VIRTUAL &&
	    vfio_kmsg_dmar(&vf->hw, 0, line, sizeof(line), &fault_addr))
		ret = ual_err_set(err, UAL_EIO,
				  "the IOMMU refused a transfer the domain maps (kernel: %s)", line);
out:
	pthread_mutex_unlock(&vf->hw_lock);
	return ret;
}

const struct ual_backend_ops ual_vfio_ops = {
	.name = "vfio",
	.open = vfio_open,
	.open_peer = vfio_open_peer,
	.close = vfio_close,
	.query = ual_core_query,
	.mem_alloc = ual_core_mem_alloc,
	.mem_free = ual_core_mem_free,
	.mem_write = vfio_mem_write,
	.mem_read = vfio_mem_read,
	.mem_register = vfio_mem_register,
	.mem_unregister = vfio_mem_unregister,
	.grant = ual_core_grant,
	.revoke = ual_core_revoke,
	.map_pfns = ual_core_map_pfns,
	.iova_alloc = ual_core_iova_alloc,
	.iova_link = vfio_iova_link,
	.iova_sync = ual_core_iova_sync,
	.iova_unlink = vfio_iova_unlink,
	.iova_free = ual_core_iova_free,
	.dump = ual_core_dump,
	.translate = ual_core_translate,
	.copy = vfio_copy,
	.fault_read = ual_core_fault_read,
	.alloc_count = ual_core_alloc_count,
};
