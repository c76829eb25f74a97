// SPDX-License-Identifier: Apache-2.0
/*
 * hw.c - reaching a PCI device from user space: VFIO (type1 container +
 * group + device fd; the 6.1 guest kernel has no iommufd device interface)
 * or sysfs for a device bound to uio_pci_generic (physical mode, no IOMMU),
 * plus /proc/self/pagemap and /dev/kmsg.
 *
 * Every call here may sleep in the kernel (ioctl, pread); none takes a
 * library lock. Callers serialise use of one struct vfio_hw.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <linux/vfio.h>

#include "vfio_priv.h"

#define SYSFS_PCI "/sys/bus/pci/devices/"

int vfio_parse_bdf(const char *s, char *out, struct ual_err *err)
{
	unsigned int dom = 0, bus, dev, fn;
	char tail;

	if (!*s)
		return ual_err_set(err, UAL_EINVAL,
				   "vfio: needs a PCI address, e.g. vfio:0000:00:03.0");
	if (sscanf(s, "%4x:%2x:%2x.%1u%c", &dom, &bus, &dev, &fn, &tail) != 4 &&
	    (dom = 0, sscanf(s, "%2x:%2x.%1u%c", &bus, &dev, &fn, &tail) != 3))
		return ual_err_set(err, UAL_EINVAL,
				   "'%s' is not a PCI address (DDDD:BB:DD.F or BB:DD.F)", s);
	if (dev > 0x1f || fn > 7)
		return ual_err_set(err, UAL_EINVAL, "'%s': device %x or function %u out of range",
				   s, dev, fn);
	snprintf(out, 16, "%04x:%02x:%02x.%u", dom, bus, dev, fn);
	return 0;
}

/* Read a sysfs link's last component into @out; -errno. */
static int link_name(const char *path, char *out, size_t n)
{
	char buf[PATH_MAX];
	ssize_t len = readlink(path, buf, sizeof(buf) - 1);
	const char *slash;

	if (len < 0)
		return -errno;
	buf[len] = 0;
	slash = strrchr(buf, '/');
	snprintf(out, n, "%s", slash ? slash + 1 : buf);
	return 0;
}

int vfio_sysfs_driver(const char *bdf, char *out, size_t n, struct ual_err *err)
{
	char path[128];
	struct stat st;
	int r;

	snprintf(path, sizeof(path), SYSFS_PCI "%s", bdf);
	if (stat(path, &st))
		return ual_err_set(err, UAL_ENODEV, "no PCI device %s (%s)", bdf, path);
	snprintf(path, sizeof(path), SYSFS_PCI "%s/driver", bdf);
	r = link_name(path, out, n);
	if (r == -ENOENT)
		out[0] = 0;
	else if (r)
		return ual_err_set(err, UAL_EIO, "cannot read %s: %s", path, strerror(-r));
	return 0;
}

static int sys_err(struct ual_err *err, int e, const char *what, const char *path)
{
	int code = (e == EACCES || e == EPERM) ? UAL_EPERM :
		   (e == ENOENT || e == ENODEV) ? UAL_ENODEV :
		   (e == EBUSY) ? UAL_EBUSY : UAL_EIO;

	return ual_err_set(err, code, "%s %s: %s%s", what, path, strerror(e),
			   code == UAL_EPERM ? " (needs root)" : "");
}

static void hw_init(struct vfio_hw *hw)
{
	memset(hw, 0, sizeof(*hw));
	hw->container = hw->group = hw->device_fd = hw->cfg_fd = -1;
	hw->bar_fd = hw->kmsg = hw->pagemap = -1;
}

/* The IOMMU's usable IOVA window that contains [4 KiB, ...): from the
 * type1 IOVA-range capability, or everything when the kernel lacks it. */
static int iommu_window(struct vfio_hw *hw, struct ual_err *err)
{
	struct vfio_iommu_type1_info *info;
	u32 argsz = sizeof(*info), off;

	hw->iova_lo = 0;
	hw->iova_hi = ~0ull;
	for (int pass = 0; pass < 2; pass++) {
		info = calloc(1, argsz);
		if (!info)
			return ual_err_set(err, UAL_ENOMEM, "out of memory");
		info->argsz = argsz;
		if (ioctl(hw->container, VFIO_IOMMU_GET_INFO, info)) {
			int e = errno;

			free(info);
			return ual_err_set(err, UAL_EIO, "VFIO_IOMMU_GET_INFO: %s", strerror(e));
		}
		if (!(info->iova_pgsizes & 4096)) {
			u64 ps = info->iova_pgsizes;

			free(info);
			return ual_err_set(err, UAL_ENOTSUP,
					   "the IOMMU does not map 4 KiB pages (page sizes 0x%llx)",
					   (unsigned long long)ps);
		}
		if (info->argsz > argsz && pass == 0) {
			argsz = info->argsz;
			free(info);
			continue;
		}
		break;
	}
	if ((info->flags & VFIO_IOMMU_INFO_CAPS) && info->cap_offset) {
		for (off = info->cap_offset; off && off + sizeof(struct vfio_info_cap_header) <= argsz;) {
			struct vfio_info_cap_header *h = (void *)((char *)info + off);

			if (h->id == VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE) {
				struct vfio_iommu_type1_info_cap_iova_range *r = (void *)h;

				for (u32 i = 0; i < r->nr_iovas; i++)
					if (r->iova_ranges[i].start <= 4096 &&
					    r->iova_ranges[i].end >= 4096) {
						hw->iova_lo = r->iova_ranges[i].start;
						hw->iova_hi = r->iova_ranges[i].end;
					}
			}
			off = h->next;
		}
	}
	free(info);
	return 0;
}

static int open_vfio(struct vfio_hw *hw, struct ual_err *err)
{
	struct vfio_group_status gs = { .argsz = sizeof(gs) };
	struct vfio_region_info ri = { .argsz = sizeof(ri) };
	char path[128], group[16];
	int r;

	snprintf(path, sizeof(path), SYSFS_PCI "%s/iommu_group", hw->bdf);
	r = link_name(path, group, sizeof(group));
	if (r)
		return ual_err_set(err, UAL_ENODEV,
				   "%s has no IOMMU group (%s): virtual mode needs an IOMMU "
				   "(intel_iommu=on; QEMU: -device intel-iommu)", hw->bdf,
				   strerror(-r));
	hw->container = open("/dev/vfio/vfio", O_RDWR | O_CLOEXEC);
	if (hw->container < 0)
		return sys_err(err, errno, "cannot open", "/dev/vfio/vfio (modprobe vfio-pci)");
	if (ioctl(hw->container, VFIO_GET_API_VERSION) != VFIO_API_VERSION)
		return ual_err_set(err, UAL_ENOTSUP, "VFIO API version is not %d", VFIO_API_VERSION);
	if (ioctl(hw->container, VFIO_CHECK_EXTENSION, VFIO_TYPE1v2_IOMMU) <= 0)
		return ual_err_set(err, UAL_ENOTSUP,
				   "the VFIO container has no type1v2 IOMMU (modprobe vfio_iommu_type1)");
	snprintf(path, sizeof(path), "/dev/vfio/%s", group);
	hw->group = open(path, O_RDWR | O_CLOEXEC);
	if (hw->group < 0)
		return sys_err(err, errno, "cannot open IOMMU group", path);
	if (ioctl(hw->group, VFIO_GROUP_GET_STATUS, &gs))
		return ual_err_set(err, UAL_EIO, "VFIO_GROUP_GET_STATUS %s: %s", path, strerror(errno));
	if (!(gs.flags & VFIO_GROUP_FLAGS_VIABLE))
		return ual_err_set(err, UAL_EBUSY,
				   "IOMMU group %s is not viable: bind every device of "
				   "/sys/kernel/iommu_groups/%s/devices to vfio-pci", group, group);
	if (ioctl(hw->group, VFIO_GROUP_SET_CONTAINER, &hw->container))
		return ual_err_set(err, UAL_EIO, "VFIO_GROUP_SET_CONTAINER: %s", strerror(errno));
	if (ioctl(hw->container, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU))
		return ual_err_set(err, UAL_EIO, "VFIO_SET_IOMMU type1v2: %s", strerror(errno));
	r = iommu_window(hw, err);
	if (r)
		return r;
	hw->device_fd = ioctl(hw->group, VFIO_GROUP_GET_DEVICE_FD, hw->bdf);
	if (hw->device_fd < 0)
		return ual_err_set(err, UAL_EIO, "VFIO_GROUP_GET_DEVICE_FD %s: %s", hw->bdf,
				   strerror(errno));
	ri.index = VFIO_PCI_CONFIG_REGION_INDEX;
	if (ioctl(hw->device_fd, VFIO_DEVICE_GET_REGION_INFO, &ri))
		return ual_err_set(err, UAL_EIO, "config region info: %s", strerror(errno));
	hw->cfg_fd = hw->device_fd;
	hw->cfg_off = ri.offset;
	return 0;
}

static int open_uio(struct vfio_hw *hw, struct ual_err *err)
{
	char path[128], type[32] = "";
	int r;

	snprintf(path, sizeof(path), SYSFS_PCI "%s/iommu_group", hw->bdf);
	r = link_name(path, type, sizeof(type));
	if (!r) {
		/* Behind a translating IOMMU physical addresses would fault. */
		FILE *f;

		snprintf(path, sizeof(path), "/sys/kernel/iommu_groups/%s/type", type);
		f = fopen(path, "r");
		type[0] = 0;
		if (f) {
			if (!fgets(type, sizeof(type), f))
				type[0] = 0;
			fclose(f);
		}
		type[strcspn(type, "\n")] = 0;
		if (strcmp(type, "identity"))
			return ual_err_set(err, UAL_ENOTSUP,
					   "%s sits behind an IOMMU domain of type '%s': physical "
					   "mode needs untranslated DMA (boot without intel_iommu=on, "
					   "or with iommu=pt)", hw->bdf, type);
	}
	snprintf(path, sizeof(path), SYSFS_PCI "%s/config", hw->bdf);
	hw->cfg_fd = open(path, O_RDWR | O_CLOEXEC);
	if (hw->cfg_fd < 0)
		return sys_err(err, errno, "cannot open", path);
	hw->cfg_off = 0;
	hw->pagemap = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	if (hw->pagemap < 0)
		return sys_err(err, errno, "cannot open", "/proc/self/pagemap");
	return 0;
}

int vfio_hw_open(struct vfio_hw *hw, const char *bdf, bool vfio, struct ual_err *err)
{
	int r;

	hw_init(hw);
	snprintf(hw->bdf, sizeof(hw->bdf), "%s", bdf);
	hw->kind = vfio ? HW_VFIO : HW_UIO;
	r = vfio ? open_vfio(hw, err) : open_uio(hw, err);
	if (!r)
		r = vfio_cfg_read(hw, 0, &hw->vendor, 2, err);
	if (!r)
		r = vfio_cfg_read(hw, 2, &hw->device, 2, err);
	if (r) {
		vfio_hw_close(hw);
		return r;
	}
	/* Readable only as root (or with dmesg_restrict=0): optional evidence. */
	hw->kmsg = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	vfio_kmsg_skip(hw);
	return 0;
}

void vfio_hw_close(struct vfio_hw *hw)
{
	if (hw->bar)
		munmap((void *)hw->bar, hw->bar_len);
	if (hw->bar_fd >= 0 && hw->bar_fd != hw->device_fd)
		close(hw->bar_fd);
	if (hw->cfg_fd >= 0 && hw->cfg_fd != hw->device_fd)
		close(hw->cfg_fd);
	if (hw->device_fd >= 0)
		close(hw->device_fd);
	if (hw->group >= 0)
		close(hw->group);	/* detaches from the container: mappings go */
	if (hw->container >= 0)
		close(hw->container);
	if (hw->kmsg >= 0)
		close(hw->kmsg);
	if (hw->pagemap >= 0)
		close(hw->pagemap);
	hw_init(hw);
}

int vfio_cfg_read(struct vfio_hw *hw, u32 off, void *buf, u32 len, struct ual_err *err)
{
	if (pread(hw->cfg_fd, buf, len, (off_t)(hw->cfg_off + off)) != (ssize_t)len)
		return ual_err_set(err, UAL_EIO, "reading config space of %s at 0x%x: %s", hw->bdf,
				   off, strerror(errno));
	return 0;
}

int vfio_cfg_write(struct vfio_hw *hw, u32 off, const void *buf, u32 len, struct ual_err *err)
{
	if (pwrite(hw->cfg_fd, buf, len, (off_t)(hw->cfg_off + off)) != (ssize_t)len)
		return ual_err_set(err, errno == EACCES || errno == EPERM ? UAL_EPERM : UAL_EIO,
				   "writing config space of %s at 0x%x: %s", hw->bdf, off,
				   strerror(errno));
	return 0;
}

int vfio_bar_map(struct vfio_hw *hw, u32 bar, struct ual_err *err)
{
	void *p;

	if (hw->kind == HW_VFIO) {
		struct vfio_region_info ri = { .argsz = sizeof(ri), .index = bar };

		if (ioctl(hw->device_fd, VFIO_DEVICE_GET_REGION_INFO, &ri))
			return ual_err_set(err, UAL_EIO, "BAR%u region info: %s", bar, strerror(errno));
		if (!ri.size)
			return ual_err_set(err, UAL_ENODEV, "%s has no BAR%u", hw->bdf, bar);
		hw->bar_fd = hw->device_fd;
		hw->bar_off = ri.offset;
		hw->bar_len = ri.size;
		if (!(ri.flags & VFIO_REGION_INFO_FLAG_MMAP))
			return 0;	/* pread/pwrite on the region */
		p = mmap(NULL, ri.size, PROT_READ | PROT_WRITE, MAP_SHARED, hw->device_fd,
			 (off_t)ri.offset);
	} else {
		char path[128];
		struct stat st;

		snprintf(path, sizeof(path), SYSFS_PCI "%s/resource%u", hw->bdf, bar);
		hw->bar_fd = open(path, O_RDWR | O_SYNC | O_CLOEXEC);
		if (hw->bar_fd < 0)
			return sys_err(err, errno, "cannot open", path);
		if (fstat(hw->bar_fd, &st) || !st.st_size)
			return ual_err_set(err, UAL_ENODEV, "%s: empty BAR", path);
		hw->bar_len = (u64)st.st_size;
		p = mmap(NULL, hw->bar_len, PROT_READ | PROT_WRITE, MAP_SHARED, hw->bar_fd, 0);
	}
	if (p == MAP_FAILED)
		return ual_err_set(err, UAL_EIO, "mmap of BAR%u of %s: %s", bar, hw->bdf,
				   strerror(errno));
	hw->bar = p;
	return 0;
}

/* Registers are 32-bit MMIO: volatile accesses through the mapping, or
 * pread/pwrite of 4 bytes on the VFIO region. */
u32 vfio_reg_read(struct vfio_hw *hw, u32 off)
{
	u32 v = ~0u;

	if (hw->bar)
		return *(volatile u32 *)(hw->bar + off);
	if (pread(hw->bar_fd, &v, 4, (off_t)(hw->bar_off + off)) != 4)
		return ~0u;
	return v;
}

void vfio_reg_write(struct vfio_hw *hw, u32 off, u32 val)
{
	if (hw->bar) {
		*(volatile u32 *)(hw->bar + off) = val;
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		return;
	}
	if (pwrite(hw->bar_fd, &val, 4, (off_t)(hw->bar_off + off)) != 4)
		return;	/* the read-back of the command register notices */
}

int vfio_iommu_map(struct vfio_hw *hw, u64 vaddr, u64 iova, u64 size, u32 prot,
		   struct ual_err *err)
{
	struct vfio_iommu_type1_dma_map m = {
		.argsz = sizeof(m), .vaddr = vaddr, .iova = iova, .size = size,
		.flags = ((prot & UAL_PROT_READ) ? VFIO_DMA_MAP_FLAG_READ : 0) |
			 ((prot & UAL_PROT_WRITE) ? VFIO_DMA_MAP_FLAG_WRITE : 0),
	};

	if (ioctl(hw->container, VFIO_IOMMU_MAP_DMA, &m)) {
		int e = errno;

		return ual_err_set(err, e == ENOMEM ? UAL_ENOMEM : e == ENOSPC ? UAL_ENOSPC : UAL_EIO,
				   "VFIO_IOMMU_MAP_DMA iova 0x%llx -> vaddr 0x%llx (+0x%llx): %s%s",
				   (unsigned long long)iova, (unsigned long long)vaddr,
				   (unsigned long long)size, strerror(e),
				   e == ENOSPC ? " (vfio_iommu_type1 dma_entry_limit reached)" :
				   e == ENOMEM ? " (RLIMIT_MEMLOCK?)" : "");
	}
	return 0;
}

int vfio_iommu_unmap(struct vfio_hw *hw, u64 iova, u64 size, u64 *unmapped,
		     struct ual_err *err)
{
	struct vfio_iommu_type1_dma_unmap u = {
		.argsz = sizeof(u), .iova = iova, .size = size,
	};

	if (ioctl(hw->container, VFIO_IOMMU_UNMAP_DMA, &u))
		return ual_err_set(err, UAL_EIO, "VFIO_IOMMU_UNMAP_DMA iova 0x%llx+0x%llx: %s",
				   (unsigned long long)iova, (unsigned long long)size,
				   strerror(errno));
	*unmapped = u.size;
	return 0;
}

int vfio_pagemap_pfn(struct vfio_hw *hw, u64 vaddr, u64 *pfn, struct ual_err *err)
{
	u64 e;

	if (pread(hw->pagemap, &e, 8, (off_t)(vaddr >> UAL_PAGE_SHIFT) * 8) != 8)
		return ual_err_set(err, UAL_EIO, "/proc/self/pagemap at 0x%llx: %s",
				   (unsigned long long)vaddr, strerror(errno));
	if (!(e & (1ull << 63)))
		return ual_err_set(err, UAL_EFAULT, "page at 0x%llx is not resident",
				   (unsigned long long)vaddr);
	*pfn = e & ((1ull << 55) - 1);
	if (!*pfn)
		return ual_err_set(err, UAL_EPERM,
				   "/proc/self/pagemap hides PFNs from this process: physical "
				   "mode needs root (CAP_SYS_ADMIN)");
	return 0;
}

/* One record; 0 at the end, -1 on an error other than EPIPE (lost records). */
static ssize_t kmsg_next(struct vfio_hw *hw, char *buf, size_t n)
{
	for (;;) {
		ssize_t r = read(hw->kmsg, buf, n - 1);

		if (r >= 0) {
			buf[r] = 0;
			return r;
		}
		if (errno == EPIPE)
			continue;	/* overwritten records: go on with the next */
		return errno == EAGAIN ? 0 : -1;
	}
}

void vfio_kmsg_skip(struct vfio_hw *hw)
{
	if (hw->kmsg >= 0)
		lseek(hw->kmsg, 0, SEEK_END);
}

bool vfio_kmsg_dmar(struct vfio_hw *hw, u32 wait_ms, char *line, size_t n, u64 *addr)
{
	char rec[1024], who[16];
	u32 waited = 0;

	if (hw->kmsg < 0)
		return false;
	/* The kernel prints the requester as bus:dev.fn without the domain. */
	snprintf(who, sizeof(who), "[%s]", hw->bdf + 5);
	for (;;) {
		ssize_t r = kmsg_next(hw, rec, sizeof(rec));

		if (r < 0)
			return false;
		if (r > 0) {
			const char *msg = strchr(rec, ';'), *fa;

			msg = msg ? msg + 1 : rec;
			fa = strstr(msg, "fault addr ");
			if (strstr(msg, "DMAR") && fa && strstr(msg, who)) {
				snprintf(line, n, "%.*s", (int)strcspn(msg, "\n"), msg);
				*addr = strtoull(fa + 11, NULL, 16);
				return true;
			}
			continue;
		}
		if (waited >= wait_ms)
			return false;
		nanosleep(&(struct timespec){ 0, 20 * 1000 * 1000 }, NULL);
		waited += 20;
	}
}
