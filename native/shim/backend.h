/* SPDX-License-Identifier: Apache-2.0 */
/*
 * backend.h - what a backend (fake, later kmod and vfio) provides to the
 * public entry points in ual.c, and the parsed form of an open URI.
 *
 * ual.c checks what every backend would (handle, NULL pointers), names
 * the call in the error context, and copies a failure's message to the
 * thread's last error. Backends do the rest.
 */
#ifndef UAL_BACKEND_H
#define UAL_BACKEND_H

#include "../core/compat.h"

/* ---- URI ------------------------------------------------------------------ */
#define UAL_NAME_MAX 256

enum ual_opt {
	UAL_OPT_ACCELS,
	UAL_OPT_MEM,
	UAL_OPT_MODE,
	UAL_OPT_PT_POOL,
	UAL_OPT_DMA_BITS,
	UAL_OPT_TLB,
	UAL_OPT_FAULTS,
	UAL_OPT_LOCAL,
	UAL_OPT_COUNT
};

/* kmod: without a path. */
#define UAL_KMOD_DEFAULT_PATH "/dev/ualmock"

/*
 * struct ual_uri - "scheme:[name][?k=v&...]" parsed, defaults filled in.
 * @name: the fabric name (fake), or the device path (kmod: absolute, may
 *        contain '/', UAL_KMOD_DEFAULT_PATH when empty), or the PCI address
 *        (vfio: may contain ':').
 * @set: bit n set when option n (enum ual_opt) was given.
 */
struct ual_uri {
	char scheme[16];
	char name[UAL_NAME_MAX];
	u32 set;
	u64 val[UAL_OPT_COUNT];
};

extern const char *const ual_opt_names[UAL_OPT_COUNT];

/* Return: 0; UAL_EINVAL with a message naming the problem. */
int ual_uri_parse(const char *s, struct ual_uri *uri, struct ual_err *err);

/* ---- backends ------------------------------------------------------------- */
#define UAL_DEV_MAGIC 0x75616c64u	/* "uald" */

struct ual_backend_ops;

struct ual_owner;

/*
 * Every backend's handle starts with this. @core is the handle's owner in an
 * in-process fabric core (fake, vfio), for the ual_core_* forwarders below;
 * NULL for backends whose fabric lives elsewhere (kmod).
 */
struct ual_dev {
	u32 magic;
	const struct ual_backend_ops *ops;
	struct ual_owner *core;
	/* Run before every call on the handle (shared pods: poisoned? reap
	 * dead domains); NULL for none. */
	int (*gate)(struct ual_dev *dev, struct ual_err *err);
};

struct ual_backend_ops {
	const char *name;
	int (*open)(const struct ual_uri *uri, struct ual_dev **out, struct ual_err *err);
	int (*open_peer)(struct ual_dev *dev, u32 accel, struct ual_dev **out,
			 struct ual_err *err);
	void (*close)(struct ual_dev *dev);
	int (*query)(struct ual_dev *dev, struct ual_info *info, struct ual_err *err);
	int (*mem_alloc)(struct ual_dev *dev, u64 size, u64 align, u64 *pfn,
			 struct ual_err *err);
	int (*mem_free)(struct ual_dev *dev, u64 pfn, u64 size, struct ual_err *err);
	int (*mem_write)(struct ual_dev *dev, u64 phys, const void *buf, u64 len,
			 struct ual_err *err);
	int (*mem_read)(struct ual_dev *dev, u64 phys, void *buf, u64 len,
			struct ual_err *err);
	int (*mem_register)(struct ual_dev *dev, void *addr, u64 len, u64 *pfns,
			    struct ual_err *err);
	int (*mem_unregister)(struct ual_dev *dev, void *addr, struct ual_err *err);
	int (*grant)(struct ual_dev *dev, u32 target, u32 initiator, u64 pfn, u64 npages,
		     u32 prot, struct ual_err *err);
	int (*revoke)(struct ual_dev *dev, u32 target, u32 initiator, u64 pfn, u64 npages,
		      struct ual_err *err);
	int (*map_pfns)(struct ual_dev *dev, u32 target, const u64 *pfns, u64 n, u32 prot,
			struct ual_faddr *out, struct ual_err *err);
	int (*iova_alloc)(struct ual_dev *dev, u64 size, u32 flags, u64 *iova,
			  struct ual_err *err);
	int (*iova_link)(struct ual_dev *dev, u64 iova, u64 offset, u32 target,
			 const u64 *pfns, u64 n, u32 prot, struct ual_err *err);
	int (*iova_sync)(struct ual_dev *dev, u64 iova, u64 offset, u64 len,
			 struct ual_err *err);
	int (*iova_unlink)(struct ual_dev *dev, u64 iova, u64 offset, u64 len,
			   struct ual_err *err);
	int (*iova_free)(struct ual_dev *dev, u64 iova, struct ual_err *err);
	int (*dump)(struct ual_dev *dev, u64 iova, u64 len, struct ual_mapping *out,
		    u64 max, u64 *count, struct ual_err *err);
	int (*translate)(struct ual_dev *dev, u32 initiator, const struct ual_faddr *fa,
			 u32 access, struct ual_xlate *out, struct ual_err *err);
	int (*copy)(struct ual_dev *dev, u32 initiator, const struct ual_faddr *dst,
		    const struct ual_faddr *src, u64 len, struct ual_err *err);
	int (*fault_read)(struct ual_dev *dev, struct ual_fault *out, u32 max, u32 *nread,
			  u64 *lost, struct ual_err *err);
	u64 (*alloc_count)(struct ual_dev *dev);
};

/*
 * Ops of a backend that runs the fabric core in process: each forwards to
 * the core's fab_* call on dev->core. A backend puts these in its ops table
 * wherever it adds nothing to the core (shim/core_ops.c).
 */
int ual_core_query(struct ual_dev *dev, struct ual_info *info, struct ual_err *err);
int ual_core_mem_alloc(struct ual_dev *dev, u64 size, u64 align, u64 *pfn,
		       struct ual_err *err);
int ual_core_mem_free(struct ual_dev *dev, u64 pfn, u64 size, struct ual_err *err);
int ual_core_mem_write(struct ual_dev *dev, u64 phys, const void *buf, u64 len,
		       struct ual_err *err);
int ual_core_mem_read(struct ual_dev *dev, u64 phys, void *buf, u64 len,
		      struct ual_err *err);
int ual_core_mem_unregister(struct ual_dev *dev, void *addr, struct ual_err *err);
int ual_core_grant(struct ual_dev *dev, u32 target, u32 initiator, u64 pfn, u64 npages,
		   u32 prot, struct ual_err *err);
int ual_core_revoke(struct ual_dev *dev, u32 target, u32 initiator, u64 pfn, u64 npages,
		    struct ual_err *err);
int ual_core_map_pfns(struct ual_dev *dev, u32 target, const u64 *pfns, u64 n, u32 prot,
		      struct ual_faddr *out, struct ual_err *err);
int ual_core_iova_alloc(struct ual_dev *dev, u64 size, u32 flags, u64 *iova,
			struct ual_err *err);
int ual_core_iova_link(struct ual_dev *dev, u64 iova, u64 offset, u32 target,
		       const u64 *pfns, u64 n, u32 prot, struct ual_err *err);
int ual_core_iova_sync(struct ual_dev *dev, u64 iova, u64 offset, u64 len,
		       struct ual_err *err);
int ual_core_iova_unlink(struct ual_dev *dev, u64 iova, u64 offset, u64 len,
			 struct ual_err *err);
int ual_core_iova_free(struct ual_dev *dev, u64 iova, struct ual_err *err);
int ual_core_dump(struct ual_dev *dev, u64 iova, u64 len, struct ual_mapping *out,
		  u64 max, u64 *count, struct ual_err *err);
int ual_core_translate(struct ual_dev *dev, u32 initiator, const struct ual_faddr *fa,
		       u32 access, struct ual_xlate *out, struct ual_err *err);
int ual_core_copy(struct ual_dev *dev, u32 initiator, const struct ual_faddr *dst,
		  const struct ual_faddr *src, u64 len, struct ual_err *err);
int ual_core_fault_read(struct ual_dev *dev, struct ual_fault *out, u32 max, u32 *nread,
			u64 *lost, struct ual_err *err);
u64 ual_core_alloc_count(struct ual_dev *dev);

extern const struct ual_backend_ops ual_fake_ops;
extern const struct ual_backend_ops ual_kmod_ops;
extern const struct ual_backend_ops ual_vfio_ops;

/* Shared pods of the fake backend (backends/fake/pod.c). */
int ual_fake_pod_create(const struct ual_uri *u, u32 flags, struct ual_err *err);
int ual_fake_pod_status(const char *path, struct ual_pod_info *info,
			struct ual_pod_domain *domains, u32 max_domains,
			struct ual_pod_accel *accels, u32 max_accels,
			struct ual_pod_grant *grants, u32 max_grants, struct ual_err *err);

#endif /* UAL_BACKEND_H */
