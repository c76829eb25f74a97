// SPDX-License-Identifier: Apache-2.0
/*
 * fake.c - the in-process fake backend: a core fabric living in this
 * process. Named fabrics ("fake:NAME?...") are shared through a refcounted
 * registry; unnamed ones belong to their first handle and its peers.
 * "fake:/PATH" is a shared pod, spanning processes (pod.c).
 */
#include <pthread.h>
#include <string.h>

#include "../../core/fabric.h"
#include "../../shim/backend.h"
#include "fake.h"

struct fake_fabric {
	struct ual_list link;		/* registry, if named */
	char name[UAL_NAME_MAX];
	struct ual_uri opts;		/* as created: for comparing attaches */
	u32 refs;			/* registry lock */
	struct ual_fabric *fab;
};

struct fake_dev {
	struct ual_dev base;
	struct fake_fabric *ff;
	struct ual_owner owner;
};

/* Registry lock: outermost in ual.h's order. */
static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static struct ual_list registry = { &registry, &registry };

static struct fake_dev *to_fake(struct ual_dev *dev)
{
	return ual_container_of(dev, struct fake_dev, base);
}

/* The fake pins nothing: the registered pointer is the memory. */
static void fake_host_access(void *ctx, const struct host_reg *reg, u64 page_index,
			     u32 off, void *buf, u32 len, bool write)
{
	u8 *p = (u8 *)(uintptr_t)reg->uaddr + (page_index << UAL_PAGE_SHIFT) + off;

	(void)ctx;
	if (write)
		memcpy(p, buf, len);
	else
		memcpy(buf, p, len);
}

const struct ual_host_ops ual_fake_host_ops = {
	.access = fake_host_access,
	.release = NULL,
};

static const enum ual_opt fabric_opts[] = {
	UAL_OPT_ACCELS, UAL_OPT_MEM, UAL_OPT_MODE, UAL_OPT_PT_POOL,
	UAL_OPT_DMA_BITS, UAL_OPT_TLB, UAL_OPT_FAULTS,
};

void ual_fake_cfg(const struct ual_uri *u, struct ual_fabric_cfg *c)
{
	c->accels = (u32)u->val[UAL_OPT_ACCELS];
	c->mem = u->val[UAL_OPT_MEM];
	c->modes = (u32)u->val[UAL_OPT_MODE];
	c->pt_pool = (u32)u->val[UAL_OPT_PT_POOL];
	c->dma_bits = (u32)u->val[UAL_OPT_DMA_BITS];
	c->tlb = (u32)u->val[UAL_OPT_TLB];
	c->faults = (u32)u->val[UAL_OPT_FAULTS];
}

/* Registry lock held. */
static int new_dev(struct fake_fabric *ff, u32 accel, struct ual_dev **out,
		   struct ual_err *err)
{
	struct fake_dev *d;

	if (accel >= ff->fab->cfg.accels)
		return ual_err_set(err, UAL_ENODEV, "no accelerator %u in the fabric (%u)",
				   accel, ff->fab->cfg.accels);
	d = ual_zalloc(&ff->fab->allocs, sizeof(*d));
	if (!d)
		return ual_err_set(err, UAL_ENOMEM, "out of memory for a handle");
	d->base.magic = UAL_DEV_MAGIC;
	d->base.ops = &ual_fake_ops;
	d->base.core = &d->owner;
	d->ff = ff;
	ual_owner_init(&d->owner, ff->fab, accel);
	ff->refs++;
	*out = &d->base;
	return 0;
}

static struct fake_fabric *find_named(const char *name)
{
	struct ual_list *p;

	for (p = registry.next; p != &registry; p = p->next) {
		struct fake_fabric *ff = ual_container_of(p, struct fake_fabric, link);

		if (!strcmp(ff->name, name))
			return ff;
	}
	return NULL;
}

static void put_fabric(struct fake_fabric *ff)
{
	if (--ff->refs)
		return;
	if (ff->name[0])
		ual_list_del(&ff->link);
	ual_fabric_destroy(ff->fab);
	ual_free(ff);
}

static int fake_open(const struct ual_uri *u, struct ual_dev **out, struct ual_err *err)
{
	struct ual_fabric_cfg cfg;
	struct fake_fabric *ff;
	u32 local = (u32)u->val[UAL_OPT_LOCAL];
	size_t i;
	int ret;

	if (u->name[0] == '/')
		return ual_pod_open(u, out, err);
	pthread_mutex_lock(&registry_lock);
	ff = u->name[0] ? find_named(u->name) : NULL;
	if (ff) {
		/* Attach: options given must match the fabric's. */
		for (i = 0; i < UAL_ARRAY_SIZE(fabric_opts); i++) {
			enum ual_opt o = fabric_opts[i];

			if ((u->set & (1u << o)) && u->val[o] != ff->opts.val[o]) {
				ret = ual_err_set(err, UAL_EEXIST,
						  "fabric '%s' exists with %s=%llu (asked %llu)",
						  u->name, ual_opt_names[o],
						  (unsigned long long)ff->opts.val[o],
						  (unsigned long long)u->val[o]);
				goto out;
			}
		}
		ret = new_dev(ff, local, out, err);
		goto out;
	}
	ual_fake_cfg(u, &cfg);
	if (local >= cfg.accels) {
		ret = ual_err_set(err, UAL_ENODEV, "local=%u but the fabric has %u accelerators",
				  local, cfg.accels);
		goto out;
	}
	ff = ual_zalloc(NULL, sizeof(*ff));
	if (!ff) {
		ret = ual_err_set(err, UAL_ENOMEM, "out of memory for the fabric");
		goto out;
	}
	ret = ual_fabric_create(&cfg, &ual_fake_host_ops, &ff->fab, err);
	if (ret) {
		ual_free(ff);
		goto out;
	}
	ual_atomic64_add(&ff->fab->allocs, 1);	/* ff itself */
	memcpy(ff->name, u->name, sizeof(ff->name));
	ff->opts = *u;
	ual_list_init(&ff->link);
	ret = new_dev(ff, local, out, err);
	if (ret) {
		ual_fabric_destroy(ff->fab);
		ual_free(ff);
		goto out;
	}
	if (ff->name[0])
		ual_list_add_tail(&ff->link, &registry);
out:
	pthread_mutex_unlock(&registry_lock);
	return ret;
}

static int fake_open_peer(struct ual_dev *dev, u32 accel, struct ual_dev **out,
			  struct ual_err *err)
{
	int ret;

	pthread_mutex_lock(&registry_lock);
	ret = new_dev(to_fake(dev)->ff, accel, out, err);
	pthread_mutex_unlock(&registry_lock);
	return ret;
}

static void fake_close(struct ual_dev *dev)
{
	struct fake_dev *d = to_fake(dev);

	pthread_mutex_lock(&registry_lock);
	ual_owner_release(&d->owner);
	put_fabric(d->ff);
	ual_free(d);
	pthread_mutex_unlock(&registry_lock);
}

int ual_fake_mem_register(struct ual_dev *dev, void *addr, u64 len, u64 *pfns,
			  struct ual_err *err)
{
	/* No real pinning: the aperture hands out contiguous frames. */
	return fab_mem_register(dev->core, (u64)(uintptr_t)addr, len, NULL,
				NULL, pfns, err);
}

const struct ual_backend_ops ual_fake_ops = {
	.name = "fake",
	.open = fake_open,
	.open_peer = fake_open_peer,
	.close = fake_close,
	UAL_FAKE_CORE_OPS,
};
