// SPDX-License-Identifier: Apache-2.0
/*
 * core_ops.c - backend ops that forward to the in-process fabric core.
 *
 * The fake backend is the core and nothing else; the vfio backend is the
 * core plus a device for what the device does (links, registrations, copy).
 * Both take these for every op where they add nothing, so the forwarding is
 * written once. Nothing here takes a lock: the core does.
 */
#include <string.h>

#include "../core/fabric.h"
#include "backend.h"

int ual_core_query(struct ual_dev *dev, struct ual_info *info, struct ual_err *err)
{
	int ret = fab_query(dev->core, info);

	(void)err;
	strncpy(info->backend, dev->ops->name, sizeof(info->backend) - 1);
	return ret;
}

int ual_core_mem_alloc(struct ual_dev *dev, u64 size, u64 align, u64 *pfn,
		       struct ual_err *err)
{
	return fab_mem_alloc(dev->core, size, align, pfn, err);
}

int ual_core_mem_free(struct ual_dev *dev, u64 pfn, u64 size, struct ual_err *err)
{
	return fab_mem_free(dev->core, pfn, size, err);
}

int ual_core_mem_write(struct ual_dev *dev, u64 phys, const void *buf, u64 len,
		       struct ual_err *err)
{
	return fab_mem_write(dev->core, phys, buf, len, err);
}

int ual_core_mem_read(struct ual_dev *dev, u64 phys, void *buf, u64 len,
		      struct ual_err *err)
{
	return fab_mem_read(dev->core, phys, buf, len, err);
}

int ual_core_mem_unregister(struct ual_dev *dev, void *addr, struct ual_err *err)
{
	return fab_mem_unregister(dev->core, (u64)(uintptr_t)addr, err);
}

int ual_core_grant(struct ual_dev *dev, u32 target, u32 initiator, u64 pfn, u64 npages,
		   u32 prot, struct ual_err *err)
{
	return fab_grant(dev->core, target, initiator, pfn, npages, prot, err);
}

int ual_core_revoke(struct ual_dev *dev, u32 target, u32 initiator, u64 pfn, u64 npages,
		    struct ual_err *err)
{
	return fab_revoke(dev->core, target, initiator, pfn, npages, err);
}

int ual_core_map_pfns(struct ual_dev *dev, u32 target, const u64 *pfns, u64 n, u32 prot,
		      struct ual_faddr *out, struct ual_err *err)
{
	return fab_map_pfns(dev->core, target, pfns, n, prot, out, err);
}

int ual_core_iova_alloc(struct ual_dev *dev, u64 size, u32 flags, u64 *iova,
			struct ual_err *err)
{
	return fab_iova_alloc(dev->core, size, flags, iova, err);
}

int ual_core_iova_link(struct ual_dev *dev, u64 iova, u64 offset, u32 target,
		       const u64 *pfns, u64 n, u32 prot, struct ual_err *err)
{
	return fab_iova_link(dev->core, iova, offset, target, pfns, n, prot, err);
}

int ual_core_iova_sync(struct ual_dev *dev, u64 iova, u64 offset, u64 len,
		       struct ual_err *err)
{
	return fab_iova_sync(dev->core, iova, offset, len, err);
}

int ual_core_iova_unlink(struct ual_dev *dev, u64 iova, u64 offset, u64 len,
			 struct ual_err *err)
{
	return fab_iova_unlink(dev->core, iova, offset, len, err);
}

int ual_core_iova_free(struct ual_dev *dev, u64 iova, struct ual_err *err)
{
	return fab_iova_free(dev->core, iova, err);
}

int ual_core_dump(struct ual_dev *dev, u64 iova, u64 len, struct ual_mapping *out,
		  u64 max, u64 *count, struct ual_err *err)
{
	return fab_dump(dev->core, iova, len, out, max, count, err);
}

int ual_core_translate(struct ual_dev *dev, u32 initiator, const struct ual_faddr *fa,
		       u32 access, struct ual_xlate *out, struct ual_err *err)
{
	return fab_translate(dev->core, initiator, fa, access, out, err);
}

int ual_core_copy(struct ual_dev *dev, u32 initiator, const struct ual_faddr *dst,
		  const struct ual_faddr *src, u64 len, struct ual_err *err)
{
	return fab_copy(dev->core, initiator, dst, src, len, err);
}

int ual_core_fault_read(struct ual_dev *dev, struct ual_fault *out, u32 max, u32 *nread,
			u64 *lost, struct ual_err *err)
{
	(void)err;
	return fab_fault_read(dev->core, out, max, nread, lost);
}

u64 ual_core_alloc_count(struct ual_dev *dev)
{
	return ual_fabric_alloc_count(dev->core->fab);
}
