// SPDX-License-Identifier: Apache-2.0
/*
 * quirks.c - what each supported device demands, and the planner that turns
 * a copy into DMA transfers the device can take without harm.
 *
 * Adding a device: one entry below (ids, DMA mask, buffer, DMA registers
 * and command bits, transfer limits). See README "Bring-up on your own PCI
 * device".
 */
#include "vfio_priv.h"

static const struct vfio_quirk quirks[] = {
	{
		/* QEMU's educational device (docs/specs/edu.txt). */
		.vendor = 0x1234, .device = 0x11e8, .name = "edu",
		.dma_bits = 28,			/* edu's default dma_mask */
		.max_xfer = 4095,		/* see buf_reach */
		.buf_addr = 0x40000, .buf_size = 4096,
		/* QEMU 7.2 edu_check_range() wants end < buffer end: a transfer
		 * reaching byte 0xfff aborts the emulator (hw_error). */
		.buf_reach = 4095,
		.bar = 0,
		.reg_src = 0x80, .reg_dst = 0x88, .reg_count = 0x90, .reg_cmd = 0x98,
		.cmd_start = 1u << 0, .cmd_to_host = 1u << 1,
		.bus_master = true,
		.id_reg = 0x00, .id_mask = 0xff, .id_value = 0xed,	/* 0x010000ed */
		.timeout_ms = 10000,
	},
};

const struct vfio_quirk *vfio_quirk_find(u16 vendor, u16 device)
{
	size_t i;

	for (i = 0; i < UAL_ARRAY_SIZE(quirks); i++)
		if (quirks[i].vendor == vendor && quirks[i].device == device)
			return &quirks[i];
	return NULL;
}

int vfio_plan(const struct vfio_quirk *q, u32 dma_bits, const struct dma_seg *pieces, u32 n,
	      struct dma_seg *out, u32 max_out, u32 *nout, struct ual_err *err)
{
	u64 bus_limit = 1ull << dma_bits;
	struct dma_seg cur = { 0, 0, 0 };
	u32 i, k = 0;

	for (i = 0; i < n; i++) {
		const struct dma_seg *p = &pieces[i];

		if (!p->len)
			return ual_err_set(err, UAL_EINVAL, "%s: a transfer of 0 bytes", q->name);
		if (p->dev >= q->buf_reach || p->len > q->buf_reach - p->dev)
			return ual_err_set(err, UAL_ERANGE,
					   "%s: buffer bytes 0x%llx+0x%x reach past offset 0x%llx "
					   "(the device cannot take a transfer touching its "
					   "buffer's last byte)", q->name,
					   (unsigned long long)p->dev, p->len,
					   (unsigned long long)q->buf_reach - 1);
		if (p->bus >= bus_limit || p->len > bus_limit - p->bus)
			return ual_err_set(err, UAL_ERANGE,
					   "%s: bus address 0x%llx+0x%x is not below its %u-bit DMA "
					   "limit 0x%llx", q->name, (unsigned long long)p->bus,
					   p->len, dma_bits, (unsigned long long)bus_limit);
		if (cur.len && cur.bus + cur.len == p->bus && cur.dev + cur.len == p->dev &&
		    (u64)cur.len + p->len <= q->max_xfer) {
			cur.len += p->len;
			continue;
		}
		if (cur.len) {
			if (k == max_out)
				goto full;
			out[k++] = cur;
		}
		cur = *p;
		/* A piece longer than one transfer: cut it. */
		while (cur.len > q->max_xfer) {
			if (k == max_out)
				goto full;
			out[k] = cur;
			out[k++].len = q->max_xfer;
			cur.bus += q->max_xfer;
			cur.dev += q->max_xfer;
			cur.len -= q->max_xfer;
		}
	}
	if (cur.len) {
		if (k == max_out)
			goto full;
		out[k++] = cur;
	}
	*nout = k;
	return 0;
full:
	return ual_err_set(err, UAL_ENOSPC, "%s: the copy needs more than %u transfers",
			   q->name, max_out);
}
