/* SPDX-License-Identifier: GPL-2.0-only OR Apache-2.0 */
/*
 * fabric.h - the fabric model: accelerators with their fabric domain
 * (IOVA allocator, page tables, TLB), target side (device memory, host
 * aperture, grant table) and fault ring, and every operation of the ABI.
 *
 * Operations act for an owner (struct ual_owner, embedded in a handle), so
 * that releasing the owner frees everything it created. Each explains a
 * failure in a struct ual_err, which the userspace shim copies to the
 * thread's last error (a kernel module would copy it to user space).
 *
 * Locks, outermost first (ual.h): domain -> target(s, ascending id) ->
 * fault. The fabric registry lock lives in the backend.
 */
#ifndef UAL_FABRIC_H
#define UAL_FABRIC_H

#include "compat.h"
#include "devmem.h"
#include "fault.h"
#include "grant.h"
#include "host.h"
#include "pgtable.h"
#include "range_alloc.h"
#include "tlb.h"

struct ual_fabric_cfg {
	u32 accels;
	u64 mem;	/* bytes per accelerator */
	u32 modes;	/* UAL_MODE_* */
	u32 pt_pool;	/* table pages per domain */
	u32 dma_bits;
	u32 tlb;	/* entries per domain */
	u32 faults;	/* ring entries per accelerator */
};

/*
 * struct ual_host_ops - how the backend reaches registered host pages.
 * @access:  copy @len bytes at @off of page @page_index of @reg to or from
 *           @buf. Never crosses the page.
 * @release: the registration goes away: unpin what @reg->cookie holds.
 */
struct ual_host_ops {
	void (*access)(void *ctx, const struct host_reg *reg, u64 page_index, u32 off,
		       void *buf, u32 len, bool write);
	void (*release)(void *ctx, struct host_reg *reg);
	void *ctx;
};

struct ual_domain {
	ual_mutex_t lock;
	struct range_alloc iova;	/* units: 4 KiB pages */
	struct pgtable pt;
	struct tlb tlb;
};

/* @down: why the accelerator refuses every request (its OS domain died in a
 * shared pod), "" when up. Set by the backend under the target lock. */
#define UAL_DOWN_MSG_MAX 112
struct ual_target {
	ual_mutex_t lock;
	struct devmem mem;
	struct host_aperture host;
	struct grant_table grants;
	char down[UAL_DOWN_MSG_MAX];
};

/* @domain: the OS domain owning the accelerator in a shared pod (0 in one
 * process): only handles of that domain issue its requests. */
struct ual_accel {
	u32 id;
	u64 domain;
	struct ual_domain dom;
	struct ual_target tgt;
	ual_mutex_t fault_lock;
	struct fault_ring faults;
};

struct ual_fabric {
	struct ual_fabric_cfg cfg;
	struct ual_accel *accel;
	struct ual_host_ops host_ops;
	ual_atomic64_t allocs;	/* ual_alloc_count() */
};

/*
 * struct ual_owner - what one handle created, per accelerator.
 * @ranges: IOVA ranges (domain lock of @accel).
 * @blocks, @host: device memory blocks and host registrations (target lock).
 * Grants are tagged with the owner pointer in the grant table.
 *
 * Host pages are the owner's own: map_pfns, iova_link and grant accept a
 * host PFN only if this owner registered it ("a caller may map only pages
 * it pinned itself"), local requests reach it only through this owner, and
 * it cannot be unregistered while linked or granted; device memory is
 * shared by every owner of the fabric.
 *
 * @domain:   the OS domain (process) of a shared pod the owner acts for, 0
 *            in one process; requests reach host pages of its domain only.
 * @host_ops: how this owner's process reaches host pages (a shared pod's
 *            fabric holds no function pointers: each process has its own).
 */
struct ual_owner {
	struct ual_fabric *fab;
	u32 accel;
	u64 domain;
	const struct ual_host_ops *host_ops;
	struct ual_list ranges;
	struct ual_list blocks;
	struct host_space host;
};

/* An IOVA range of a domain. */
struct iova_range {
	struct ual_list link;
	u64 iova, size;
	u64 linked;		/* 4 KiB pages */
	u64 host_linked;	/* of those, host pages (counted in their host_reg) */
	u32 flags;
	const struct ual_owner *owner;
	struct pt_range pt;
};

int ual_fabric_create(const struct ual_fabric_cfg *cfg, const struct ual_host_ops *ops,
		      struct ual_fabric **out, struct ual_err *err);
void ual_fabric_destroy(struct ual_fabric *fab);
/*
 * ual_fabric_init() - build a fabric in storage the caller provides (a shared
 * pod's file); allocations are charged to, and placed by, &fab->allocs.
 * Return: 0; UAL_EINVAL for a bad configuration, UAL_ENOMEM.
 */
int ual_fabric_init(struct ual_fabric *fab, const struct ual_fabric_cfg *cfg,
		    const struct ual_host_ops *ops, struct ual_err *err);

void ual_owner_init(struct ual_owner *o, struct ual_fabric *fab, u32 accel);
/* Free everything @o created (ual_close()). */
void ual_owner_release(struct ual_owner *o);

static inline u64 ual_fabric_alloc_count(const struct ual_fabric *fab)
{
	return ual_atomic64_read(&fab->allocs);
}

int fab_query(struct ual_owner *o, struct ual_info *info);

int fab_mem_alloc(struct ual_owner *o, u64 size, u64 align, u64 *pfn, struct ual_err *err);
int fab_mem_free(struct ual_owner *o, u64 pfn, u64 size, struct ual_err *err);
int fab_mem_write(struct ual_owner *o, u64 phys, const void *buf, u64 len, struct ual_err *err);
int fab_mem_read(struct ual_owner *o, u64 phys, void *buf, u64 len, struct ual_err *err);
/*
 * fab_mem_prepare() - check [phys, phys + len) of local device memory and,
 * for a write, back all of it, so that a caller copying in pieces (the
 * kernel module, from user memory) cannot fail halfway on these grounds.
 * Return: 0; UAL_EOVERFLOW, UAL_ERANGE, UAL_ENOMEM as fab_mem_write().
 */
int fab_mem_prepare(struct ual_owner *o, u64 phys, u64 len, bool write, struct ual_err *err);
/* @frames: the backend's frames (one per page) or NULL for fresh ones. */
int fab_mem_register(struct ual_owner *o, u64 uaddr, u64 len, const u64 *frames,
		     void *cookie, u64 *pfns, struct ual_err *err);
int fab_mem_unregister(struct ual_owner *o, u64 uaddr, struct ual_err *err);

int fab_grant(struct ual_owner *o, u32 target, u32 initiator, u64 pfn, u64 npages,
	      u32 prot, struct ual_err *err);
int fab_revoke(struct ual_owner *o, u32 target, u32 initiator, u64 pfn, u64 npages,
	       struct ual_err *err);

int fab_map_pfns(struct ual_owner *o, u32 target, const u64 *pfns, u64 n, u32 prot,
		 struct ual_faddr *out, struct ual_err *err);

int fab_iova_alloc(struct ual_owner *o, u64 size, u32 flags, u64 *iova, struct ual_err *err);
int fab_iova_link(struct ual_owner *o, u64 iova, u64 offset, u32 target, const u64 *pfns,
		  u64 n, u32 prot, struct ual_err *err);
int fab_iova_sync(struct ual_owner *o, u64 iova, u64 offset, u64 len, struct ual_err *err);
int fab_iova_unlink(struct ual_owner *o, u64 iova, u64 offset, u64 len, struct ual_err *err);
int fab_iova_free(struct ual_owner *o, u64 iova, struct ual_err *err);
int fab_dump(struct ual_owner *o, u64 iova, u64 len, struct ual_mapping *out, u64 max,
	     u64 *count, struct ual_err *err);

/*
 * fab_copy_args() - the ABI's input checks of ual_copy() (length, route words,
 * alignment, wrap, initiator), which record no fault. fab_copy() runs them;
 * a backend that moves the bytes itself (vfio) runs them before anything else.
 * Context: takes no lock. Return: 0 or UAL_EINVAL, UAL_EOVERFLOW, UAL_ENODEV.
 */
int fab_copy_args(const struct ual_fabric *fab, u32 initiator, const struct ual_faddr *dst,
		  const struct ual_faddr *src, u64 len, struct ual_err *err);

/*
 * fab_translate(), fab_copy() - requests of any @initiator of @o's fabric,
 * issued through handle @o: a local request (initiator == target) reaches a
 * host page only if @o registered it (UAL_EACCES, fault UAL_FAULT_NO_GRANT
 * otherwise).
 */
int fab_translate(struct ual_owner *o, u32 initiator, const struct ual_faddr *fa,
		  u32 access, struct ual_xlate *out, struct ual_err *err);
int fab_copy(struct ual_owner *o, u32 initiator, const struct ual_faddr *dst,
	     const struct ual_faddr *src, u64 len, struct ual_err *err);
int fab_fault_read(struct ual_owner *o, struct ual_fault *out, u32 max, u32 *nread,
		   u64 *lost);

#endif /* UAL_FABRIC_H */
