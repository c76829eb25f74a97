/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fake.h - what the in-process fabric (fake.c) and shared pods (pod.c) share.
 */
#ifndef UAL_FAKE_H
#define UAL_FAKE_H

#include "../../core/fabric.h"
#include "../../shim/backend.h"

/* Host pages of the fake are plain memory of the registering process. */
extern const struct ual_host_ops ual_fake_host_ops;
extern const struct ual_backend_ops ual_pod_ops;

/* Every op but open, open_peer and close: the in-process fake and a pod
 * drive the core alike. */
#define UAL_FAKE_CORE_OPS \
	.query = ual_core_query, \
	.mem_alloc = ual_core_mem_alloc, \
	.mem_free = ual_core_mem_free, \
	.mem_write = ual_core_mem_write, \
	.mem_read = ual_core_mem_read, \
	.mem_register = ual_fake_mem_register, \
	.mem_unregister = ual_core_mem_unregister, \
	.grant = ual_core_grant, \
	.revoke = ual_core_revoke, \
	.map_pfns = ual_core_map_pfns, \
	.iova_alloc = ual_core_iova_alloc, \
	.iova_link = ual_core_iova_link, \
	.iova_sync = ual_core_iova_sync, \
	.iova_unlink = ual_core_iova_unlink, \
	.iova_free = ual_core_iova_free, \
	.dump = ual_core_dump, \
	.translate = ual_core_translate, \
	.copy = ual_core_copy, \
	.fault_read = ual_core_fault_read, \
	.alloc_count = ual_core_alloc_count

/* The fabric configuration a fake: URI asks for (defaults filled in). */
void ual_fake_cfg(const struct ual_uri *u, struct ual_fabric_cfg *c);
int ual_fake_mem_register(struct ual_dev *dev, void *addr, u64 len, u64 *pfns,
			  struct ual_err *err);
/* Open "fake:/PATH?...": create or join the pod, own local=. */
int ual_pod_open(const struct ual_uri *u, struct ual_dev **out, struct ual_err *err);

/* Test hook: take the handle's target lock and keep it. */
void ual_pod_test_hold_target_lock(struct ual_dev *dev);

#endif /* UAL_FAKE_H */
