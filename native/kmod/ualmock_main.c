// SPDX-License-Identifier: GPL-2.0 OR Apache-2.0
/*
 * ualmock_main.c - the ualmock kernel module: /dev/ualmock, a mock UAL
 * fabric implemented by the same fabric core as libual (native/core),
 * driven through the ioctls of include/uapi/ualmock.h.
 *
 * One fabric per loaded module (module parameters, read-only). Every open
 * file is one owner (struct ual_owner): everything it creates is released
 * in .release. Host buffers are pinned with pin_user_pages_fast() and
 * appear in the host aperture at their real PFNs; the fabric reaches their
 * bytes with kmap_local_page().
 *
 * Locking: a per-file mutex serialises the ioctls of one file (it guards
 * the file's batch buffer and its attach state) and nests outside the
 * core's locks (domain -> target -> fault, see ual.h).
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/debugfs.h>
#include <linux/fs.h>
#include <linux/highmem.h>
#include <linux/miscdevice.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/pagemap.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "fabric.h"
#include "ualmock.h"

/* The uapi mirrors ual.h's structs: arrays are copied as they are. */
static_assert(sizeof(struct ualm_faddr) == sizeof(struct ual_faddr));
static_assert(sizeof(struct ualm_mapping) == sizeof(struct ual_mapping));
static_assert(sizeof(struct ualm_fault) == sizeof(struct ual_fault));
static_assert(UALM_MSG_LEN <= UAL_ERR_MSG_MAX);

#define BATCH_BYTES	(UALM_MAX_BATCH * sizeof(u64))
#define ARGSZ_MAX	PAGE_SIZE	/* longest struct a caller may pass */

/* ---- module parameters (read-only after load) ---------------------------- */

static unsigned int accels = 4;
module_param(accels, uint, 0444);
MODULE_PARM_DESC(accels, "accelerators in the fabric (1..1024, default 4)");

static char *mem = "64M";
module_param(mem, charp, 0444);
MODULE_PARM_DESC(mem, "device memory per accelerator, K/M/G suffix (4K..64G, default 64M)");

static char *mode = "both";
module_param(mode, charp, 0444);
MODULE_PARM_DESC(mode, "addressing modes: physical, virtual or both (default)");

static unsigned int pt_pool = 4096;
module_param(pt_pool, uint, 0444);
MODULE_PARM_DESC(pt_pool, "page-table pool per domain, in 4 KiB pages (1..16M, default 4096)");

static unsigned int dma_bits = 48;
module_param(dma_bits, uint, 0444);
MODULE_PARM_DESC(dma_bits, "IOVA limit in bits (21..57, default 48)");

static unsigned int tlb = 512;
module_param(tlb, uint, 0444);
MODULE_PARM_DESC(tlb, "TLB entries per domain (power of two up to 1M, default 512)");

static unsigned int faults = 256;
module_param(faults, uint, 0444);
MODULE_PARM_DESC(faults, "fault ring entries per accelerator (power of two up to 1M, default 256)");

/* ---- global state ------------------------------------------------------- */

static struct ual_fabric *fabric;
static struct dentry *debug_dir;
static atomic64_t nr_open = ATOMIC64_INIT(0);
static atomic64_t nr_pinned = ATOMIC64_INIT(0);

/*
 * struct ualm_file - one open file: one owner of the fabric.
 * @lock:  serialises this file's ioctls (batch buffer, attach).
 * @used:  the file created something: it may no longer attach elsewhere.
 * @batch: UALM_MAX_BATCH u64 allocated at open, so that link and unlink on
 *         a preallocated range allocate nothing.
 */
struct ualm_file {
	struct mutex lock;
	struct ual_owner owner;
	bool used;
	u64 *batch;
};

/* The pinned pages behind one host registration (its cookie). */
struct ualm_pin {
	struct page **pages;
	u64 npages;
};

/* ---- host aperture accessor ------------------------------------------------ */

/*
 * Copy bytes of a pinned page. Called by the core with the domain and
 * target locks held; kmap_local_page() neither sleeps nor allocates.
 */
static void ualm_host_access(void *ctx, const struct host_reg *reg, u64 page_index,
			     u32 off, void *buf, u32 len, bool write)
{
	const struct ualm_pin *pin = reg->cookie;
	struct page *page = pin->pages[page_index];
	u8 *p = kmap_local_page(page);

	if (write) {
		memcpy(p + off, buf, len);
		flush_dcache_page(page);
	} else {
		memcpy(buf, p + off, len);
	}
	kunmap_local(p);
}

static void ualm_unpin(struct ualm_pin *pin)
{
	/* The fabric may have written any page: mark them all dirty. */
	unpin_user_pages_dirty_lock(pin->pages, pin->npages, true);
	atomic64_sub(pin->npages, &nr_pinned);
	kvfree(pin->pages);
	kfree(pin);
}

/* The registration goes away (unregister, release of the file). Target lock held. */
static void ualm_host_release(void *ctx, struct host_reg *reg)
{
	ualm_unpin(reg->cookie);
	reg->cookie = NULL;
}

static const struct ual_host_ops ualm_host_ops = {
	.access = ualm_host_access,
	.release = ualm_host_release,
};

/* ---- ioctl plumbing ---------------------------------------------------------- */

union ualm_args {
	struct ualm_hdr hdr;
	struct ualm_attach attach;
	struct ualm_info info;
	struct ualm_mem mem;
	struct ualm_mem_rw rw;
	struct ualm_register reg;
	struct ualm_grant grant;
	struct ualm_map_pfns map;
	struct ualm_iova iova;
	struct ualm_link link;
	struct ualm_part part;
	struct ualm_dump dump;
	struct ualm_translate xlate;
	struct ualm_copy copy;
	struct ualm_fault_read fread;
};

struct ualm_cmd {
	const char *op;		/* the ABI call, for messages */
	size_t size;		/* the module's struct size */
	bool out;		/* the struct carries results back */
	int (*fn)(struct ualm_file *uf, union ualm_args *a, struct ual_err *err);
};

static void __user *uptr(u64 v)
{
	return u64_to_user_ptr(v);
}

static int efault(struct ual_err *err, const char *what, u64 addr, u64 len)
{
	return ual_err_set(err, UAL_EFAULT, "%s 0x%llx+0x%llx is not accessible user memory",
			   what, addr, len);
}

static int rsvd(struct ual_err *err, const char *field, u64 v)
{
	if (v)
		return ual_err_set(err, UAL_EINVAL, "%s must be 0 (is 0x%llx)", field, v);
	return 0;
}

/*
 * An array argument: at most UALM_MAX_BATCH elements, a non-NULL pointer
 * when non-empty, and for output arrays writable memory, checked (by
 * faulting it in for writing through GUP, which leaves its bytes alone) before
 * anything changes.
 */
static int check_array(struct ual_err *err, const char *what, u64 ptr, u64 n, size_t elem,
		       bool output)
{
	if (n > UALM_MAX_BATCH)
		return ual_err_set(err, UAL_EINVAL, "%s: %llu elements, at most %u per call",
				   what, n, UALM_MAX_BATCH);
	if (!n)
		return 0;
	if (!ptr)
		return ual_err_set(err, UAL_EINVAL, "%s is NULL", what);
	if (output && fault_in_safe_writeable(uptr(ptr), n * elem))
		return efault(err, what, ptr, n * elem);
	return 0;
}

/* Copy @n PFNs of user array @ptr into the file's batch buffer. */
static int fetch_pfns(struct ualm_file *uf, struct ual_err *err, u64 ptr, u64 n)
{
	int ret = check_array(err, "pfns", ptr, n, sizeof(u64), false);

	if (ret)
		return ret;
	if (n && copy_from_user(uf->batch, uptr(ptr), n * sizeof(u64)))
		return efault(err, "pfns", ptr, n * sizeof(u64));
	return 0;
}

/* ---- commands ------------------------------------------------------------------ */

static int ualm_attach(struct ualm_file *uf, union ualm_args *a, struct ual_err *err)
{
	struct ualm_attach *at = &a->attach;

	if (at->abi != UALM_ABI_VERSION)
		return ual_err_set(err, UAL_EINVAL, "uapi version %u, the module speaks %u",
				   at->abi, UALM_ABI_VERSION);
	if (at->accel >= fabric->cfg.accels)
		return ual_err_set(err, UAL_ENODEV, "no accelerator %u in the fabric (%u)",
				   at->accel, fabric->cfg.accels);
	if (uf->used)
		return ual_err_set(err, UAL_EBUSY,
				   "this file already created objects on accelerator %u",
				   uf->owner.accel);
	ual_owner_init(&uf->owner, fabric, at->accel);
	return 0;
}

static int ualm_query(struct ualm_file *uf, union ualm_args *a, struct ual_err *err)
{
	struct ualm_info *q = &a->info;
	struct ual_info i;
	int ret = fab_query(&uf->owner, &i);

	if (ret)
		return ret;
	q->abi_version = i.abi_version;
	q->accel_id = i.accel_id;
	q->num_accels = i.num_accels;
	q->modes = i.modes;
	q->phys_bits = i.phys_bits;
	q->dma_bits = i.dma_bits;
	q->pt_levels = i.pt_levels;
	q->pgsize_bitmap = i.pgsize_bitmap;
	q->mem_size = i.mem_size;
	q->mem_free = i.mem_free;
	q->pt_pool_pages = i.pt_pool_pages;
	q->pt_pool_free = i.pt_pool_free;
	q->tlb_entries = i.tlb_entries;
	q->iova_ranges = i.iova_ranges;
	q->mapped_pages = i.mapped_pages;
	q->grants = i.grants;
	q->tlb_hits = i.tlb_hits;
	q->tlb_misses = i.tlb_misses;
	q->req_min = i.req_min;
	q->req_max = i.req_max;
	q->alloc_count = ual_fabric_alloc_count(fabric);
	memset(q->backend, 0, sizeof(q->backend));
	strscpy(q->backend, "kmod", sizeof(q->backend));
	q->fault_entries = fabric->cfg.faults;
	q->rsvd = 0;
	return 0;
}

static int ualm_mem_alloc(struct ualm_file *uf, union ualm_args *a, struct ual_err *err)
{
	int ret = fab_mem_alloc(&uf->owner, a->mem.size, a->mem.align, &a->mem.pfn, err);

	if (!ret)
		uf->used = true;
	return ret;
}

static int ualm_mem_free(struct ualm_file *uf, union ualm_args *a, struct ual_err *err)
{
	int ret = rsvd(err, "align", a->mem.align);

	return ret ? ret : fab_mem_free(&uf->owner, a->mem.pfn, a->mem.size, err);
}

/* Device memory <-> user memory through the batch buffer, in pieces. */
static int ualm_mem_rw(struct ualm_file *uf, union ualm_args *a, struct ual_err *err)
{
	struct ualm_mem_rw *rw = &a->rw;
	bool write = rw->op == UALM_RW_WRITE;
	u64 done, n;
	int ret;

	err->op = write ? "mem_write" : "mem_read";
	if (rw->op & ~UALM_RW_WRITE)
		return ual_err_set(err, UAL_EINVAL, "unknown op 0x%x", rw->op);
	ret = rsvd(err, "rsvd", rw->rsvd);
	if (ret)
		return ret;
	if (!rw->len)
		return 0;
	if (!rw->buf)
		return ual_err_set(err, UAL_EINVAL, "buf is NULL");
	if (rw->buf + rw->len < rw->buf || !access_ok(uptr(rw->buf), rw->len))
		return efault(err, "buf", rw->buf, rw->len);
	/* Window checked and (write) backed up front: a piece cannot fail on those grounds. */
	ret = fab_mem_prepare(&uf->owner, rw->phys, rw->len, write, err);
	for (done = 0; !ret && done < rw->len; done += n) {
		n = min_t(u64, rw->len - done, BATCH_BYTES);
		if (write) {
			if (copy_from_user(uf->batch, uptr(rw->buf + done), n))
				return efault(err, "buf", rw->buf + done, n);
			ret = fab_mem_write(&uf->owner, rw->phys + done, uf->batch, n, err);
		} else {
			ret = fab_mem_read(&uf->owner, rw->phys + done, uf->batch, n, err);
			if (!ret && copy_to_user(uptr(rw->buf + done), uf->batch, n))
				return efault(err, "buf", rw->buf + done, n);
		}
	}
	return ret;
}

/*
 * Pin the caller's pages (writable: the fabric may write them; long-term:
 * they stay pinned until unregistered) and register their real PFNs.
 */
static int ualm_mem_register(struct ualm_file *uf, union ualm_args *a, struct ual_err *err)
{
	struct ualm_register *r = &a->reg;
	u64 npages = r->len >> PAGE_SHIFT, pinned = 0, i;
	struct ualm_pin *pin;
	u64 *pfns;
	long got;
	int ret;

	if (!r->addr || (r->addr & ~PAGE_MASK) || !r->len || (r->len & ~PAGE_MASK))
		return ual_err_set(err, UAL_EINVAL,
				   "buffer 0x%llx+0x%llx is not a non-empty 4 KiB-aligned range",
				   r->addr, r->len);
	if (npages > UALM_MAX_BATCH)
		return ual_err_set(err, UAL_EINVAL, "0x%llx pages, at most %u per registration",
				   npages, UALM_MAX_BATCH);
	if (r->addr + r->len < r->addr || !access_ok(uptr(r->addr), r->len))
		return efault(err, "buffer", r->addr, r->len);
	ret = check_array(err, "pfns", r->pfns, npages, sizeof(u64), true);
	if (ret)
		return ret;

	pin = kzalloc(sizeof(*pin), GFP_KERNEL_ACCOUNT);
	pfns = kvmalloc_array(npages, sizeof(*pfns), GFP_KERNEL_ACCOUNT);
	if (pin)
		pin->pages = kvmalloc_array(npages, sizeof(*pin->pages), GFP_KERNEL_ACCOUNT);
	if (!pin || !pin->pages || !pfns) {
		ret = ual_err_set(err, UAL_ENOMEM, "out of memory for 0x%llx page pointers",
				  npages);
		goto free;
	}
	while (pinned < npages) {
		got = pin_user_pages_fast(r->addr + (pinned << PAGE_SHIFT), npages - pinned,
					  FOLL_WRITE | FOLL_LONGTERM, pin->pages + pinned);
		if (got <= 0) {
			ret = ual_err_set(err, UAL_EFAULT,
					  "cannot pin page 0x%llx of 0x%llx+0x%llx for writing (error %ld)",
					  pinned, r->addr, r->len, got);
			if (pinned)
				unpin_user_pages(pin->pages, pinned);
			goto free;
		}
		pinned += got;
	}
	pin->npages = npages;
	atomic64_add(npages, &nr_pinned);
	for (i = 0; i < npages; i++)
		uf->batch[i] = page_to_pfn(pin->pages[i]);
	ret = fab_mem_register(&uf->owner, r->addr, r->len, uf->batch, pin, pfns, err);
	if (ret) {
		ualm_unpin(pin);
		kvfree(pfns);
		return ret;
	}
	uf->used = true;
	if (copy_to_user(uptr(r->pfns), pfns, npages * sizeof(u64))) {
		/* Only if the array was unmapped since the check: undo. */
		fab_mem_unregister(&uf->owner, r->addr, NULL);
		ret = efault(err, "pfns", r->pfns, npages * sizeof(u64));
	}
	kvfree(pfns);
	return ret;
free:
	if (pin)
		kvfree(pin->pages);
	kfree(pin);
	kvfree(pfns);
	return ret;
}

static int ualm_mem_unregister(struct ualm_file *uf, union ualm_args *a, struct ual_err *err)
{
	int ret = rsvd(err, "len", a->reg.len);

	if (!ret)
		ret = rsvd(err, "pfns", a->reg.pfns);
	return ret ? ret : fab_mem_unregister(&uf->owner, a->reg.addr, err);
}

static int ualm_grant(struct ualm_file *uf, union ualm_args *a, struct ual_err *err)
{
	struct ualm_grant *g = &a->grant;
	int ret = rsvd(err, "rsvd", g->rsvd);

	if (!ret)
		ret = fab_grant(&uf->owner, g->target, g->initiator, g->pfn, g->npages, g->prot,
				err);
	if (!ret)
		uf->used = true;
	return ret;
}

static int ualm_revoke(struct ualm_file *uf, union ualm_args *a, struct ual_err *err)
{
	struct ualm_grant *g = &a->grant;
	int ret = rsvd(err, "rsvd", g->rsvd);

	if (!ret)
		ret = rsvd(err, "prot", g->prot);
	return ret ? ret : fab_revoke(&uf->owner, g->target, g->initiator, g->pfn, g->npages,
				      err);
}

static int ualm_map_pfns(struct ualm_file *uf, union ualm_args *a, struct ual_err *err)
{
	struct ualm_map_pfns *m = &a->map;
	struct ual_faddr *out;
	int ret = fetch_pfns(uf, err, m->pfns, m->n);

	if (!ret)
		ret = check_array(err, "addrs", m->addrs, m->n, sizeof(*out), true);
	if (ret)
		return ret;
	if (!m->n)	/* the core names the problem */
		return fab_map_pfns(&uf->owner, m->target, uf->batch, 0, m->prot, NULL, err);
	out = kvmalloc_array(m->n, sizeof(*out), GFP_KERNEL_ACCOUNT);
	if (!out)
		return ual_err_set(err, UAL_ENOMEM, "out of memory for 0x%llx addresses", m->n);
	ret = fab_map_pfns(&uf->owner, m->target, uf->batch, m->n, m->prot, out, err);
	if (!ret && copy_to_user(uptr(m->addrs), out, m->n * sizeof(*out)))
		ret = efault(err, "addrs", m->addrs, m->n * sizeof(*out));
	kvfree(out);
	return ret;
}

static int ualm_iova_alloc(struct ualm_file *uf, union ualm_args *a, struct ual_err *err)
{
	struct ualm_iova *v = &a->iova;
	int ret = rsvd(err, "rsvd", v->rsvd);

	if (!ret)
		ret = fab_iova_alloc(&uf->owner, v->size, v->flags, &v->iova, err);
	if (!ret)
		uf->used = true;
	return ret;
}

static int ualm_iova_free(struct ualm_file *uf, union ualm_args *a, struct ual_err *err)
{
	struct ualm_iova *v = &a->iova;
	int ret = rsvd(err, "rsvd", v->rsvd);

	if (!ret)
		ret = rsvd(err, "size", v->size);
	if (!ret)
		ret = rsvd(err, "flags", v->flags);
	return ret ? ret : fab_iova_free(&uf->owner, v->iova, err);
}

/* Allocates nothing: the PFNs go to the buffer allocated at open. */
static int ualm_iova_link(struct ualm_file *uf, union ualm_args *a, struct ual_err *err)
{
	struct ualm_link *l = &a->link;
	int ret = fetch_pfns(uf, err, l->pfns, l->n);

	return ret ? ret : fab_iova_link(&uf->owner, l->iova, l->offset, l->target, uf->batch,
					 l->n, l->prot, err);
}

static int ualm_iova_sync(struct ualm_file *uf, union ualm_args *a, struct ual_err *err)
{
	return fab_iova_sync(&uf->owner, a->part.iova, a->part.offset, a->part.len, err);
}

static int ualm_iova_unlink(struct ualm_file *uf, union ualm_args *a, struct ual_err *err)
{
	return fab_iova_unlink(&uf->owner, a->part.iova, a->part.offset, a->part.len, err);
}

static int ualm_dump(struct ualm_file *uf, union ualm_args *a, struct ual_err *err)
{
	struct ualm_dump *d = &a->dump;
	struct ual_mapping *out = NULL;
	int ret = check_array(err, "out", d->out, d->max, sizeof(*out), true);

	if (ret)
		return ret;
	if (d->max) {
		out = kvmalloc_array(d->max, sizeof(*out), GFP_KERNEL_ACCOUNT);
		if (!out)
			return ual_err_set(err, UAL_ENOMEM, "out of memory for 0x%llx entries",
					   d->max);
	}
	ret = fab_dump(&uf->owner, d->iova, d->len, out, d->max, &d->count, err);
	if (!ret && d->max &&
	    copy_to_user(uptr(d->out), out, min(d->count, d->max) * sizeof(*out)))
		ret = efault(err, "out", d->out, d->max * sizeof(*out));
	kvfree(out);
	return ret;
}

static int ualm_translate(struct ualm_file *uf, union ualm_args *a, struct ual_err *err)
{
	struct ualm_translate *t = &a->xlate;
	struct ual_faddr fa = { t->fa.addr, t->fa.route, t->fa.rsvd };
	struct ual_xlate x;
	int ret = fab_translate(&uf->owner, t->initiator, &fa, t->access, &x, err);

	if (ret)
		return ret;
	t->target = x.target;
	t->rsvd = 0;
	t->xflags = x.flags;
	t->phys = x.phys;
	t->page_size = x.page_size;
	t->prot = x.prot;
	t->rsvd2 = 0;
	return 0;
}

static int ualm_copy(struct ualm_file *uf, union ualm_args *a, struct ual_err *err)
{
	struct ualm_copy *c = &a->copy;
	struct ual_faddr dst = { c->dst.addr, c->dst.route, c->dst.rsvd };
	struct ual_faddr src = { c->src.addr, c->src.route, c->src.rsvd };
	int ret = rsvd(err, "rsvd", c->rsvd);

	return ret ? ret : fab_copy(&uf->owner, c->initiator, &dst, &src, c->len, err);
}

static int ualm_fault_read(struct ualm_file *uf, union ualm_args *a, struct ual_err *err)
{
	struct ualm_fault_read *f = &a->fread;
	struct ual_fault *out = NULL;
	int ret = check_array(err, "out", f->out, f->max, sizeof(*out), true);

	if (ret)
		return ret;
	if (f->max) {
		out = kvmalloc_array(f->max, sizeof(*out), GFP_KERNEL_ACCOUNT);
		if (!out)
			return ual_err_set(err, UAL_ENOMEM, "out of memory for %u records", f->max);
	}
	/* The array was checked writable above: drained records reach the caller. */
	ret = fab_fault_read(&uf->owner, out, f->max, &f->nread, &f->lost);
	if (!ret && f->nread && copy_to_user(uptr(f->out), out, f->nread * sizeof(*out)))
		ret = efault(err, "out", f->out, f->nread * sizeof(*out));
	kvfree(out);
	return ret;
}

#define CMD(nr, name, type, has_out, func) \
	[_IOC_NR(nr)] = { .op = name, .size = sizeof(type), .out = has_out, .fn = func }

static const struct ualm_cmd cmds[] = {
	CMD(UALM_IOC_ATTACH, "attach", struct ualm_attach, false, ualm_attach),
	CMD(UALM_IOC_QUERY, "query", struct ualm_info, true, ualm_query),
	CMD(UALM_IOC_MEM_ALLOC, "mem_alloc", struct ualm_mem, true, ualm_mem_alloc),
	CMD(UALM_IOC_MEM_FREE, "mem_free", struct ualm_mem, false, ualm_mem_free),
	CMD(UALM_IOC_MEM_RW, "mem_rw", struct ualm_mem_rw, false, ualm_mem_rw),
	CMD(UALM_IOC_MEM_REGISTER, "mem_register", struct ualm_register, false,
	    ualm_mem_register),
	CMD(UALM_IOC_MEM_UNREGISTER, "mem_unregister", struct ualm_register, false,
	    ualm_mem_unregister),
	CMD(UALM_IOC_GRANT, "grant", struct ualm_grant, false, ualm_grant),
	CMD(UALM_IOC_REVOKE, "revoke", struct ualm_grant, false, ualm_revoke),
	CMD(UALM_IOC_MAP_PFNS, "map_pfns", struct ualm_map_pfns, false, ualm_map_pfns),
	CMD(UALM_IOC_IOVA_ALLOC, "iova_alloc", struct ualm_iova, true, ualm_iova_alloc),
	CMD(UALM_IOC_IOVA_FREE, "iova_free", struct ualm_iova, false, ualm_iova_free),
	CMD(UALM_IOC_IOVA_LINK, "iova_link", struct ualm_link, false, ualm_iova_link),
	CMD(UALM_IOC_IOVA_SYNC, "iova_sync", struct ualm_part, false, ualm_iova_sync),
	CMD(UALM_IOC_IOVA_UNLINK, "iova_unlink", struct ualm_part, false, ualm_iova_unlink),
	CMD(UALM_IOC_DUMP, "dump", struct ualm_dump, true, ualm_dump),
	CMD(UALM_IOC_TRANSLATE, "translate", struct ualm_translate, true, ualm_translate),
	CMD(UALM_IOC_COPY, "copy", struct ualm_copy, false, ualm_copy),
	CMD(UALM_IOC_FAULT_READ, "fault_read", struct ualm_fault_read, true, ualm_fault_read),
};

/* Report a failure: the message to hdr.msg (best effort), the errno as the result. */
static long fail(void __user *up, struct ual_err *err, int ret)
{
	char msg[UALM_MSG_LEN];

	if (ret >= 0)
		ret = UAL_EIO;
	strscpy(msg, err->msg[0] ? err->msg : "refused", sizeof(msg));
	if (copy_to_user(up + offsetof(struct ualm_hdr, msg), msg, sizeof(msg)))
		return ret;	/* the errno still says what went wrong */
	return ret;
}

/*
 * ualm_ioctl() - decode and run one command.
 *
 * Commands are matched by type, direction and number, not by the size
 * encoded in @cmd: hdr.argsz is the caller's struct size (a larger one must
 * carry zeros past the module's struct), so structs can grow.
 *
 * Context: process context; takes the file's mutex, then the core's locks;
 * may sleep. Return: 0 or a negative errno (a UAL_E* code).
 */
static long ualm_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct ualm_file *uf = file->private_data;
	void __user *up = (void __user *)arg;
	const struct ualm_cmd *c;
	struct ual_err err = { .op = "ioctl", .msg = "" };
	union ualm_args a;
	u32 argsz;
	long ret;

	if (_IOC_TYPE(cmd) != UALM_IOC_MAGIC || _IOC_DIR(cmd) != (_IOC_READ | _IOC_WRITE) ||
	    _IOC_NR(cmd) >= ARRAY_SIZE(cmds) || !cmds[_IOC_NR(cmd)].fn)
		return -ENOTTY;
	c = &cmds[_IOC_NR(cmd)];
	err.op = c->op;
	if (get_user(argsz, (u32 __user *)up))
		return -EFAULT;
	if (argsz < sizeof(struct ualm_hdr))
		return -EINVAL;	/* too short to carry a message */
	if (argsz < c->size)
		return fail(up, &err, ual_err_set(&err, UAL_EINVAL,
				"argsz %u is smaller than the module's struct (%zu)",
				argsz, c->size));
	if (argsz > ARGSZ_MAX)
		return fail(up, &err, ual_err_set(&err, UAL_EINVAL,
				"argsz %u is larger than %lu", argsz, ARGSZ_MAX));
	if (argsz > c->size) {
		ret = check_zeroed_user(up + c->size, argsz - c->size);
		if (ret < 0)
			return fail(up, &err, efault(&err, "argument", arg, argsz));
		if (!ret)
			return fail(up, &err, ual_err_set(&err, UAL_EINVAL,
					"bytes past the module's struct (%zu of %u) are not zero",
					c->size, argsz));
	}
	if (copy_from_user(&a, up, c->size))
		return fail(up, &err, efault(&err, "argument", arg, c->size));
	if (a.hdr.flags)
		return fail(up, &err, ual_err_set(&err, UAL_EINVAL, "hdr.flags must be 0 (is 0x%x)",
						  a.hdr.flags));
	/* Results go back in the struct: make sure they can before changing anything. */
	if (c->out && copy_to_user(up, &a, c->size))
		return fail(up, &err, efault(&err, "argument", arg, c->size));

	mutex_lock(&uf->lock);
	ret = c->fn(uf, &a, &err);
	mutex_unlock(&uf->lock);
	if (ret)
		return fail(up, &err, ret);
	if (c->out) {
		memset(a.hdr.msg, 0, sizeof(a.hdr.msg));
		if (copy_to_user(up, &a, c->size))
			return -EFAULT;	/* unmapped by another thread meanwhile */
	}
	return 0;
}

static int ualm_open(struct inode *inode, struct file *file)
{
	struct ualm_file *uf = kzalloc(sizeof(*uf), GFP_KERNEL_ACCOUNT);

	if (!uf)
		return -ENOMEM;
	uf->batch = kvmalloc_array(UALM_MAX_BATCH, sizeof(u64), GFP_KERNEL_ACCOUNT);
	if (!uf->batch) {
		kfree(uf);
		return -ENOMEM;
	}
	mutex_init(&uf->lock);
	ual_owner_init(&uf->owner, fabric, 0);
	file->private_data = uf;
	atomic64_inc(&nr_open);
	return nonseekable_open(inode, file);
}

/*
 * Release everything the file created: ranges and their links, memory
 * blocks, grants, and registrations (unpinning their pages). Runs when the
 * last reference to the file goes, so also after the process was killed;
 * no ioctl of the file can be running.
 */
static int ualm_release(struct inode *inode, struct file *file)
{
	struct ualm_file *uf = file->private_data;

	ual_owner_release(&uf->owner);
	mutex_destroy(&uf->lock);
	kvfree(uf->batch);
	kfree(uf);
	atomic64_dec(&nr_open);
	return 0;
}

static const struct file_operations ualm_fops = {
	.owner = THIS_MODULE,
	.open = ualm_open,
	.release = ualm_release,
	.unlocked_ioctl = ualm_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.llseek = no_llseek,
};

static struct miscdevice ualm_misc = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "ualmock",
	.fops = &ualm_fops,
	.mode = 0600,
};

/* ---- debugfs: /sys/kernel/debug/ualmock/state --------------------------- */

/* Totals over every accelerator, read under each one's locks. */
static int ualm_state_show(struct seq_file *s, void *unused)
{
	u64 ranges = 0, mapped = 0, pt_used = 0, pt_free = 0, blocks = 0, backed = 0;
	u64 grants = 0, regs = 0;
	u32 i;

	for (i = 0; i < fabric->cfg.accels; i++) {
		struct ual_accel *acc = &fabric->accel[i];

		ual_mutex_lock(&acc->dom.lock);
		ranges += ra_nr_used(&acc->dom.iova);
		mapped += acc->dom.pt.mapped;
		pt_used += pt_pages_in_use(&acc->dom.pt);
		pt_free += pt_pool_free(&acc->dom.pt);
		ual_mutex_lock(&acc->tgt.lock);
		blocks += ra_nr_used(&acc->tgt.mem.blocks);
		backed += acc->tgt.mem.backed;
		grants += grant_count(&acc->tgt.grants);
		regs += host_nr_regs(&acc->tgt.host);
		ual_mutex_unlock(&acc->tgt.lock);
		ual_mutex_unlock(&acc->dom.lock);
	}
	seq_printf(s, "open_files %lld\n", atomic64_read(&nr_open));
	seq_printf(s, "pinned_pages %lld\n", atomic64_read(&nr_pinned));
	seq_printf(s, "host_regs %llu\n", regs);
	seq_printf(s, "iova_ranges %llu\n", ranges);
	seq_printf(s, "mapped_pages %llu\n", mapped);
	seq_printf(s, "mem_blocks %llu\n", blocks);
	seq_printf(s, "mem_backed_pages %llu\n", backed);
	seq_printf(s, "grants %llu\n", grants);
	seq_printf(s, "pt_pages_used %llu\n", pt_used);
	seq_printf(s, "pt_pool_free %llu\n", pt_free);
	seq_printf(s, "alloc_count %llu\n", ual_fabric_alloc_count(fabric));
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(ualm_state);

/* ---- load / unload --------------------------------------------------------------- */

static int parse_params(struct ual_fabric_cfg *cfg)
{
	char *end;

	cfg->accels = accels;
	cfg->mem = memparse(mem, &end);
	cfg->pt_pool = pt_pool;
	cfg->dma_bits = dma_bits;
	cfg->tlb = tlb;
	cfg->faults = faults;
	if (!strcmp(mode, "physical"))
		cfg->modes = UAL_MODE_PHYSICAL;
	else if (!strcmp(mode, "virtual"))
		cfg->modes = UAL_MODE_VIRTUAL;
	else if (!strcmp(mode, "both"))
		cfg->modes = UAL_MODE_PHYSICAL | UAL_MODE_VIRTUAL;
	else
		return pr_err("mode=%s is not physical, virtual or both\n", mode), -EINVAL;
	if (*end || end == mem || cfg->mem < SZ_4K || cfg->mem > 64ull * SZ_1G ||
	    (cfg->mem & (SZ_4K - 1)))
		return pr_err("mem=%s is not a multiple of 4K in [4K, 64G]\n", mem), -EINVAL;
	if (!accels || accels > UAL_MAX_ACCELS)
		return pr_err("accels=%u outside [1, %u]\n", accels, UAL_MAX_ACCELS), -EINVAL;
	if (!pt_pool || pt_pool > (1u << 24))
		return pr_err("pt_pool=%u outside [1, %u]\n", pt_pool, 1u << 24), -EINVAL;
	if (dma_bits < 21 || dma_bits > UAL_PHYS_BITS)
		return pr_err("dma_bits=%u outside [21, %u]\n", dma_bits, UAL_PHYS_BITS), -EINVAL;
	if (!is_power_of_2(tlb) || tlb > (1u << 20))
		return pr_err("tlb=%u is not a power of two up to %u\n", tlb, 1u << 20), -EINVAL;
	if (!is_power_of_2(faults) || faults > (1u << 20))
		return pr_err("faults=%u is not a power of two up to %u\n", faults, 1u << 20),
		       -EINVAL;
	return 0;
}

static int __init ualm_init(void)
{
	struct ual_err err = { .op = "load", .msg = "" };
	struct ual_fabric_cfg cfg;
	int ret = parse_params(&cfg);

	if (ret)
		return ret;
	ret = ual_fabric_create(&cfg, &ualm_host_ops, &fabric, &err);
	if (ret) {
		pr_err("%s\n", err.msg);
		return ret;
	}
	ret = misc_register(&ualm_misc);
	if (ret) {
		pr_err("cannot register /dev/ualmock: %d\n", ret);
		ual_fabric_destroy(fabric);
		return ret;
	}
	/* Diagnostics only: the module works without debugfs. */
	debug_dir = debugfs_create_dir("ualmock", NULL);
	debugfs_create_file("state", 0444, debug_dir, NULL, &ualm_state_fops);
	pr_info("fabric of %u accelerators, %s memory each, mode %s, dma_bits %u\n",
		cfg.accels, mem, mode, cfg.dma_bits);
	return 0;
}

/* Every file is closed (the module is held while one is open). */
static void __exit ualm_exit(void)
{
	debugfs_remove(debug_dir);
	misc_deregister(&ualm_misc);
	ual_fabric_destroy(fabric);
}

module_init(ualm_init);
module_exit(ualm_exit);

MODULE_DESCRIPTION("ualmock: mock UAL fabric (ualbridge) on /dev/ualmock");
MODULE_LICENSE("GPL");
