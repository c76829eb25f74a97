// SPDX-License-Identifier: GPL-2.0-only OR Apache-2.0
/*
 * fabric.c - the fabric model and the operations of the ABI (see fabric.h).
 */
#include "fabric.h"

#define SZ_4K	UAL_PAGE_SIZE
#define SZ_64K	UAL_PAGE_SIZE_64K
#define SZ_2M	UAL_PAGE_SIZE_2M
#define PAGE_MASK_LO (UAL_PAGE_SIZE - 1)
#define PHYS_LIMIT (1ull << UAL_PHYS_BITS)

typedef unsigned long long ull;

/* ---- creation ----------------------------------------------------------- */

static void accel_destroy(struct ual_fabric *fab, struct ual_accel *a)
{
	struct ra_node *n;

	/* Ranges left by owners that were never released. */
	while ((n = ra_next(&a->dom.iova, 0))) {
		struct iova_range *r = n->data;

		ra_free(&a->dom.iova, n->start);
		ual_free(r);
	}
	tlb_destroy(&a->dom.tlb);
	pt_destroy(&a->dom.pt);
	ra_destroy(&a->dom.iova);
	grant_destroy(&a->tgt.grants);
	host_destroy(&a->tgt.host);
	devmem_destroy(&a->tgt.mem);
	fault_ring_destroy(&a->faults);
	ual_mutex_destroy(&a->dom.lock);
	ual_mutex_destroy(&a->tgt.lock);
	ual_mutex_destroy(&a->fault_lock);
	(void)fab;
}

static int accel_init(struct ual_fabric *fab, struct ual_accel *a, u32 id)
{
	const struct ual_fabric_cfg *c = &fab->cfg;
	ual_atomic64_t *ctr = &fab->allocs;
	int ret;

	a->id = id;
	ual_mutex_init(&a->dom.lock);
	ual_mutex_init(&a->tgt.lock);
	ual_mutex_init(&a->fault_lock);
	grant_init(&a->tgt.grants, GRANT_MAX_DEFAULT, ctr);
	/* IOVA 0 is never handed out: the space starts at page 1. */
	ret = ra_init(&a->dom.iova, 1, 1ull << (c->dma_bits - UAL_PAGE_SHIFT), ctr);
	if (!ret)
		ret = pt_init(&a->dom.pt, c->dma_bits, c->pt_pool, ctr);
	if (!ret)
		ret = tlb_init(&a->dom.tlb, c->tlb, ctr);
	if (!ret)
		ret = devmem_init(&a->tgt.mem, c->mem, ctr);
	if (!ret)
		ret = host_init(&a->tgt.host, ctr);
	if (!ret)
		ret = fault_ring_init(&a->faults, c->faults, ctr);
	return ret;
}

static int check_cfg(const struct ual_fabric_cfg *cfg, struct ual_err *err)
{
	if (!cfg->accels || cfg->accels > UAL_MAX_ACCELS || cfg->dma_bits < 21 ||
	    cfg->dma_bits > UAL_PHYS_BITS || !ual_is_pow2(cfg->tlb) ||
	    !ual_is_pow2(cfg->faults) || !cfg->pt_pool || (cfg->mem & PAGE_MASK_LO) ||
	    !(cfg->modes & (UAL_MODE_PHYSICAL | UAL_MODE_VIRTUAL)))
		return ual_err_set(err, UAL_EINVAL, "invalid fabric configuration");
	return 0;
}

int ual_fabric_init(struct ual_fabric *fab, const struct ual_fabric_cfg *cfg,
		    const struct ual_host_ops *ops, struct ual_err *err)
{
	u32 i;
	int ret = check_cfg(cfg, err);

	if (ret)
		return ret;
	fab->cfg = *cfg;
	fab->host_ops = *ops;
	fab->accel = ual_zalloc(&fab->allocs, sizeof(*fab->accel) * cfg->accels);
	if (!fab->accel)
		return ual_err_set(err, UAL_ENOMEM, "out of memory for %u accelerators",
				   cfg->accels);
	for (i = 0; i < cfg->accels; i++) {
		ret = accel_init(fab, &fab->accel[i], i);
		if (ret) {
			accel_destroy(fab, &fab->accel[i]);
			break;
		}
	}
	if (ret) {
		while (i--)
			accel_destroy(fab, &fab->accel[i]);
		ual_free(fab->accel);
		fab->accel = NULL;
		return ual_err_set(err, UAL_ENOMEM, "out of memory creating the fabric");
	}
	return 0;
}

int ual_fabric_create(const struct ual_fabric_cfg *cfg, const struct ual_host_ops *ops,
		      struct ual_fabric **out, struct ual_err *err)
{
	struct ual_fabric *fab;
	int ret = check_cfg(cfg, err);

	if (ret)
		return ret;
	fab = ual_zalloc(NULL, sizeof(*fab));
	if (!fab)
		return ual_err_set(err, UAL_ENOMEM, "out of memory for the fabric");
	ual_atomic64_set(&fab->allocs, 1);	/* the fabric itself */
	ret = ual_fabric_init(fab, cfg, ops, err);
	if (ret) {
		ual_free(fab);
		return ret;
	}
	*out = fab;
	return 0;
}

void ual_fabric_destroy(struct ual_fabric *fab)
{
	u32 i;

	if (!fab)
		return;
	for (i = 0; i < fab->cfg.accels; i++) {
		struct ual_accel *a = &fab->accel[i];
		struct ra_node *n;

		/* Registrations left behind still hold backend pins. */
		while ((n = ra_next(&a->tgt.host.frames, 0))) {
			struct host_reg *reg = ((struct host_run *)n->data)->reg;

			if (fab->host_ops.release)
				fab->host_ops.release(fab->host_ops.ctx, reg);
			host_unregister(&a->tgt.host, reg);
		}
		accel_destroy(fab, a);
	}
	ual_free(fab->accel);
	ual_free(fab);
}

void ual_owner_init(struct ual_owner *o, struct ual_fabric *fab, u32 accel)
{
	o->fab = fab;
	o->accel = accel;
	o->domain = 0;
	o->host_ops = &fab->host_ops;
	ual_list_init(&o->ranges);
	ual_list_init(&o->blocks);
	host_space_init(&o->host, &fab->allocs);
}

static inline struct ual_accel *local(const struct ual_owner *o)
{
	return &o->fab->accel[o->accel];
}

static bool has_mode(const struct ual_fabric *fab, u32 mode)
{
	return fab->cfg.modes & mode;
}

/* ---- PFN validity (target lock held) ------------------------------------- */

/* A host page is mappable only by the owner that registered it. */
static int check_host_owner(const struct ual_owner *o, const struct ual_accel *t,
			    const struct host_reg *reg, u64 pfn, struct ual_err *err)
{
	if (reg->owner != o)
		return ual_err_set(err, UAL_EPERM,
				   "host PFN 0x%llx of accelerator %u was not registered through this handle",
				   (ull)pfn, t->id);
	return 0;
}

static int check_pfn(const struct ual_owner *o, struct ual_accel *t, u64 pfn,
		     struct ual_err *err)
{
	struct host_reg *reg;
	u64 idx;

	if (devmem_contains(&t->tgt.mem, pfn)) {
		if (!devmem_allocated(&t->tgt.mem, pfn))
			return ual_err_set(err, UAL_ENOENT,
					   "PFN 0x%llx of accelerator %u is not allocated",
					   (ull)pfn, t->id);
		return 0;
	}
	if (pfn >= HOST_PFN_BASE && pfn - HOST_PFN_BASE < HOST_FRAMES) {
		reg = host_lookup(&t->tgt.host, pfn - HOST_PFN_BASE, &idx);
		if (!reg)
			return ual_err_set(err, UAL_ENOENT,
					   "host PFN 0x%llx of accelerator %u is not registered",
					   (ull)pfn, t->id);
		return check_host_owner(o, t, reg, pfn, err);
	}
	return ual_err_set(err, UAL_ERANGE,
			   "PFN 0x%llx outside accelerator %u memory (0x%llx pages)",
			   (ull)pfn, t->id, (ull)t->tgt.mem.pages);
}

/* Target lock of @t held: PFNs of an accelerator whose domain died name nothing. */
static int check_pfns(const struct ual_owner *o, struct ual_accel *t, const u64 *pfns,
		      u64 n, struct ual_err *err)
{
	u64 i;
	int ret;

	if (t->tgt.down[0])
		return ual_err_set(err, UAL_EHOSTDOWN, "%s", t->tgt.down);
	for (i = 0; i < n; i++) {
		ret = check_pfn(o, t, pfns[i], err);
		if (ret)
			return ret;
	}
	return 0;
}

/* Every page of [pfn, pfn + n) (no wrap) must be valid; O(pieces log n). */
static int check_pfn_range(const struct ual_owner *o, struct ual_accel *t, u64 pfn, u64 n,
			   struct ual_err *err)
{
	struct devmem *dm = &t->tgt.mem;
	u64 end = pfn + n, p, idx;

	if (end <= dm->pages) {
		p = devmem_first_unallocated(dm, pfn, n);
		if (p != ~0ull)
			return ual_err_set(err, UAL_ENOENT,
					   "PFN 0x%llx of accelerator %u is not allocated",
					   (ull)p, t->id);
		return 0;
	}
	if (pfn >= HOST_PFN_BASE && end - HOST_PFN_BASE <= HOST_FRAMES) {
		for (p = pfn; p < end;) {
			struct host_reg *reg = host_lookup(&t->tgt.host, p - HOST_PFN_BASE, &idx);
			const struct ra_node *run;

			if (!reg)
				return ual_err_set(err, UAL_ENOENT,
						   "host PFN 0x%llx of accelerator %u is not registered",
						   (ull)p, t->id);
			if (check_host_owner(o, t, reg, p, err))
				return UAL_EPERM;
			run = ra_lookup(&t->tgt.host.frames, p - HOST_PFN_BASE);
			p = HOST_PFN_BASE + run->start + run->len;
		}
		return 0;
	}
	return ual_err_set(err, UAL_ERANGE,
			   "pages 0x%llx+0x%llx outside accelerator %u memory (0x%llx pages)",
			   (ull)pfn, (ull)n, t->id, (ull)dm->pages);
}

/*
 * Count the host pages among @pfns (checked) in or out of their
 * registrations' link counts, a run of consecutive frames at a time.
 * Target lock held. Return: the number of host pages.
 */
static u64 account_pfns(struct ual_accel *t, const u64 *pfns, u64 n, bool add)
{
	u64 i = 0, j, nhost = 0;

	while (i < n) {
		if (pfns[i] < HOST_PFN_BASE) {
			i++;
			continue;
		}
		for (j = i + 1; j < n && pfns[j] == pfns[j - 1] + 1; j++)
			;
		host_account(&t->tgt.host, pfns[i] - HOST_PFN_BASE, j - i, HOST_LINKED, add);
		nhost += j - i;
		i = j;
	}
	return nhost;
}

/* ---- query --------------------------------------------------------------- */

int fab_query(struct ual_owner *o, struct ual_info *info)
{
	struct ual_fabric *fab = o->fab;
	struct ual_accel *a = local(o);

	ual_memset(info, 0, sizeof(*info));
	info->abi_version = UAL_ABI_VERSION;
	info->accel_id = (u16)a->id;
	info->num_accels = (u16)fab->cfg.accels;
	info->modes = fab->cfg.modes;
	info->phys_bits = UAL_PHYS_BITS;
	info->dma_bits = fab->cfg.dma_bits;
	info->req_min = UAL_REQ_MIN;
	info->req_max = UAL_REQ_MAX;
	info->tlb_entries = fab->cfg.tlb;
	info->pt_pool_pages = fab->cfg.pt_pool;
	info->mem_size = fab->cfg.mem;

	ual_mutex_lock(&a->dom.lock);
	info->pt_levels = a->dom.pt.levels;
	info->pgsize_bitmap = SZ_4K | SZ_64K | (a->dom.pt.levels >= 2 ? SZ_2M : 0);
	info->pt_pool_free = pt_pool_free(&a->dom.pt);
	info->iova_ranges = ra_nr_used(&a->dom.iova);
	info->mapped_pages = a->dom.pt.mapped;
	info->tlb_hits = a->dom.tlb.hits;
	info->tlb_misses = a->dom.tlb.misses;
	ual_mutex_lock(&a->tgt.lock);
	info->mem_free = devmem_free_pages(&a->tgt.mem) << UAL_PAGE_SHIFT;
	info->grants = grant_count(&a->tgt.grants);
	ual_mutex_unlock(&a->tgt.lock);
	ual_mutex_unlock(&a->dom.lock);
	return 0;
}

/* ---- device memory ---------------------------------------------------------- */

int fab_mem_alloc(struct ual_owner *o, u64 size, u64 align, u64 *pfn, struct ual_err *err)
{
	struct ual_accel *a = local(o);
	int ret;

	if (!size || (size & PAGE_MASK_LO))
		return ual_err_set(err, UAL_EINVAL,
				   "size 0x%llx is not a non-zero multiple of 4 KiB", (ull)size);
	if (!align)
		align = SZ_4K;
	if (!ual_is_pow2(align) || align < SZ_4K)
		return ual_err_set(err, UAL_EINVAL,
				   "alignment 0x%llx is not a power of two >= 4 KiB", (ull)align);
	if (align > PHYS_LIMIT)
		return ual_err_set(err, UAL_ENOMEM,
				   "no free block aligned to 0x%llx bytes", (ull)align);
	ual_mutex_lock(&a->tgt.lock);
	ret = devmem_alloc(&a->tgt.mem, size >> UAL_PAGE_SHIFT, align >> UAL_PAGE_SHIFT,
			   o, &o->blocks, pfn, err);
	ual_mutex_unlock(&a->tgt.lock);
	return ret;
}

int fab_mem_free(struct ual_owner *o, u64 pfn, u64 size, struct ual_err *err)
{
	struct ual_accel *a = local(o);
	int ret;

	ual_mutex_lock(&a->tgt.lock);
	if (size & PAGE_MASK_LO) {
		struct ra_node *n = ra_find(&a->tgt.mem.blocks, pfn);

		if (!n || ((struct dm_block *)n->data)->owner != o)
			ret = ual_err_set(err, UAL_ENOENT,
					  "no block of this handle starts at PFN 0x%llx", (ull)pfn);
		else
			ret = ual_err_set(err, UAL_EINVAL,
					  "size 0x%llx differs from the block's 0x%llx bytes",
					  (ull)size, (ull)(n->len << UAL_PAGE_SHIFT));
	} else {
		ret = devmem_free(&a->tgt.mem, pfn, size >> UAL_PAGE_SHIFT, o, err);
	}
	ual_mutex_unlock(&a->tgt.lock);
	return ret;
}

static int check_mem_window(struct ual_accel *a, u64 phys, u64 len, struct ual_err *err)
{
	u64 bytes = a->tgt.mem.pages << UAL_PAGE_SHIFT;

	if (phys + len < phys)
		return ual_err_set(err, UAL_EOVERFLOW, "0x%llx + 0x%llx wraps",
				   (ull)phys, (ull)len);
	if (phys > bytes || bytes - phys < len)
		return ual_err_set(err, UAL_ERANGE,
				   "[0x%llx, 0x%llx) outside accelerator %u memory (0x%llx bytes)",
				   (ull)phys, (ull)(phys + len), a->id, (ull)bytes);
	return 0;
}

int fab_mem_prepare(struct ual_owner *o, u64 phys, u64 len, bool write, struct ual_err *err)
{
	struct ual_accel *a = local(o);
	int ret;

	if (!len)
		return 0;
	ret = check_mem_window(a, phys, len, err);
	if (ret || !write)
		return ret;
	ual_mutex_lock(&a->tgt.lock);
	if (devmem_ensure(&a->tgt.mem, phys, len))
		ret = ual_err_set(err, UAL_ENOMEM, "out of memory backing device memory");
	ual_mutex_unlock(&a->tgt.lock);
	return ret;
}

int fab_mem_write(struct ual_owner *o, u64 phys, const void *buf, u64 len, struct ual_err *err)
{
	struct ual_accel *a = local(o);
	int ret;

	if (!len)
		return 0;
	ret = check_mem_window(a, phys, len, err);
	if (ret)
		return ret;
	ual_mutex_lock(&a->tgt.lock);
	/* Back every page first so a failure writes nothing. */
	ret = devmem_ensure(&a->tgt.mem, phys, len);
	if (ret)
		ret = ual_err_set(err, UAL_ENOMEM, "out of memory backing device memory");
	else
		devmem_write(&a->tgt.mem, phys, buf, len);
	ual_mutex_unlock(&a->tgt.lock);
	return ret;
}

int fab_mem_read(struct ual_owner *o, u64 phys, void *buf, u64 len, struct ual_err *err)
{
	struct ual_accel *a = local(o);
	int ret;

	if (!len)
		return 0;
	ret = check_mem_window(a, phys, len, err);
	if (ret)
		return ret;
	ual_mutex_lock(&a->tgt.lock);
	devmem_read(&a->tgt.mem, phys, buf, len);
	ual_mutex_unlock(&a->tgt.lock);
	return 0;
}

/* ---- host registrations ------------------------------------------------------ */

int fab_mem_register(struct ual_owner *o, u64 uaddr, u64 len, const u64 *frames,
		     void *cookie, u64 *pfns, struct ual_err *err)
{
	struct ual_accel *a = local(o);
	int ret;

	if (!uaddr || (uaddr & PAGE_MASK_LO) || !len || (len & PAGE_MASK_LO))
		return ual_err_set(err, UAL_EINVAL,
				   "buffer 0x%llx+0x%llx is not a non-empty 4 KiB-aligned range",
				   (ull)uaddr, (ull)len);
	if (uaddr + len < uaddr)
		return ual_err_set(err, UAL_EINVAL, "buffer 0x%llx+0x%llx wraps",
				   (ull)uaddr, (ull)len);
	ual_mutex_lock(&a->tgt.lock);
	ret = host_register(&a->tgt.host, &o->host, uaddr, len >> UAL_PAGE_SHIFT, frames, o,
			    cookie, pfns, err);
	ual_mutex_unlock(&a->tgt.lock);
	return ret;
}

int fab_mem_unregister(struct ual_owner *o, u64 uaddr, struct ual_err *err)
{
	struct ual_accel *a = local(o);
	struct host_reg *reg;
	int ret;

	ual_mutex_lock(&a->tgt.lock);
	ret = host_find_uaddr(&o->host, uaddr, &reg, err);
	if (!ret && (reg->linked || reg->granted)) {
		/* Its frames would be reused by the next registration (in a
		 * kernel: any process's) while a link or grant still reaches
		 * them. */
		ret = ual_err_set(err, UAL_EBUSY,
				  "buffer 0x%llx is in use: %llu page(s) linked in IOVA ranges, "
				  "%llu page(s) granted; unlink and revoke them first",
				  (ull)uaddr, (ull)reg->linked, (ull)reg->granted);
	} else if (!ret) {
		if (o->host_ops->release)
			o->host_ops->release(o->host_ops->ctx, reg);
		host_unregister(&a->tgt.host, reg);
	}
	ual_mutex_unlock(&a->tgt.lock);
	return ret;
}

/* ---- grants -------------------------------------------------------------------- */

static int grant_args(struct ual_owner *o, u32 target, u32 initiator, u64 pfn,
		      u64 npages, struct ual_err *err)
{
	if (target != o->accel)
		return ual_err_set(err, UAL_EPERM,
				   "target %u is not this handle's accelerator %u",
				   target, o->accel);
	if (initiator >= o->fab->cfg.accels)
		return ual_err_set(err, UAL_ENODEV, "no accelerator %u in the fabric (%u)",
				   initiator, o->fab->cfg.accels);
	if (!npages)
		return ual_err_set(err, UAL_EINVAL, "zero pages");
	if (pfn + npages < pfn)
		return ual_err_set(err, UAL_EOVERFLOW, "pages 0x%llx+0x%llx wrap",
				   (ull)pfn, (ull)npages);
	return 0;
}

int fab_grant(struct ual_owner *o, u32 target, u32 initiator, u64 pfn, u64 npages,
	      u32 prot, struct ual_err *err)
{
	struct ual_accel *a;
	int ret = grant_args(o, target, initiator, pfn, npages, err);

	if (ret)
		return ret;
	if (!prot || (prot & ~UAL_PROT_RW))
		return ual_err_set(err, UAL_EINVAL, "bad protection 0x%x", prot);
	a = local(o);
	ual_mutex_lock(&a->tgt.lock);
	ret = check_pfn_range(o, a, pfn, npages, err);
	if (!ret)
		ret = grant_add(&a->tgt.grants, initiator, pfn, npages, prot, o, err);
	if (!ret && pfn >= HOST_PFN_BASE)
		host_account(&a->tgt.host, pfn - HOST_PFN_BASE, npages, HOST_GRANTED, true);
	ual_mutex_unlock(&a->tgt.lock);
	return ret;
}

int fab_revoke(struct ual_owner *o, u32 target, u32 initiator, u64 pfn, u64 npages,
	       struct ual_err *err)
{
	struct ual_accel *a;
	int ret = grant_args(o, target, initiator, pfn, npages, err);

	if (ret)
		return ret;
	a = local(o);
	ual_mutex_lock(&a->tgt.lock);
	ret = grant_revoke(&a->tgt.grants, initiator, pfn, npages, err);
	/* Every page was granted, so (all or nothing) every page of a host
	 * range belongs to a registration that counted it. */
	if (!ret && pfn >= HOST_PFN_BASE)
		host_account(&a->tgt.host, pfn - HOST_PFN_BASE, npages, HOST_GRANTED, false);
	ual_mutex_unlock(&a->tgt.lock);
	return ret;
}

/* ---- physical mode ---------------------------------------------------------------- */

static int check_prot(u32 prot, struct ual_err *err)
{
	if (!prot || (prot & ~UAL_PROT_RW))
		return ual_err_set(err, UAL_EINVAL, "bad protection 0x%x", prot);
	return 0;
}

int fab_map_pfns(struct ual_owner *o, u32 target, const u64 *pfns, u64 n, u32 prot,
		 struct ual_faddr *out, struct ual_err *err)
{
	struct ual_fabric *fab = o->fab;
	struct ual_accel *t;
	u64 i;
	int ret;

	if (!has_mode(fab, UAL_MODE_PHYSICAL))
		return ual_err_set(err, UAL_ENOTSUP, "the fabric has no physical mode");
	if (target >= fab->cfg.accels)
		return ual_err_set(err, UAL_ENODEV, "no accelerator %u in the fabric (%u)",
				   target, fab->cfg.accels);
	if (!n)
		return ual_err_set(err, UAL_EINVAL, "zero PFNs");
	ret = check_prot(prot, err);
	if (ret)
		return ret;
	t = &fab->accel[target];
	ual_mutex_lock(&t->tgt.lock);
	ret = check_pfns(o, t, pfns, n, err);
	ual_mutex_unlock(&t->tgt.lock);
	if (ret)
		return ret;
	for (i = 0; i < n; i++) {
		out[i].addr = pfns[i] << UAL_PAGE_SHIFT;
		out[i].route = UAL_ROUTE(target);
		out[i].rsvd = 0;
	}
	return 0;
}

/* ---- IOVA ranges ------------------------------------------------------------------ */

static int need_virtual(struct ual_fabric *fab, struct ual_err *err)
{
	if (!has_mode(fab, UAL_MODE_VIRTUAL))
		return ual_err_set(err, UAL_ENOTSUP, "the fabric has no virtual mode");
	return 0;
}

/* The range of @o starting at @iova (domain lock held). */
static struct iova_range *find_range(struct ual_owner *o, u64 iova, struct ual_err *err)
{
	struct ra_node *n = (iova & PAGE_MASK_LO) ? NULL :
			    ra_find(&local(o)->dom.iova, iova >> UAL_PAGE_SHIFT);
	struct iova_range *r = n ? n->data : NULL;

	if (!r || r->owner != o) {
		ual_err_set(err, UAL_ENOENT, "no IOVA range of this handle starts at 0x%llx",
			    (ull)iova);
		return NULL;
	}
	return r;
}

/* Check [offset, offset + len) against range @r. */
static int check_part(const struct iova_range *r, u64 offset, u64 len, struct ual_err *err)
{
	if (offset + len < offset)
		return ual_err_set(err, UAL_EOVERFLOW, "offset 0x%llx + 0x%llx wraps",
				   (ull)offset, (ull)len);
	if (offset > r->size || r->size - offset < len)
		return ual_err_set(err, UAL_ERANGE,
				   "[0x%llx, 0x%llx) passes the end of the 0x%llx-byte range at 0x%llx",
				   (ull)offset, (ull)(offset + len), (ull)r->size, (ull)r->iova);
	return 0;
}

static int check_len_args(u64 offset, u64 len, struct ual_err *err)
{
	if (offset & PAGE_MASK_LO)
		return ual_err_set(err, UAL_EINVAL, "offset 0x%llx is not 4 KiB aligned",
				   (ull)offset);
	if (!len || (len & PAGE_MASK_LO))
		return ual_err_set(err, UAL_EINVAL,
				   "length 0x%llx is not a non-zero multiple of 4 KiB", (ull)len);
	return 0;
}

int fab_iova_alloc(struct ual_owner *o, u64 size, u32 flags, u64 *iova, struct ual_err *err)
{
	struct ual_domain *d = &local(o)->dom;
	struct iova_range *r;
	u64 start, align;
	int ret = need_virtual(o->fab, err);

	if (ret)
		return ret;
	if (!size || (size & PAGE_MASK_LO))
		return ual_err_set(err, UAL_EINVAL,
				   "size 0x%llx is not a non-zero multiple of 4 KiB", (ull)size);
	if (flags & ~UAL_IOVA_PREALLOC)
		return ual_err_set(err, UAL_EINVAL, "unknown flags 0x%x", flags);
	/* Align to the largest page size not above the size. */
	align = size >= SZ_2M ? SZ_2M : size >= SZ_64K ? SZ_64K : SZ_4K;
	r = ual_zalloc(&o->fab->allocs, sizeof(*r));
	if (!r)
		return ual_err_set(err, UAL_ENOMEM, "out of memory for a range");
	ual_mutex_lock(&d->lock);
	ret = ra_alloc(&d->iova, size >> UAL_PAGE_SHIFT, align >> UAL_PAGE_SHIFT, 0, ~0ull,
		       r, &start);
	if (ret == UAL_ENOSPC) {
		ret = ual_err_set(err, UAL_ENOSPC,
				  "no free IOVA range of 0x%llx bytes below the DMA limit 1 << %u",
				  (ull)size, d->pt.dma_bits);
		goto fail;
	} else if (ret) {
		ret = ual_err_set(err, UAL_ENOMEM, "out of memory for allocator metadata");
		goto fail;
	}
	r->iova = start << UAL_PAGE_SHIFT;
	r->size = size;
	r->flags = flags;
	r->owner = o;
	r->pt.stash.head = PT_NONE;
	if (flags & UAL_IOVA_PREALLOC) {
		ret = pt_prealloc(&d->pt, &r->pt, r->iova, size, err);
		if (ret) {
			ra_free(&d->iova, start);
			goto fail;
		}
	}
	ual_list_add_tail(&r->link, &o->ranges);
	ual_mutex_unlock(&d->lock);
	*iova = r->iova;
	return 0;
fail:
	ual_mutex_unlock(&d->lock);
	ual_free(r);
	return ret;
}

int fab_iova_link(struct ual_owner *o, u64 iova, u64 offset, u32 target, const u64 *pfns,
		  u64 n, u32 prot, struct ual_err *err)
{
	struct ual_fabric *fab = o->fab;
	struct ual_domain *d = &local(o)->dom;
	struct iova_range *r;
	struct ual_accel *t;
	int ret = need_virtual(fab, err);

	if (ret)
		return ret;
	if (offset & PAGE_MASK_LO)
		return ual_err_set(err, UAL_EINVAL, "offset 0x%llx is not 4 KiB aligned",
				   (ull)offset);
	if (!n)
		return ual_err_set(err, UAL_EINVAL, "zero pages");
	ret = check_prot(prot, err);
	if (ret)
		return ret;
	if (target >= fab->cfg.accels)
		return ual_err_set(err, UAL_ENODEV, "no accelerator %u in the fabric (%u)",
				   target, fab->cfg.accels);
	if (n > (~0ull >> UAL_PAGE_SHIFT))
		return ual_err_set(err, UAL_EOVERFLOW, "0x%llx pages overflow", (ull)n);
	t = &fab->accel[target];
	ual_mutex_lock(&d->lock);
	r = find_range(o, iova, err);
	if (!r) {
		ret = UAL_ENOENT;
		goto out;
	}
	ret = check_part(r, offset, n << UAL_PAGE_SHIFT, err);
	if (ret)
		goto out;
	ual_mutex_lock(&t->tgt.lock);
	ret = check_pfns(o, t, pfns, n, err);
	if (!ret)
		ret = pt_link(&d->pt, &r->pt, iova + offset, pfns, n, target, prot, err);
	if (!ret)
		r->host_linked += account_pfns(t, pfns, n, true);
	ual_mutex_unlock(&t->tgt.lock);
	if (!ret)
		r->linked += n;
out:
	ual_mutex_unlock(&d->lock);
	return ret;
}

int fab_iova_sync(struct ual_owner *o, u64 iova, u64 offset, u64 len, struct ual_err *err)
{
	struct ual_domain *d = &local(o)->dom;
	struct iova_range *r;
	int ret = need_virtual(o->fab, err);

	if (!ret)
		ret = check_len_args(offset, len, err);
	if (ret)
		return ret;
	ual_mutex_lock(&d->lock);
	r = find_range(o, iova, err);
	ret = r ? check_part(r, offset, len, err) : UAL_ENOENT;
	if (!ret)
		tlb_invalidate(&d->tlb, iova + offset, len);
	ual_mutex_unlock(&d->lock);
	return ret;
}

/*
 * Count the host pages linked in [start, end) of the local domain in or out
 * of their registrations' link counts. Host pages in a domain's tables are
 * always the local accelerator's (only their registering owner links them).
 * Domain and target locks of @a held. Return: the number of host pages.
 */
static u64 account_links(struct ual_accel *a, u64 start, u64 end, bool add)
{
	struct pt_leaf leaf;
	u64 p = start, skip, lo, hi, nhost = 0;

	while (p < end) {
		if (!pt_lookup(&a->dom.pt, p, &leaf, &skip)) {
			p += skip ? skip : SZ_4K;
			continue;
		}
		lo = p;
		hi = UAL_MIN(leaf.iova + leaf.size, end);
		if (leaf.target == a->id && leaf.pfn >= HOST_PFN_BASE) {
			host_account(&a->tgt.host,
				     leaf.pfn - HOST_PFN_BASE + ((lo - leaf.iova) >> UAL_PAGE_SHIFT),
				     (hi - lo) >> UAL_PAGE_SHIFT, HOST_LINKED, add);
			nhost += (hi - lo) >> UAL_PAGE_SHIFT;
		}
		p = hi;
	}
	return nhost;
}

int fab_iova_unlink(struct ual_owner *o, u64 iova, u64 offset, u64 len, struct ual_err *err)
{
	struct ual_accel *a = local(o);
	struct ual_domain *d = &a->dom;
	struct iova_range *r;
	u64 nhost = 0;
	int ret = need_virtual(o->fab, err);

	if (!ret)
		ret = check_len_args(offset, len, err);
	if (ret)
		return ret;
	ual_mutex_lock(&d->lock);
	r = find_range(o, iova, err);
	ret = r ? check_part(r, offset, len, err) : UAL_ENOENT;
	if (ret)
		goto out;
	if (!r->host_linked) {
		ret = pt_unlink(&d->pt, &r->pt, iova + offset, len, err);
	} else {
		/* The entries are gone after the unlink: count their host pages
		 * out first, back in if the unlink is refused (it changed
		 * nothing then). */
		ual_mutex_lock(&a->tgt.lock);
		nhost = account_links(a, iova + offset, iova + offset + len, false);
		ret = pt_unlink(&d->pt, &r->pt, iova + offset, len, err);
		if (ret)
			account_links(a, iova + offset, iova + offset + len, true);
		ual_mutex_unlock(&a->tgt.lock);
	}
	if (!ret) {
		/* Synchronous: nothing cached survives the unlink. */
		tlb_invalidate(&d->tlb, iova + offset, len);
		r->linked -= len >> UAL_PAGE_SHIFT;
		r->host_linked -= nhost;
	}
out:
	ual_mutex_unlock(&d->lock);
	return ret;
}

/* Domain lock held. Unlinks whatever is left (owner release). */
static void range_destroy(struct ual_domain *d, struct iova_range *r)
{
	if (r->linked)
		pt_clear(&d->pt, &r->pt, r->iova, r->size);
	tlb_invalidate(&d->tlb, r->iova, r->size);
	pt_unpin(&d->pt, &r->pt, r->iova, r->size);
	ra_free(&d->iova, r->iova >> UAL_PAGE_SHIFT);
	ual_list_del(&r->link);
	ual_free(r);
}

int fab_iova_free(struct ual_owner *o, u64 iova, struct ual_err *err)
{
	struct ual_domain *d = &local(o)->dom;
	struct iova_range *r;
	int ret = need_virtual(o->fab, err);

	if (ret)
		return ret;
	ual_mutex_lock(&d->lock);
	r = find_range(o, iova, err);
	if (!r) {
		ret = UAL_ENOENT;
	} else if (r->linked) {
		ret = ual_err_set(err, UAL_EBUSY,
				  "range 0x%llx still has 0x%llx pages linked",
				  (ull)iova, (ull)r->linked);
	} else {
		range_destroy(d, r);
	}
	ual_mutex_unlock(&d->lock);
	return ret;
}

int fab_dump(struct ual_owner *o, u64 iova, u64 len, struct ual_mapping *out, u64 max,
	     u64 *count, struct ual_err *err)
{
	struct ual_domain *d = &local(o)->dom;
	u64 end;

	if (len && iova + len < iova)
		return ual_err_set(err, UAL_EOVERFLOW, "window 0x%llx + 0x%llx wraps",
				   (ull)iova, (ull)len);
	end = len ? iova + len : 1ull << d->pt.dma_bits;
	ual_mutex_lock(&d->lock);
	*count = pt_dump(&d->pt, iova, end, out, max);
	ual_mutex_unlock(&d->lock);
	return 0;
}

/* ---- requests -------------------------------------------------------------------- */

struct req {
	u64 addr;
	u32 route;
	u32 access;
	u32 len;
};

struct xl {
	u32 target;
	u32 prot;
	u64 phys;
	u64 page_size;
	bool tlb_hit;
};

/* A refused request. */
struct refusal {
	u32 reason;
	u32 flags;
	u32 target;	/* UAL_ACCEL_NONE: decided before reaching a target */
	u64 foreign;	/* local host page of another handle (PFN), or 0 */
	const char *down;	/* the target is down: why */
	bool other_domain;	/* a host page in another OS domain's process */
};

static int check_faddr(const struct ual_faddr *fa, const char *what, struct ual_err *err)
{
	if (fa->rsvd)
		return ual_err_set(err, UAL_EINVAL, "%s: reserved field is 0x%x", what, fa->rsvd);
	if ((fa->route & UAL_ROUTE_PHYS) ? (fa->route & ~(UAL_ROUTE_PHYS | UAL_ROUTE_TARGET_MASK))
					 : fa->route)
		return ual_err_set(err, UAL_EINVAL, "%s: reserved route bits in 0x%x",
				   what, fa->route);
	return 0;
}

static int refuse(struct refusal *f, u32 reason, u32 flags, u32 target)
{
	f->reason = reason;
	f->flags = flags;
	f->target = target;
	f->foreign = 0;
	f->down = NULL;
	f->other_domain = false;
	return reason == UAL_FAULT_NO_GRANT || reason == UAL_FAULT_GRANT_PROT ?
	       UAL_EACCES : UAL_EFAULT;
}

/*
 * Initiator side: IOVA -> (target, phys) through the TLB, or a route.
 * Domain lock of @a held. @use_tlb false reads the page tables only (for a
 * request already checked through the TLB under the same lock: positive
 * TLB entries never go stale, so the result is the same).
 */
static int xlate_init(struct ual_fabric *fab, struct ual_accel *a, const struct req *rq,
		      bool use_tlb, struct xl *x, struct refusal *f)
{
	struct ual_domain *d = &a->dom;
	const struct tlb_entry *e = NULL;
	struct pt_leaf leaf;
	u64 skip;

	x->tlb_hit = false;
	if (rq->route & UAL_ROUTE_PHYS) {
		if (!has_mode(fab, UAL_MODE_PHYSICAL))
			return refuse(f, UAL_FAULT_MODE, 0, UAL_ACCEL_NONE);
		x->target = rq->route & UAL_ROUTE_TARGET_MASK;
		if (x->target >= fab->cfg.accels)
			return refuse(f, UAL_FAULT_BAD_TARGET, 0, UAL_ACCEL_NONE);
		x->phys = rq->addr;
		x->page_size = SZ_4K;
		x->prot = UAL_PROT_RW;
		return 0;
	}
	if (!has_mode(fab, UAL_MODE_VIRTUAL))
		return refuse(f, UAL_FAULT_MODE, 0, UAL_ACCEL_NONE);
	if (rq->addr >> d->pt.dma_bits)
		return refuse(f, UAL_FAULT_OUT_OF_RANGE, 0, UAL_ACCEL_NONE);
	if (use_tlb)
		e = tlb_lookup(&d->tlb, rq->addr);
	if (e) {
		x->tlb_hit = true;
		if (!e->present)
			return refuse(f, UAL_FAULT_NOT_PRESENT, UAL_FAULT_F_TLB, UAL_ACCEL_NONE);
		leaf.iova = e->iova;
		leaf.size = 1ull << e->size_shift;
		leaf.pfn = e->pfn;
		leaf.target = e->target;
		leaf.prot = e->prot;
	} else if (pt_lookup(&d->pt, rq->addr, &leaf, &skip)) {
		if (use_tlb)
			tlb_fill(&d->tlb, leaf.iova, leaf.size == SZ_2M ? 21 :
				 leaf.size == SZ_64K ? 16 : 12, leaf.pfn, leaf.target, leaf.prot);
	} else {
		if (use_tlb)
			tlb_fill_absent(&d->tlb, rq->addr);
		return refuse(f, UAL_FAULT_NOT_PRESENT, 0, UAL_ACCEL_NONE);
	}
	if (rq->access & ~leaf.prot)
		return refuse(f, UAL_FAULT_PROT, x->tlb_hit ? UAL_FAULT_F_TLB : 0, UAL_ACCEL_NONE);
	x->target = leaf.target;
	x->prot = leaf.prot;
	x->page_size = leaf.size;
	x->phys = (leaf.pfn << UAL_PAGE_SHIFT) + (rq->addr - leaf.iova);
	return 0;
}

/*
 * Target side: memory range and grants. Target lock held. A local request
 * (initiator == target) needs no grant, but reaches a host page only when
 * issued through @caller, the handle that registered it: other handles of
 * the accelerator must not reach memory they did not pin (in a kernel,
 * another process's pages), whatever address they forge.
 */
static int xlate_target(struct ual_fabric *fab, const struct ual_owner *caller, u32 initiator,
			const struct req *rq, struct xl *x, struct refusal *f)
{
	struct ual_accel *t = &fab->accel[x->target];
	u64 pfn = x->phys >> UAL_PAGE_SHIFT, idx;
	const struct host_reg *reg = NULL;
	const struct grant *g;

	if (x->phys >= PHYS_LIMIT)
		return refuse(f, UAL_FAULT_OUT_OF_RANGE, 0, x->target);
	if (t->tgt.down[0] && initiator != x->target) {
		/* Its domain died: the grants are gone, and the requester
		 * learns why rather than a bare "no grant". */
		refuse(f, UAL_FAULT_NO_GRANT, 0, x->target);
		f->down = t->tgt.down;
		return UAL_EHOSTDOWN;
	}
	if (!devmem_contains(&t->tgt.mem, pfn)) {
		if (pfn >= HOST_PFN_BASE)
			reg = host_lookup(&t->tgt.host, pfn - HOST_PFN_BASE, &idx);
		if (!reg)
			return refuse(f, UAL_FAULT_OUT_OF_RANGE, 0, x->target);
	}
	if (initiator == x->target) {
		if (reg && reg->owner != caller) {
			refuse(f, UAL_FAULT_NO_GRANT, 0, x->target);
			f->foreign = pfn;
			return UAL_EACCES;
		}
		return 0;	/* local: no grant needed */
	}
	g = grant_find(&t->tgt.grants, initiator, pfn);
	if (!g)
		return refuse(f, UAL_FAULT_NO_GRANT, 0, x->target);
	if (rq->access & ~g->prot)
		return refuse(f, UAL_FAULT_GRANT_PROT, 0, x->target);
	if (reg && ((const struct ual_owner *)reg->owner)->domain != caller->domain) {
		/* Granted, but the page lives in another process of a shared
		 * pod: only device memory is in the pod's file. */
		refuse(f, UAL_FAULT_NO_GRANT, 0, x->target);
		f->other_domain = true;
		return UAL_ENOTSUP;
	}
	if (rq->route & UAL_ROUTE_PHYS)
		x->prot = g->prot;
	return 0;
}

static void record(struct ual_fabric *fab, u32 initiator, const struct req *rq,
		   const struct refusal *f)
{
	struct ual_fault rec = {
		.addr = rq->addr, .route = rq->route, .initiator = (u16)initiator,
		.target = (u16)f->target, .access = rq->access, .reason = f->reason,
		.flags = f->flags, .len = rq->len,
	};
	struct ual_accel *a = &fab->accel[initiator];

	ual_mutex_lock(&a->fault_lock);
	fault_ring_push(&a->faults, &rec);
	ual_mutex_unlock(&a->fault_lock);
	if (f->target != UAL_ACCEL_NONE && f->target != initiator) {
		struct ual_accel *t = &fab->accel[f->target];

		rec.flags |= UAL_FAULT_F_AT_TARGET;
		ual_mutex_lock(&t->fault_lock);
		fault_ring_push(&t->faults, &rec);
		ual_mutex_unlock(&t->fault_lock);
	}
}

static const char *reason_name(u32 reason)
{
	switch (reason) {
	case UAL_FAULT_NOT_PRESENT:	return "not present";
	case UAL_FAULT_PROT:		return "mapping does not allow the access";
	case UAL_FAULT_NO_GRANT:	return "no grant at the target";
	case UAL_FAULT_GRANT_PROT:	return "grant does not allow the access";
	case UAL_FAULT_BAD_TARGET:	return "route names no accelerator";
	case UAL_FAULT_OUT_OF_RANGE:	return "outside the target's memory";
	case UAL_FAULT_MODE:		return "addressing mode not enabled";
	default:			return "refused";
	}
}

static void why_fmt(char *buf, size_t size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void why_fmt(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	ual_vsnprintf(buf, size, fmt, ap);
	va_end(ap);
}

static int refused(struct ual_err *err, int code, u32 initiator, const struct req *rq,
		   const struct refusal *f)
{
	char buf[UAL_DOWN_MSG_MAX];
	const char *why = buf;

	if (f->down)
		why = f->down;
	else if (f->other_domain)
		why = "the host page is in another OS domain's process (a shared pod reaches only "
		      "device memory across domains)";
	else if (f->foreign)
		why_fmt(buf, sizeof(buf), "host page 0x%llx of accelerator %u was registered "
			"through another handle", (ull)f->foreign, f->target);
	else
		why_fmt(buf, sizeof(buf), "%s%s", reason_name(f->reason),
			(f->flags & UAL_FAULT_F_TLB) ? " (cached in the TLB)" : "");
	return ual_err_set(err, code, "%s of 0x%llx%s (route 0x%x) by accelerator %u: %s",
			   rq->access == UAL_ACCESS_WRITE ? "write" : "read",
			   (ull)rq->addr, (rq->route & UAL_ROUTE_PHYS) ? "" : " (IOVA)",
			   rq->route, initiator, why);
}

/* In a shared pod a process issues requests only as its own accelerators. */
static int check_initiator_domain(const struct ual_owner *o, u32 initiator,
				  struct ual_err *err)
{
	if (o->fab->accel[initiator].domain == o->domain)
		return 0;
	return ual_err_set(err, UAL_EPERM, "accelerator %u belongs to another OS domain of the "
			   "pod (or to none): this process issues requests only as its own "
			   "accelerators", initiator);
}

int fab_translate(struct ual_owner *o, u32 initiator, const struct ual_faddr *fa,
		  u32 access, struct ual_xlate *out, struct ual_err *err)
{
	struct ual_fabric *fab = o->fab;
	struct req rq = { .addr = fa->addr, .route = fa->route, .access = access,
			  .len = UAL_REQ_MIN };
	struct refusal f;
	struct ual_accel *a, *t;
	struct xl x;
	int ret;

	if (access != UAL_ACCESS_READ && access != UAL_ACCESS_WRITE)
		return ual_err_set(err, UAL_EINVAL, "bad access 0x%x", access);
	ret = check_faddr(fa, "address", err);
	if (ret)
		return ret;
	if (initiator >= fab->cfg.accels)
		return ual_err_set(err, UAL_ENODEV, "no accelerator %u in the fabric (%u)",
				   initiator, fab->cfg.accels);
	ret = check_initiator_domain(o, initiator, err);
	if (ret)
		return ret;
	a = &fab->accel[initiator];
	ual_mutex_lock(&a->dom.lock);
	ret = xlate_init(fab, a, &rq, true, &x, &f);
	if (!ret) {
		t = &fab->accel[x.target];
		ual_mutex_lock(&t->tgt.lock);
		ret = xlate_target(fab, o, initiator, &rq, &x, &f);
		ual_mutex_unlock(&t->tgt.lock);
	}
	if (ret)
		record(fab, initiator, &rq, &f);
	ual_mutex_unlock(&a->dom.lock);
	if (ret)
		return refused(err, ret, initiator, &rq, &f);
	ual_memset(out, 0, sizeof(*out));
	out->target = (u16)x.target;
	out->flags = x.tlb_hit ? UAL_XLATE_TLB_HIT : 0;
	out->phys = x.phys;
	out->page_size = x.page_size;
	out->prot = x.prot;
	return 0;
}

/* ---- copy ------------------------------------------------------------------------- */

/* Bytes of the next request at @done: up to 256, crossing no 256-byte
 * boundary of either side (so no page boundary either). */
static u32 req_len(u64 dst, u64 src, u64 left)
{
	u64 a = UAL_REQ_MAX - (dst & (UAL_REQ_MAX - 1));
	u64 b = UAL_REQ_MAX - (src & (UAL_REQ_MAX - 1));

	return (u32)UAL_MIN(UAL_MIN(a, b), left);
}

#define BITMAP_WORDS (UAL_MAX_ACCELS / 64)

static void target_rw(struct ual_owner *o, const struct xl *x, void *buf, u32 len,
		      bool write)
{
	struct ual_fabric *fab = o->fab;
	struct ual_accel *t = &fab->accel[x->target];
	u64 pfn = x->phys >> UAL_PAGE_SHIFT, idx;
	struct host_reg *reg;

	if (devmem_contains(&t->tgt.mem, pfn)) {
		if (write)
			devmem_write(&t->tgt.mem, x->phys, buf, len);
		else
			devmem_read(&t->tgt.mem, x->phys, buf, len);
		return;
	}
	reg = host_lookup(&t->tgt.host, pfn - HOST_PFN_BASE, &idx);
	o->host_ops->access(o->host_ops->ctx, reg, idx, (u32)(x->phys & PAGE_MASK_LO),
			    buf, len, write);
}

/*
 * All requests are checked before a byte moves, with the initiator's
 * domain lock and every target lock held across check and move, so a
 * concurrent unlink or revoke cannot slip in between.
 */
int fab_copy_args(const struct ual_fabric *fab, u32 initiator, const struct ual_faddr *dst,
		  const struct ual_faddr *src, u64 len, struct ual_err *err)
{
	int ret;

	if (!len || (len % UAL_REQ_MIN))
		return ual_err_set(err, UAL_EINVAL,
				   "length 0x%llx is not a non-zero multiple of %u",
				   (ull)len, UAL_REQ_MIN);
	ret = check_faddr(dst, "destination", err);
	if (!ret)
		ret = check_faddr(src, "source", err);
	if (ret)
		return ret;
	if ((dst->addr | src->addr) % UAL_REQ_MIN)
		return ual_err_set(err, UAL_EINVAL, "addresses 0x%llx, 0x%llx not %u-byte aligned",
				   (ull)dst->addr, (ull)src->addr, UAL_REQ_MIN);
	if (dst->addr + len < dst->addr || src->addr + len < src->addr)
		return ual_err_set(err, UAL_EOVERFLOW, "an address + 0x%llx wraps", (ull)len);
	if (initiator >= fab->cfg.accels)
		return ual_err_set(err, UAL_ENODEV, "no accelerator %u in the fabric (%u)",
				   initiator, fab->cfg.accels);
	return 0;
}

int fab_copy(struct ual_owner *o, u32 initiator, const struct ual_faddr *dst,
	     const struct ual_faddr *src, u64 len, struct ual_err *err)
{
	struct ual_fabric *fab = o->fab;
	u64 targets[BITMAP_WORDS] = { 0 };
	struct req rq[2], bad_rq;
	struct refusal f, bad_f;
	u64 done, stop = len;	/* stop: offset of the first translation fault */
	int stop_side = 0, ret = 0, bad_ret = 0, side;
	struct ual_accel *a;
	struct xl x[2];
	u32 i, n;
	u8 buf[UAL_REQ_MAX];

	ret = fab_copy_args(fab, initiator, dst, src, len, err);
	if (!ret)
		ret = check_initiator_domain(o, initiator, err);
	if (ret)
		return ret;
	a = &fab->accel[initiator];
	ual_mutex_lock(&a->dom.lock);

	/* Pass 1: initiator side, through the TLB; stop at the first fault. */
	for (done = 0; done < len && !bad_ret; done += n) {
		n = req_len(dst->addr + done, src->addr + done, len - done);
		rq[0] = (struct req){ src->addr + done, src->route, UAL_ACCESS_READ, n };
		rq[1] = (struct req){ dst->addr + done, dst->route, UAL_ACCESS_WRITE, n };
		for (side = 0; side < 2; side++) {
			ret = xlate_init(fab, a, &rq[side], true, &x[side], &f);
			if (ret) {
				bad_ret = ret;
				bad_rq = rq[side];
				bad_f = f;
				stop = done;
				stop_side = side;
				break;
			}
			targets[x[side].target / 64] |= 1ull << (x[side].target % 64);
		}
	}

	/* Lock every target reached, ascending (ual.h lock order). */
	for (i = 0; i < fab->cfg.accels; i++)
		if (targets[i / 64] & (1ull << (i % 64)))
			ual_mutex_lock(&fab->accel[i].tgt.lock);

	/* Pass 2: target side of the requests before the first fault. */
	for (done = 0; done <= stop && done < len; done += n) {
		n = req_len(dst->addr + done, src->addr + done, len - done);
		rq[0] = (struct req){ src->addr + done, src->route, UAL_ACCESS_READ, n };
		rq[1] = (struct req){ dst->addr + done, dst->route, UAL_ACCESS_WRITE, n };
		for (side = 0; side < 2; side++) {
			if (done == stop && side >= stop_side)
				break;
			xlate_init(fab, a, &rq[side], false, &x[side], &f);
			ret = xlate_target(fab, o, initiator, &rq[side], &x[side], &f);
			if (ret) {
				bad_ret = ret;
				bad_rq = rq[side];
				bad_f = f;
				break;
			}
		}
		if (ret)
			break;
	}

	/* Pass 3: back destination device pages, so the move cannot fail. */
	for (done = 0; !bad_ret && done < len; done += n) {
		n = req_len(dst->addr + done, src->addr + done, len - done);
		rq[1] = (struct req){ dst->addr + done, dst->route, UAL_ACCESS_WRITE, n };
		xlate_init(fab, a, &rq[1], false, &x[1], &f);
		if (devmem_contains(&fab->accel[x[1].target].tgt.mem, x[1].phys >> UAL_PAGE_SHIFT) &&
		    devmem_ensure(&fab->accel[x[1].target].tgt.mem, x[1].phys, n)) {
			ret = ual_err_set(err, UAL_ENOMEM, "out of memory backing device memory");
			goto unlock;
		}
	}

	/* Pass 4: move. */
	for (done = 0; !bad_ret && done < len; done += n) {
		n = req_len(dst->addr + done, src->addr + done, len - done);
		rq[0] = (struct req){ src->addr + done, src->route, UAL_ACCESS_READ, n };
		rq[1] = (struct req){ dst->addr + done, dst->route, UAL_ACCESS_WRITE, n };
		xlate_init(fab, a, &rq[0], false, &x[0], &f);
		xlate_init(fab, a, &rq[1], false, &x[1], &f);
		target_rw(o, &x[0], buf, n, false);
		target_rw(o, &x[1], buf, n, true);
	}
	ret = 0;
	if (bad_ret) {
		record(fab, initiator, &bad_rq, &bad_f);
		ret = refused(err, bad_ret, initiator, &bad_rq, &bad_f);
	}
unlock:
	for (i = fab->cfg.accels; i-- > 0;)
		if (targets[i / 64] & (1ull << (i % 64)))
			ual_mutex_unlock(&fab->accel[i].tgt.lock);
	ual_mutex_unlock(&a->dom.lock);
	return ret;
}

/* ---- faults and release ----------------------------------------------------------- */

int fab_fault_read(struct ual_owner *o, struct ual_fault *out, u32 max, u32 *nread,
		   u64 *lost)
{
	struct ual_accel *a = local(o);

	ual_mutex_lock(&a->fault_lock);
	*nread = fault_ring_read(&a->faults, out, max, lost);
	ual_mutex_unlock(&a->fault_lock);
	return 0;
}

void ual_owner_release(struct ual_owner *o)
{
	struct ual_accel *a = local(o);

	ual_mutex_lock(&a->dom.lock);
	while (!ual_list_empty(&o->ranges))
		range_destroy(&a->dom, ual_container_of(o->ranges.next, struct iova_range, link));
	ual_mutex_unlock(&a->dom.lock);

	/* Links are gone; grants go before the registrations they cover, so
	 * no grant outlives its pages even for a moment. The link and grant
	 * counts of the registrations are not kept up: they go too. */
	ual_mutex_lock(&a->tgt.lock);
	grant_revoke_owner(&a->tgt.grants, o);
	while (!ual_list_empty(&o->blocks))
		devmem_free_block(&a->tgt.mem,
				  ual_container_of(o->blocks.next, struct dm_block, link));
	while (!ual_list_empty(&o->host.regs)) {
		struct host_reg *reg = ual_container_of(o->host.regs.next, struct host_reg, link);

		if (o->host_ops->release)
			o->host_ops->release(o->host_ops->ctx, reg);
		host_unregister(&a->tgt.host, reg);
	}
	host_space_destroy(&o->host);
	ual_mutex_unlock(&a->tgt.lock);
}
