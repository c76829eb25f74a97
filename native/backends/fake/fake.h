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

/* The fabric configuration a fake: URI asks for (defaults filled in). */
void ual_fake_cfg(const struct ual_uri *u, struct ual_fabric_cfg *c);
int ual_fake_mem_register(struct ual_dev *dev, void *addr, u64 len, u64 *pfns,
			  struct ual_err *err);
/* Open "fake:/PATH?...": create or join the pod, own local=. */
int ual_pod_open(const struct ual_uri *u, struct ual_dev **out, struct ual_err *err);

/* Test hook: take the handle's target lock and keep it. */
void ual_pod_test_hold_target_lock(struct ual_dev *dev);

#endif /* UAL_FAKE_H */
