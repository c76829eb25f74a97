// SPDX-License-Identifier: Apache-2.0
/*
 * ual.c - the public entry points of libual.
 *
 * Checks common to every backend (handle, NULL pointers), dispatch of a
 * URI to its backend, and the thread's last error. Everything else is the
 * backend's.
 */
#include <setjmp.h>
#include <string.h>

#include "backend.h"

#define UAL_API __attribute__((visibility("default")))

static _Thread_local char last_error[UAL_ERR_MSG_MAX];

static const struct ual_backend_ops *const backends[] = {
	&ual_fake_ops,
	&ual_kmod_ops,
	&ual_vfio_ops,
};

/*
 * The error context of one call. Only the op name and an empty message are
 * set up front (an initializer would zero all 264 bytes on every call, a
 * measurable share of a 30 ns translate); the message is formatted, and
 * copied to the thread's last error, only when the call fails.
 */
#define ERR_CTX(name) struct ual_err err_; err_ctx_init(&err_, name)
#define ERR (&err_)

static inline void err_ctx_init(struct ual_err *err, const char *op)
{
	err->op = op;
	err->msg[0] = '\0';
}

static int fail(struct ual_err *err, int code)
{
	ual_compat_guard(NULL);
	/* A lock of a shared pod had a dead owner: nothing this call did or
	 * saw can be trusted (compat_user.c). */
	if (__builtin_expect(ual_compat_take_poison(), 0))
		code = ual_err_set(err, UAL_EOWNERDEAD, "a domain died holding a lock of the "
				   "pod this call used; the pod is poisoned: re-create it");
	if (code < 0) {
		size_t n;

		if (!err->msg[0])
			ual_err_set(err, code, "%s", ual_strerror(code));
		n = strnlen(err->msg, sizeof(err->msg) - 1);
		memcpy(last_error, err->msg, n);
		last_error[n] = '\0';
	}
	return code;
}

static bool pod_handle(const ual_dev *dev)
{
	return dev && dev->magic == UAL_DEV_MAGIC && dev->gate;
}

/*
 * On a shared pod's handle: if a lock turns out to have a dead owner (what
 * it guards may be half-updated), compat_user.c releases the locks this
 * thread took and jumps back here, so no call runs on what the dead
 * process left; the call returns UAL_EOWNERDEAD. fail() ends the guard.
 */
#define GUARD(dev)						\
	jmp_buf guard_;						\
	if (pod_handle(dev)) {					\
		if (setjmp(guard_))				\
			return fail(ERR, UAL_EOWNERDEAD);	\
		ual_compat_guard(&guard_);			\
	}

static int check_dev(ual_dev *dev, struct ual_err *err)
{
	if (!dev || dev->magic != UAL_DEV_MAGIC)
		return ual_err_set(err, UAL_EBADF, "invalid or closed handle");
	return dev->gate ? dev->gate(dev, err) : 0;
}

static int null_arg(struct ual_err *err, const char *what)
{
	return ual_err_set(err, UAL_EINVAL, "%s is NULL", what);
}

UAL_API uint32_t ual_abi_version(void)
{
	return UAL_ABI_VERSION;
}

UAL_API const char *ual_strerror(int e)
{
	switch (e) {
	case UAL_OK:		return "success";
	case UAL_EPERM:		return "operation not permitted";
	case UAL_ENOENT:	return "no such entry";
	case UAL_EIO:		return "I/O error";
	case UAL_EBADF:		return "bad handle";
	case UAL_ENOMEM:	return "out of memory";
	case UAL_EACCES:	return "access refused by the target";
	case UAL_EFAULT:	return "translation fault";
	case UAL_EBUSY:		return "busy";
	case UAL_EEXIST:	return "already exists";
	case UAL_ENODEV:	return "no such accelerator or backend";
	case UAL_EINVAL:	return "invalid argument";
	case UAL_ENOSPC:	return "address space or table full";
	case UAL_ERANGE:	return "out of range";
	case UAL_EOVERFLOW:	return "arithmetic overflow";
	case UAL_ENOTSUP:	return "not supported";
	case UAL_EHOSTDOWN:	return "target's domain is down";
	case UAL_EOWNERDEAD:	return "pod poisoned: a domain died holding a lock";
	default:		return "unknown error";
	}
}

UAL_API const char *ual_last_error(void)
{
	return last_error;
}

UAL_API int ual_open(const char *uri, ual_dev **out)
{
	ERR_CTX("open");
	struct ual_uri u;
	size_t i;
	int ret;

	if (!uri || !out)
		return fail(ERR, null_arg(ERR, !uri ? "uri" : "out"));
	ret = ual_uri_parse(uri, &u, ERR);
	if (ret)
		return fail(ERR, ret);
	for (i = 0; i < UAL_ARRAY_SIZE(backends); i++)
		if (!strcmp(u.scheme, backends[i]->name))
			return fail(ERR, backends[i]->open(&u, out, ERR));
	return fail(ERR, ual_err_set(ERR, UAL_ENODEV, "unknown backend '%s'", u.scheme));
}

UAL_API int ual_open_peer(ual_dev *dev, uint32_t accel, ual_dev **out)
{
	ERR_CTX("open_peer");
	int ret = check_dev(dev, ERR);

	if (!ret && !out)
		ret = null_arg(ERR, "out");
	if (!ret)
		ret = dev->ops->open_peer(dev, accel, out, ERR);
	return fail(ERR, ret);
}

UAL_API void ual_close(ual_dev *dev)
{
	if (!dev || dev->magic != UAL_DEV_MAGIC)
		return;
	dev->magic = 0;	/* a second close is ignored while memory lasts */
	dev->ops->close(dev);
}

UAL_API int ual_query(ual_dev *dev, struct ual_info *info)
{
	ERR_CTX("query");
	GUARD(dev);
	int ret = check_dev(dev, ERR);

	if (!ret && !info)
		ret = null_arg(ERR, "info");
	if (!ret)
		ret = dev->ops->query(dev, info, ERR);
	return fail(ERR, ret);
}

UAL_API int ual_mem_alloc(ual_dev *dev, uint64_t size, uint64_t align, uint64_t *pfn_out)
{
	ERR_CTX("mem_alloc");
	GUARD(dev);
	int ret = check_dev(dev, ERR);

	if (!ret && !pfn_out)
		ret = null_arg(ERR, "pfn_out");
	if (!ret)
		ret = dev->ops->mem_alloc(dev, size, align, pfn_out, ERR);
	return fail(ERR, ret);
}

UAL_API int ual_mem_free(ual_dev *dev, uint64_t pfn, uint64_t size)
{
	ERR_CTX("mem_free");
	GUARD(dev);
	int ret = check_dev(dev, ERR);

	if (!ret)
		ret = dev->ops->mem_free(dev, pfn, size, ERR);
	return fail(ERR, ret);
}

UAL_API int ual_mem_write(ual_dev *dev, uint64_t phys, const void *buf, uint64_t len)
{
	ERR_CTX("mem_write");
	GUARD(dev);
	int ret = check_dev(dev, ERR);

	if (!ret && !buf && len)
		ret = null_arg(ERR, "buf");
	if (!ret)
		ret = dev->ops->mem_write(dev, phys, buf, len, ERR);
	return fail(ERR, ret);
}

UAL_API int ual_mem_read(ual_dev *dev, uint64_t phys, void *buf, uint64_t len)
{
	ERR_CTX("mem_read");
	GUARD(dev);
	int ret = check_dev(dev, ERR);

	if (!ret && !buf && len)
		ret = null_arg(ERR, "buf");
	if (!ret)
		ret = dev->ops->mem_read(dev, phys, buf, len, ERR);
	return fail(ERR, ret);
}

UAL_API int ual_mem_register(ual_dev *dev, void *addr, uint64_t len, uint64_t *pfns_out)
{
	ERR_CTX("mem_register");
	GUARD(dev);
	int ret = check_dev(dev, ERR);

	if (!ret && !addr)
		ret = null_arg(ERR, "addr");
	if (!ret && !pfns_out)
		ret = null_arg(ERR, "pfns_out");
	if (!ret)
		ret = dev->ops->mem_register(dev, addr, len, pfns_out, ERR);
	return fail(ERR, ret);
}

UAL_API int ual_mem_unregister(ual_dev *dev, void *addr)
{
	ERR_CTX("mem_unregister");
	GUARD(dev);
	int ret = check_dev(dev, ERR);

	if (!ret)
		ret = dev->ops->mem_unregister(dev, addr, ERR);
	return fail(ERR, ret);
}

UAL_API int ual_grant(ual_dev *dev, uint32_t target, uint32_t initiator, uint64_t pfn,
		      uint64_t npages, uint32_t prot)
{
	ERR_CTX("grant");
	GUARD(dev);
	int ret = check_dev(dev, ERR);

	if (!ret)
		ret = dev->ops->grant(dev, target, initiator, pfn, npages, prot, ERR);
	return fail(ERR, ret);
}

UAL_API int ual_revoke(ual_dev *dev, uint32_t target, uint32_t initiator, uint64_t pfn,
		       uint64_t npages)
{
	ERR_CTX("revoke");
	GUARD(dev);
	int ret = check_dev(dev, ERR);

	if (!ret)
		ret = dev->ops->revoke(dev, target, initiator, pfn, npages, ERR);
	return fail(ERR, ret);
}

UAL_API int ual_map_pfns(ual_dev *dev, uint32_t target, const uint64_t *pfns, uint64_t n,
			 uint32_t prot, struct ual_faddr *addrs_out)
{
	ERR_CTX("map_pfns");
	GUARD(dev);
	int ret = check_dev(dev, ERR);

	if (!ret && !pfns)
		ret = null_arg(ERR, "pfns");
	if (!ret && !addrs_out)
		ret = null_arg(ERR, "addrs_out");
	if (!ret)
		ret = dev->ops->map_pfns(dev, target, pfns, n, prot, addrs_out, ERR);
	return fail(ERR, ret);
}

UAL_API int ual_iova_alloc(ual_dev *dev, uint64_t size, uint32_t flags, uint64_t *iova_out)
{
	ERR_CTX("iova_alloc");
	GUARD(dev);
	int ret = check_dev(dev, ERR);

	if (!ret && !iova_out)
		ret = null_arg(ERR, "iova_out");
	if (!ret)
		ret = dev->ops->iova_alloc(dev, size, flags, iova_out, ERR);
	return fail(ERR, ret);
}

UAL_API int ual_iova_link(ual_dev *dev, uint64_t iova, uint64_t offset, uint32_t target,
			  const uint64_t *pfns, uint64_t n, uint32_t prot)
{
	ERR_CTX("iova_link");
	GUARD(dev);
	int ret = check_dev(dev, ERR);

	if (!ret && !pfns)
		ret = null_arg(ERR, "pfns");
	if (!ret)
		ret = dev->ops->iova_link(dev, iova, offset, target, pfns, n, prot, ERR);
	return fail(ERR, ret);
}

UAL_API int ual_iova_sync(ual_dev *dev, uint64_t iova, uint64_t offset, uint64_t len)
{
	ERR_CTX("iova_sync");
	GUARD(dev);
	int ret = check_dev(dev, ERR);

	if (!ret)
		ret = dev->ops->iova_sync(dev, iova, offset, len, ERR);
	return fail(ERR, ret);
}

UAL_API int ual_iova_unlink(ual_dev *dev, uint64_t iova, uint64_t offset, uint64_t len)
{
	ERR_CTX("iova_unlink");
	GUARD(dev);
	int ret = check_dev(dev, ERR);

	if (!ret)
		ret = dev->ops->iova_unlink(dev, iova, offset, len, ERR);
	return fail(ERR, ret);
}

UAL_API int ual_iova_free(ual_dev *dev, uint64_t iova)
{
	ERR_CTX("iova_free");
	GUARD(dev);
	int ret = check_dev(dev, ERR);

	if (!ret)
		ret = dev->ops->iova_free(dev, iova, ERR);
	return fail(ERR, ret);
}

UAL_API int ual_dump(ual_dev *dev, uint64_t iova, uint64_t len, struct ual_mapping *out,
		     uint64_t max, uint64_t *count)
{
	ERR_CTX("dump");
	GUARD(dev);
	int ret = check_dev(dev, ERR);

	if (!ret && !count)
		ret = null_arg(ERR, "count");
	if (!ret && !out && max)
		ret = null_arg(ERR, "out");
	if (!ret)
		ret = dev->ops->dump(dev, iova, len, out, max, count, ERR);
	return fail(ERR, ret);
}

UAL_API int ual_translate(ual_dev *dev, uint32_t initiator, const struct ual_faddr *fa,
			  uint32_t access, struct ual_xlate *out)
{
	ERR_CTX("translate");
	GUARD(dev);
	int ret = check_dev(dev, ERR);

	if (!ret && !fa)
		ret = null_arg(ERR, "fa");
	if (!ret && !out)
		ret = null_arg(ERR, "out");
	if (!ret)
		ret = dev->ops->translate(dev, initiator, fa, access, out, ERR);
	return fail(ERR, ret);
}

UAL_API int ual_copy(ual_dev *dev, uint32_t initiator, const struct ual_faddr *dst,
		     const struct ual_faddr *src, uint64_t len)
{
	ERR_CTX("copy");
	GUARD(dev);
	int ret = check_dev(dev, ERR);

	if (!ret && !dst)
		ret = null_arg(ERR, "dst");
	if (!ret && !src)
		ret = null_arg(ERR, "src");
	if (!ret)
		ret = dev->ops->copy(dev, initiator, dst, src, len, ERR);
	return fail(ERR, ret);
}

UAL_API int ual_fault_read(ual_dev *dev, struct ual_fault *out, uint32_t max,
			   uint32_t *nread, uint64_t *lost)
{
	ERR_CTX("fault_read");
	GUARD(dev);
	int ret = check_dev(dev, ERR);

	if (!ret && !nread)
		ret = null_arg(ERR, "nread");
	if (!ret && !out && max)
		ret = null_arg(ERR, "out");
	if (!ret)
		ret = dev->ops->fault_read(dev, out, max, nread, lost, ERR);
	return fail(ERR, ret);
}

UAL_API int ual_pod_create(const char *uri, uint32_t flags)
{
	ERR_CTX("pod_create");
	struct ual_uri u;
	int ret;

	if (!uri)
		return fail(ERR, null_arg(ERR, "uri"));
	if (flags & ~UAL_POD_REPLACE)
		return fail(ERR, ual_err_set(ERR, UAL_EINVAL, "unknown flags 0x%x", flags));
	ret = ual_uri_parse(uri, &u, ERR);
	if (!ret && (strcmp(u.scheme, "fake") || u.name[0] != '/'))
		ret = ual_err_set(ERR, UAL_EINVAL, "'%s' is not a shared pod URI (fake:/PATH)", uri);
	if (!ret)
		ret = ual_fake_pod_create(&u, flags, ERR);
	return fail(ERR, ret);
}

UAL_API int ual_pod_status(const char *path, struct ual_pod_info *info,
			   struct ual_pod_domain *domains, uint32_t max_domains,
			   struct ual_pod_accel *accels, uint32_t max_accels,
			   struct ual_pod_grant *grants, uint32_t max_grants)
{
	ERR_CTX("pod_status");
	int ret = 0;

	if (!path || !info)
		ret = null_arg(ERR, !path ? "path" : "info");
	else if ((!domains && max_domains) || (!accels && max_accels) || (!grants && max_grants))
		ret = ual_err_set(ERR, UAL_EINVAL, "an output array is NULL with a non-zero maximum");
	else
		ret = ual_fake_pod_status(path, info, domains, max_domains, accels, max_accels,
					  grants, max_grants, ERR);
	return fail(ERR, ret);
}

UAL_API uint64_t ual_alloc_count(ual_dev *dev)
{
	if (!dev || dev->magic != UAL_DEV_MAGIC)
		return 0;
	return dev->ops->alloc_count(dev);
}
