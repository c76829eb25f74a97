/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vfio_priv.h - the vfio: backend: a real PCI device driven from user space.
 *
 * What maps to what (README "Bring-up on your own PCI device"):
 *  - the fabric has one accelerator (id 0): the PCI device;
 *  - its device memory is the device's DMA buffer (edu: 4 KiB at device
 *    address 0x40000), PFNs [0, buf_size / 4096);
 *  - its host aperture holds the caller's registered buffers; in physical
 *    mode their frames are the real (guest-)physical frames from
 *    /proc/self/pagemap, in virtual mode opaque aperture frames;
 *  - its fabric domain is the device's view of addresses: the core's page
 *    tables and TLB (a software mirror, used for translate/dump/faults),
 *    and, for host pages, the real IOMMU: every linked host page is mapped
 *    with VFIO_IOMMU_MAP_DMA at the same IOVA, so the device's bus request
 *    to that IOVA lands in the caller's page. Device-memory pages linked
 *    into the domain are reached by the device's engine directly;
 *  - ual_copy() programs the device's DMA engine (quirk table) for real.
 */
#ifndef UAL_VFIO_PRIV_H
#define UAL_VFIO_PRIV_H

#include "../../core/fabric.h"
#include "../../shim/backend.h"

/*
 * struct vfio_quirk - what one device model demands of its driver.
 * @vendor, @device: PCI ids.
 * @name:        for messages.
 * @dma_bits:    the device's DMA mask: bus addresses are below 1 << dma_bits
 *               (edu masks higher bits away: the transfer would land elsewhere).
 * @max_xfer:    largest byte count of one DMA transfer.
 * @buf_addr:    device address of its buffer (the source/destination of the
 *               DMA engine on the device side).
 * @buf_size:    bytes of the buffer: the accelerator's device memory.
 * @buf_reach:   a transfer must end at or below this buffer offset
 *               (exclusive end). QEMU 7.2's edu aborts the whole emulator on
 *               a transfer that reaches the buffer's last byte: 0xfff.
 * @bar:         BAR holding the DMA registers.
 * @reg_*:       register offsets in @bar (written as 32-bit values: every
 *               address handed to the device is below 1 << dma_bits <= 32).
 * @cmd_start:   command bit that starts a transfer (and reads 1 while it runs).
 * @cmd_to_host: command bit for device buffer -> host memory.
 * @bus_master:  set PCI_COMMAND bus master (vfio-pci leaves it off).
 * @id_reg, @id_mask, @id_value: an identity register checked at open.
 * @timeout_ms:  how long a transfer may take before the device is declared
 *               wedged (edu runs DMA on a 100 ms timer; TCG is slow).
 */
struct vfio_quirk {
	u16 vendor, device;
	const char *name;
	u32 dma_bits;
	u32 max_xfer;
	u64 buf_addr;
	u64 buf_size;
	u64 buf_reach;
	u32 bar;
	u32 reg_src, reg_dst, reg_count, reg_cmd;
	u32 cmd_start, cmd_to_host;
	bool bus_master;
	u32 id_reg, id_mask, id_value;
	u32 timeout_ms;
};

/* The quirk entry of a device, or NULL. */
const struct vfio_quirk *vfio_quirk_find(u16 vendor, u16 device);

/*
 * struct dma_seg - one piece of a copy: @len bytes between bus address @bus
 * (host side) and buffer offset @dev (device side).
 */
struct dma_seg {
	u64 bus;
	u64 dev;
	u32 len;
};

#define VFIO_MAX_SEGS 16

/*
 * vfio_plan() - turn the pieces of a copy into DMA transfers the device can
 * take: merges pieces contiguous on both sides, cuts at @q->max_xfer, and
 * refuses (before any register is written) a zero or oversized length, a
 * device range reaching past @q->buf_reach, or a bus range at or above
 * 1 << @dma_bits.
 * Context: pure; never allocates.
 * Return: 0 and *@nout transfers in @out; UAL_ERANGE, UAL_EINVAL, UAL_ENOSPC
 * (more than @max_out transfers) with a message.
 */
int vfio_plan(const struct vfio_quirk *q, u32 dma_bits, const struct dma_seg *pieces, u32 n,
	      struct dma_seg *out, u32 max_out, u32 *nout, struct ual_err *err);

/* ---- hardware access (hw.c) --------------------------------------------- */

enum vfio_kind { HW_VFIO, HW_UIO };

struct vfio_hw {
	enum vfio_kind kind;
	char bdf[16];		/* 0000:00:03.0 */
	char driver[32];
	u16 vendor, device;
	int container, group, device_fd;	/* HW_VFIO */
	int cfg_fd;		/* config space: device fd (vfio) or sysfs config */
	u64 cfg_off;
	volatile u8 *bar;	/* mmap of the DMA registers' BAR, or NULL */
	u64 bar_len;
	int bar_fd;		/* pread/pwrite fallback when not mmappable */
	u64 bar_off;
	int kmsg;		/* /dev/kmsg (non-blocking), -1 if not readable */
	int pagemap;		/* /proc/self/pagemap (physical mode), -1 */
	u64 iova_lo, iova_hi;	/* usable IOVA window the IOMMU reports */
};

/* Normalise "00:03.0" / "0000:00:03.0" into @out[16]; UAL_EINVAL. */
int vfio_parse_bdf(const char *s, char *out, struct ual_err *err);
/* The driver the device is bound to ("" if none); UAL_ENODEV if no such device. */
int vfio_sysfs_driver(const char *bdf, char *out, size_t n, struct ual_err *err);
/* Open the device (vfio-pci: container, group, device; uio: sysfs). */
int vfio_hw_open(struct vfio_hw *hw, const char *bdf, bool vfio, struct ual_err *err);
void vfio_hw_close(struct vfio_hw *hw);
int vfio_cfg_read(struct vfio_hw *hw, u32 off, void *buf, u32 len, struct ual_err *err);
int vfio_cfg_write(struct vfio_hw *hw, u32 off, const void *buf, u32 len, struct ual_err *err);
int vfio_bar_map(struct vfio_hw *hw, u32 bar, struct ual_err *err);
u32 vfio_reg_read(struct vfio_hw *hw, u32 off);
void vfio_reg_write(struct vfio_hw *hw, u32 off, u32 val);
/* VFIO_IOMMU_MAP_DMA / UNMAP_DMA; unmap returns the bytes unmapped. */
int vfio_iommu_map(struct vfio_hw *hw, u64 vaddr, u64 iova, u64 size, u32 prot,
		   struct ual_err *err);
int vfio_iommu_unmap(struct vfio_hw *hw, u64 iova, u64 size, u64 *unmapped,
		     struct ual_err *err);
/* Physical frame of the page at @vaddr (resident: caller mlock()ed it). */
int vfio_pagemap_pfn(struct vfio_hw *hw, u64 vaddr, u64 *pfn, struct ual_err *err);
/* Skip kernel messages logged so far. */
void vfio_kmsg_skip(struct vfio_hw *hw);
/*
 * vfio_kmsg_dmar() - look for a DMAR fault line naming the device among new
 * kernel messages, waiting up to @wait_ms for one (faults are reported by
 * an interrupt, after the transfer). Return: true and the line in @line.
 */
bool vfio_kmsg_dmar(struct vfio_hw *hw, u32 wait_ms, char *line, size_t n, u64 *addr);

#endif /* UAL_VFIO_PRIV_H */
