// SPDX-License-Identifier: Apache-2.0
/*
 * kmod.c - the kmod backend: "kmod:[/dev/ualmock][?local=N&fabric options]".
 *
 * Every handle is one open file of the ualmock kernel module (one owner of
 * the module's fabric); every call is one ioctl of include/uapi/ualmock.h,
 * or several when an array exceeds UALM_MAX_BATCH. The fabric logic lives in
 * the kernel (the same core as the fake backend); this file only marshals.
 * A failed ioctl returns -1 with errno = -UAL_E* and the module's message in
 * hdr.msg, which becomes the thread's ual_last_error().
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "../../include/uapi/ualmock.h"
#include "../../shim/backend.h"

_Static_assert(sizeof(struct ualm_faddr) == sizeof(struct ual_faddr), "faddr layout");
_Static_assert(sizeof(struct ualm_mapping) == sizeof(struct ual_mapping), "mapping layout");
_Static_assert(sizeof(struct ualm_fault) == sizeof(struct ual_fault), "fault layout");

struct kmod_dev {
	struct ual_dev base;
	int fd;
	char path[UAL_NAME_MAX];
};

static struct kmod_dev *to_kmod(struct ual_dev *dev)
{
	return ual_container_of(dev, struct kmod_dev, base);
}

#define HDR(s) ((s).hdr = (struct ualm_hdr){ .argsz = sizeof(s) })

static bool is_ual_errno(int e)
{
	switch (-e) {
	case UAL_EPERM: case UAL_ENOENT: case UAL_EIO: case UAL_EBADF: case UAL_ENOMEM:
	case UAL_EACCES: case UAL_EFAULT: case UAL_EBUSY: case UAL_EEXIST: case UAL_ENODEV:
	case UAL_EINVAL: case UAL_ENOSPC: case UAL_ERANGE: case UAL_EOVERFLOW:
	case UAL_ENOTSUP:
		return true;
	default:
		return false;
	}
}

/*
 * Issue one ioctl. On failure the module's message (already "op: ...")
 * becomes the error; an errno outside the ABI's codes (an old module,
 * ENOTTY) is UAL_EIO naming it.
 */
static int xioctl(struct kmod_dev *d, unsigned long cmd, struct ualm_hdr *hdr,
		  struct ual_err *err)
{
	int e;

	if (ioctl(d->fd, cmd, hdr) == 0)
		return 0;
	e = errno;
	if (!is_ual_errno(e))
		return ual_err_set(err, UAL_EIO, "ioctl 0x%lx on %s failed: %s", cmd, d->path,
				   strerror(e));
	if (hdr->msg[0]) {
		/* The module wrote "op: message"; keep it as is. */
		size_t n = strnlen(hdr->msg, sizeof(hdr->msg));

		memcpy(err->msg, hdr->msg, n);
		err->msg[n] = '\0';
		return -e;
	}
	return ual_err_set(err, -e, "%s", strerror(e));
}

static int do_query(struct kmod_dev *d, struct ualm_info *q, struct ual_err *err)
{
	memset(q, 0, sizeof(*q));
	HDR(*q);
	return xioctl(d, UALM_IOC_QUERY, &q->hdr, err);
}

/* Open @path and attach to @accel: a new handle. */
static int kmod_new(const char *path, u32 accel, struct kmod_dev **out, struct ual_err *err)
{
	struct ualm_attach at;
	struct kmod_dev *d;
	int ret;

	d = calloc(1, sizeof(*d));
	if (!d)
		return ual_err_set(err, UAL_ENOMEM, "out of memory for a handle");
	d->base.magic = UAL_DEV_MAGIC;
	d->base.ops = &ual_kmod_ops;
	snprintf(d->path, sizeof(d->path), "%s", path);
	d->fd = open(path, O_RDWR | O_CLOEXEC);
	if (d->fd < 0) {
		int e = errno;

		free(d);
		return ual_err_set(err, e == EACCES || e == EPERM ? UAL_EPERM : UAL_ENODEV,
				   "cannot open %s: %s%s", path, strerror(e),
				   e == ENOENT ? " (is the ualmock module loaded?)" : "");
	}
	memset(&at, 0, sizeof(at));
	HDR(at);
	at.abi = UALM_ABI_VERSION;
	at.accel = accel;
	ret = xioctl(d, UALM_IOC_ATTACH, &at.hdr, err);
	if (ret) {
		close(d->fd);
		free(d);
		return ret;
	}
	*out = d;
	return 0;
}

/* Fabric options of the URI, compared with what the module was loaded with. */
static int check_options(const struct ual_uri *u, const struct ualm_info *q, struct ual_err *err)
{
	static const enum ual_opt opts[] = {
		UAL_OPT_ACCELS, UAL_OPT_MEM, UAL_OPT_MODE, UAL_OPT_PT_POOL,
		UAL_OPT_DMA_BITS, UAL_OPT_TLB, UAL_OPT_FAULTS,
	};
	size_t i;

	for (i = 0; i < UAL_ARRAY_SIZE(opts); i++) {
		enum ual_opt o = opts[i];
		u64 have;

		if (!(u->set & (1u << o)))
			continue;
		switch (o) {
		case UAL_OPT_ACCELS:	have = q->num_accels; break;
		case UAL_OPT_MEM:	have = q->mem_size; break;
		case UAL_OPT_MODE:	have = q->modes; break;
		case UAL_OPT_PT_POOL:	have = q->pt_pool_pages; break;
		case UAL_OPT_DMA_BITS:	have = q->dma_bits; break;
		case UAL_OPT_TLB:	have = q->tlb_entries; break;
		default:		have = q->fault_entries; break;
		}
		if (have != u->val[o])
			return ual_err_set(err, UAL_EEXIST,
					   "the module's fabric has %s=%llu (asked %llu): reload ualmock with other parameters",
					   ual_opt_names[o], (unsigned long long)have,
					   (unsigned long long)u->val[o]);
	}
	return 0;
}

static int kmod_open(const struct ual_uri *u, struct ual_dev **out, struct ual_err *err)
{
	struct ualm_info q;
	struct kmod_dev *d;
	int ret;

	if (u->val[UAL_OPT_LOCAL] >= UAL_MAX_ACCELS)
		return ual_err_set(err, UAL_ENODEV, "no accelerator %llu",
				   (unsigned long long)u->val[UAL_OPT_LOCAL]);
	ret = kmod_new(u->name, (u32)u->val[UAL_OPT_LOCAL], &d, err);
	if (ret)
		return ret;
	ret = do_query(d, &q, err);
	if (!ret)
		ret = check_options(u, &q, err);
	if (ret) {
		close(d->fd);
		free(d);
		return ret;
	}
	*out = &d->base;
	return 0;
}

static int kmod_open_peer(struct ual_dev *dev, u32 accel, struct ual_dev **out,
			  struct ual_err *err)
{
	struct kmod_dev *d;
	int ret = kmod_new(to_kmod(dev)->path, accel, &d, err);

	if (!ret)
		*out = &d->base;
	return ret;
}

/* Closing the file makes the module release everything the handle created. */
static void kmod_close(struct ual_dev *dev)
{
	struct kmod_dev *d = to_kmod(dev);

	close(d->fd);
	free(d);
}

static int kmod_query(struct ual_dev *dev, struct ual_info *info, struct ual_err *err)
{
	struct ualm_info q;
	int ret = do_query(to_kmod(dev), &q, err);

	if (ret)
		return ret;
	memset(info, 0, sizeof(*info));
	info->abi_version = UAL_ABI_VERSION;	/* the library's, as every backend */
	info->accel_id = q.accel_id;
	info->num_accels = q.num_accels;
	info->modes = q.modes;
	info->phys_bits = q.phys_bits;
	info->dma_bits = q.dma_bits;
	info->pt_levels = q.pt_levels;
	info->pgsize_bitmap = q.pgsize_bitmap;
	info->mem_size = q.mem_size;
	info->mem_free = q.mem_free;
	info->pt_pool_pages = q.pt_pool_pages;
	info->pt_pool_free = q.pt_pool_free;
	info->tlb_entries = q.tlb_entries;
	info->iova_ranges = q.iova_ranges;
	info->mapped_pages = q.mapped_pages;
	info->grants = q.grants;
	info->tlb_hits = q.tlb_hits;
	info->tlb_misses = q.tlb_misses;
	info->req_min = q.req_min;
	info->req_max = q.req_max;
	memcpy(info->backend, q.backend, sizeof(info->backend));
	info->backend[sizeof(info->backend) - 1] = '\0';
	return 0;
}

static int kmod_mem_alloc(struct ual_dev *dev, u64 size, u64 align, u64 *pfn,
			  struct ual_err *err)
{
	struct ualm_mem m = { .size = size, .align = align };
	int ret;

	HDR(m);
	ret = xioctl(to_kmod(dev), UALM_IOC_MEM_ALLOC, &m.hdr, err);
	if (!ret)
		*pfn = m.pfn;
	return ret;
}

static int kmod_mem_free(struct ual_dev *dev, u64 pfn, u64 size, struct ual_err *err)
{
	struct ualm_mem m = { .size = size, .pfn = pfn };

	HDR(m);
	return xioctl(to_kmod(dev), UALM_IOC_MEM_FREE, &m.hdr, err);
}

static int mem_rw(struct ual_dev *dev, u64 phys, const void *buf, u64 len, u32 op,
		  struct ual_err *err)
{
	struct ualm_mem_rw rw = { .phys = phys, .buf = (u64)(uintptr_t)buf, .len = len, .op = op };

	HDR(rw);
	return xioctl(to_kmod(dev), UALM_IOC_MEM_RW, &rw.hdr, err);
}

static int kmod_mem_write(struct ual_dev *dev, u64 phys, const void *buf, u64 len,
			  struct ual_err *err)
{
	return mem_rw(dev, phys, buf, len, UALM_RW_WRITE, err);
}

static int kmod_mem_read(struct ual_dev *dev, u64 phys, void *buf, u64 len,
			 struct ual_err *err)
{
	return mem_rw(dev, phys, buf, len, 0, err);
}

static int kmod_mem_register(struct ual_dev *dev, void *addr, u64 len, u64 *pfns,
			     struct ual_err *err)
{
	struct ualm_register r = { .addr = (u64)(uintptr_t)addr, .len = len,
				   .pfns = (u64)(uintptr_t)pfns };

	HDR(r);
	return xioctl(to_kmod(dev), UALM_IOC_MEM_REGISTER, &r.hdr, err);
}

static int kmod_mem_unregister(struct ual_dev *dev, void *addr, struct ual_err *err)
{
	struct ualm_register r = { .addr = (u64)(uintptr_t)addr };

	HDR(r);
	return xioctl(to_kmod(dev), UALM_IOC_MEM_UNREGISTER, &r.hdr, err);
}

static int kmod_grant(struct ual_dev *dev, u32 target, u32 initiator, u64 pfn, u64 npages,
		      u32 prot, struct ual_err *err)
{
	struct ualm_grant g = { .target = target, .initiator = initiator, .pfn = pfn,
				.npages = npages, .prot = prot };

	HDR(g);
	return xioctl(to_kmod(dev), UALM_IOC_GRANT, &g.hdr, err);
}

static int kmod_revoke(struct ual_dev *dev, u32 target, u32 initiator, u64 pfn,
		       u64 npages, struct ual_err *err)
{
	struct ualm_grant g = { .target = target, .initiator = initiator, .pfn = pfn,
				.npages = npages };

	HDR(g);
	return xioctl(to_kmod(dev), UALM_IOC_REVOKE, &g.hdr, err);
}

static int map_chunk(struct ual_dev *dev, u32 target, const u64 *pfns, u64 n, u32 prot,
		     struct ual_faddr *out, struct ual_err *err)
{
	struct ualm_map_pfns m = { .target = target, .prot = prot, .n = n,
				   .pfns = (u64)(uintptr_t)pfns, .addrs = (u64)(uintptr_t)out };

	HDR(m);
	return xioctl(to_kmod(dev), UALM_IOC_MAP_PFNS, &m.hdr, err);
}

/* Larger batches go through a bounce array: @out stays untouched on error. */
static int kmod_map_pfns(struct ual_dev *dev, u32 target, const u64 *pfns, u64 n, u32 prot,
			 struct ual_faddr *out, struct ual_err *err)
{
	struct ual_faddr *tmp;
	u64 done, k;
	int ret = 0;

	if (n <= UALM_MAX_BATCH)
		return map_chunk(dev, target, pfns, n, prot, out, err);
	tmp = malloc(n * sizeof(*tmp));
	if (!tmp)
		return ual_err_set(err, UAL_ENOMEM, "out of memory for %llu addresses",
				   (unsigned long long)n);
	for (done = 0; !ret && done < n; done += k) {
		k = UAL_MIN(n - done, (u64)UALM_MAX_BATCH);
		ret = map_chunk(dev, target, pfns + done, k, prot, tmp + done, err);
	}
	if (!ret)
		memcpy(out, tmp, n * sizeof(*tmp));
	free(tmp);
	return ret;
}

static int kmod_iova_alloc(struct ual_dev *dev, u64 size, u32 flags, u64 *iova,
			   struct ual_err *err)
{
	struct ualm_iova v = { .size = size, .flags = flags };
	int ret;

	HDR(v);
	ret = xioctl(to_kmod(dev), UALM_IOC_IOVA_ALLOC, &v.hdr, err);
	if (!ret)
		*iova = v.iova;
	return ret;
}

static int part(struct ual_dev *dev, unsigned long cmd, u64 iova, u64 offset, u64 len,
		struct ual_err *err)
{
	struct ualm_part p = { .iova = iova, .offset = offset, .len = len };

	HDR(p);
	return xioctl(to_kmod(dev), cmd, &p.hdr, err);
}

/*
 * Batches over UALM_MAX_BATCH are linked in chunks that end on a 2 MiB
 * boundary of the IOVA (so the leaves chosen are the same as in one call);
 * a failing chunk unlinks the earlier ones, so the call stays all or
 * nothing. Pages linked by this call were not present before, and every
 * large leaf lies inside one chunk, so the unlinks cannot fail.
 */
static int kmod_iova_link(struct ual_dev *dev, u64 iova, u64 offset, u32 target,
			  const u64 *pfns, u64 n, u32 prot, struct ual_err *err)
{
	const u64 leaf = UAL_PAGE_SIZE_2M >> UAL_PAGE_SHIFT;
	struct ualm_link l = { .iova = iova, .target = target, .prot = prot };
	u64 done = 0, k;
	int ret;

	do {
		k = UAL_MIN(n - done, (u64)UALM_MAX_BATCH);
		if (n - done > UALM_MAX_BATCH)	/* not the last chunk: end 2 MiB aligned */
			k -= ((iova + offset) / UAL_PAGE_SIZE + done + k) % leaf;
		HDR(l);
		l.offset = offset + (done << UAL_PAGE_SHIFT);
		l.n = k;
		l.pfns = (u64)(uintptr_t)(pfns + done);
		ret = xioctl(to_kmod(dev), UALM_IOC_IOVA_LINK, &l.hdr, err);
		if (ret) {
			struct ual_err ignore = { .op = "iova_link" };

			if (done)
				part(dev, UALM_IOC_IOVA_UNLINK, iova, offset,
				     done << UAL_PAGE_SHIFT, &ignore);
			return ret;
		}
		done += k;
	} while (done < n);
	return 0;
}

static int kmod_iova_sync(struct ual_dev *dev, u64 iova, u64 offset, u64 len,
			  struct ual_err *err)
{
	return part(dev, UALM_IOC_IOVA_SYNC, iova, offset, len, err);
}

static int kmod_iova_unlink(struct ual_dev *dev, u64 iova, u64 offset, u64 len,
			    struct ual_err *err)
{
	return part(dev, UALM_IOC_IOVA_UNLINK, iova, offset, len, err);
}

static int kmod_iova_free(struct ual_dev *dev, u64 iova, struct ual_err *err)
{
	struct ualm_iova v = { .iova = iova };

	HDR(v);
	return xioctl(to_kmod(dev), UALM_IOC_IOVA_FREE, &v.hdr, err);
}

/*
 * More than UALM_MAX_BATCH entries: read the window in chunks, each
 * starting after the last entry of the previous one (entries come in IOVA
 * order). The count is the first call's.
 */
static int kmod_dump(struct ual_dev *dev, u64 iova, u64 len, struct ual_mapping *out,
		     u64 max, u64 *count, struct ual_err *err)
{
	struct ualm_dump d = { .iova = iova, .len = len };
	u64 got = 0, end = iova + len, k;
	int ret;

	do {
		HDR(d);
		k = UAL_MIN(max - got, (u64)UALM_MAX_BATCH);
		d.max = k;
		d.out = (u64)(uintptr_t)(out + got);
		ret = xioctl(to_kmod(dev), UALM_IOC_DUMP, &d.hdr, err);
		if (ret)
			return ret;
		if (!got)
			*count = d.count;
		k = UAL_MIN(k, d.count);
		got += k;
		if (!k || got >= max || got >= *count)
			break;
		/* Next window: after the last entry read. */
		d.iova = out[got - 1].iova + out[got - 1].size;
		d.len = len ? end - d.iova : 0;
		if (len && d.iova >= end)
			break;
	} while (1);
	return 0;
}

static int kmod_translate(struct ual_dev *dev, u32 initiator, const struct ual_faddr *fa,
			  u32 access, struct ual_xlate *out, struct ual_err *err)
{
	struct ualm_translate t = { .initiator = initiator, .access = access,
				    .fa = { fa->addr, fa->route, fa->rsvd } };
	int ret;

	HDR(t);
	ret = xioctl(to_kmod(dev), UALM_IOC_TRANSLATE, &t.hdr, err);
	if (ret)
		return ret;
	memset(out, 0, sizeof(*out));
	out->target = t.target;
	out->flags = t.xflags;
	out->phys = t.phys;
	out->page_size = t.page_size;
	out->prot = t.prot;
	return 0;
}

static int kmod_copy(struct ual_dev *dev, u32 initiator, const struct ual_faddr *dst,
		     const struct ual_faddr *src, u64 len, struct ual_err *err)
{
	struct ualm_copy c = { .initiator = initiator, .len = len,
			       .dst = { dst->addr, dst->route, dst->rsvd },
			       .src = { src->addr, src->route, src->rsvd } };

	HDR(c);
	return xioctl(to_kmod(dev), UALM_IOC_COPY, &c.hdr, err);
}

/* Drain in chunks of UALM_MAX_BATCH; lost faults add up over the chunks. */
static int kmod_fault_read(struct ual_dev *dev, struct ual_fault *out, u32 max,
			   u32 *nread, u64 *lost, struct ual_err *err)
{
	struct ualm_fault_read f;
	u64 lost_sum = 0;
	u32 got = 0, k;
	int ret;

	do {
		memset(&f, 0, sizeof(f));
		HDR(f);
		k = UAL_MIN(max - got, (u32)UALM_MAX_BATCH);
		f.max = k;
		f.out = (u64)(uintptr_t)(out + got);
		ret = xioctl(to_kmod(dev), UALM_IOC_FAULT_READ, &f.hdr, err);
		if (ret) {
			if (!got)
				return ret;
			break;	/* the records already drained are the caller's */
		}
		got += f.nread;
		lost_sum += f.lost;
	} while (f.nread == k && k && got < max);
	*nread = got;
	if (lost)
		*lost = lost_sum;
	return 0;
}

static u64 kmod_alloc_count(struct ual_dev *dev)
{
	struct ual_err err = { .op = "alloc_count" };
	struct ualm_info q;

	return do_query(to_kmod(dev), &q, &err) ? 0 : q.alloc_count;
}

const struct ual_backend_ops ual_kmod_ops = {
	.name = "kmod",
	.open = kmod_open,
	.open_peer = kmod_open_peer,
	.close = kmod_close,
	.query = kmod_query,
	.mem_alloc = kmod_mem_alloc,
	.mem_free = kmod_mem_free,
	.mem_write = kmod_mem_write,
	.mem_read = kmod_mem_read,
	.mem_register = kmod_mem_register,
	.mem_unregister = kmod_mem_unregister,
	.grant = kmod_grant,
	.revoke = kmod_revoke,
	.map_pfns = kmod_map_pfns,
	.iova_alloc = kmod_iova_alloc,
	.iova_link = kmod_iova_link,
	.iova_sync = kmod_iova_sync,
	.iova_unlink = kmod_iova_unlink,
	.iova_free = kmod_iova_free,
	.dump = kmod_dump,
	.translate = kmod_translate,
	.copy = kmod_copy,
	.fault_read = kmod_fault_read,
	.alloc_count = kmod_alloc_count,
};
