// SPDX-License-Identifier: GPL-2.0-only OR Apache-2.0
/*
 * host.c - host aperture registrations (see host.h).
 */
#include "host.h"

#define UADDR_PAGES (1ull << (64 - UAL_PAGE_SHIFT))

int host_init(struct host_aperture *ha, ual_atomic64_t *ctr)
{
	int ret;

	ual_memset(ha, 0, sizeof(*ha));
	ha->ctr = ctr;
	ret = ra_init(&ha->frames, 0, HOST_FRAMES, ctr);
	return ret;
}

void host_destroy(struct host_aperture *ha)
{
	struct ra_node *n;

	while ((n = ra_next(&ha->frames, 0)))
		host_unregister(ha, ((struct host_run *)n->data)->reg);
	ra_destroy(&ha->frames);
}

void host_space_init(struct host_space *hs, ual_atomic64_t *ctr)
{
	ual_memset(hs, 0, sizeof(*hs));
	ual_list_init(&hs->regs);
	hs->ctr = ctr;
}

void host_space_destroy(struct host_space *hs)
{
	if (hs->ready)
		ra_destroy(&hs->uaddrs);
	hs->ready = false;
}

static u32 count_runs(const u64 *frames, u64 npages)
{
	u64 i;
	u32 n = 1;

	for (i = 1; i < npages; i++)
		if (frames[i] != frames[i - 1] + 1)
			n++;
	return n;
}

static void drop_runs(struct host_aperture *ha, struct host_reg *reg, u32 n)
{
	u32 i;

	for (i = 0; i < n; i++)
		ra_free(&ha->frames, reg->runs[i].frame);
}

int host_register(struct host_aperture *ha, struct host_space *hs, u64 uaddr, u64 npages,
		  const u64 *frames, const void *owner, void *cookie, u64 *pfns,
		  struct ual_err *err)
{
	u32 nr_runs = frames ? count_runs(frames, npages) : 1, r;
	bool fresh = !hs->ready;	/* index created by this call: undone on failure */
	struct host_reg *reg;
	u64 i, start;
	int ret;

	if (frames) {
		for (i = 0; i < npages; i++)
			if (frames[i] >= HOST_FRAMES)
				return ual_err_set(err, UAL_ERANGE,
						   "host frame 0x%llx beyond the aperture",
						   (unsigned long long)frames[i]);
	}
	if (!hs->ready) {
		if (ra_init(&hs->uaddrs, 0, UADDR_PAGES, hs->ctr))
			return ual_err_set(err, UAL_ENOMEM, "out of memory for allocator metadata");
		hs->ready = true;
	}
	reg = ual_zalloc(ha->ctr, sizeof(*reg) + sizeof(reg->runs[0]) * nr_runs);
	if (!reg) {
		ret = ual_err_set(err, UAL_ENOMEM, "out of memory for a registration");
		goto fail_index;
	}
	reg->space = hs;
	reg->uaddr = uaddr;
	reg->npages = npages;
	reg->owner = owner;
	reg->cookie = cookie;
	reg->nr_runs = nr_runs;
	ual_list_init(&reg->link);

	ret = ra_reserve(&hs->uaddrs, uaddr >> UAL_PAGE_SHIFT, npages, reg);
	if (ret) {
		ual_free(reg);
		if (ret == UAL_EEXIST || ret == UAL_ERANGE)
			ret = ual_err_set(err, UAL_EEXIST,
					  "buffer 0x%llx+0x%llx overlaps a registered buffer",
					  (unsigned long long)uaddr,
					  (unsigned long long)(npages << UAL_PAGE_SHIFT));
		else
			ret = ual_err_set(err, ret, "out of memory for allocator metadata");
		goto fail_index;
	}

	if (!frames) {
		/* Hand frames out in increasing order so a frame of an
		 * unregistered buffer is not reused soon: stale mappings
		 * keep faulting instead of reaching a new buffer. */
		ret = ra_alloc(&ha->frames, npages, 1, ha->next_frame, HOST_FRAMES, &reg->runs[0], &start);
		if (ret == UAL_ENOSPC)
			ret = ra_alloc(&ha->frames, npages, 1, 0, HOST_FRAMES, &reg->runs[0], &start);
		if (ret)
			goto fail_runs;
		reg->runs[0].frame = start;
		reg->runs[0].npages = npages;
		reg->runs[0].page_index = 0;
		reg->runs[0].reg = reg;
		ha->next_frame = start + npages;
	} else {
		for (i = 0, r = 0; i < npages; r++) {
			u64 j = i + 1;

			while (j < npages && frames[j] == frames[j - 1] + 1)
				j++;
			reg->runs[r].frame = frames[i];
			reg->runs[r].npages = j - i;
			reg->runs[r].page_index = i;
			reg->runs[r].reg = reg;
			ret = ra_reserve(&ha->frames, frames[i], j - i, &reg->runs[r]);
			if (ret) {
				drop_runs(ha, reg, r);
				goto fail_runs;
			}
			i = j;
		}
	}
	for (r = 0; r < reg->nr_runs; r++)
		for (i = 0; i < reg->runs[r].npages; i++)
			pfns[reg->runs[r].page_index + i] = HOST_PFN_BASE + reg->runs[r].frame + i;
	ual_list_add_tail(&reg->link, &hs->regs);
	ha->nr_regs++;
	return 0;

fail_runs:
	ra_free(&hs->uaddrs, uaddr >> UAL_PAGE_SHIFT);
	ual_free(reg);
	if (ret == UAL_ENOSPC)
		ret = ual_err_set(err, UAL_ENOSPC, "host aperture full");
	else if (ret == UAL_EEXIST)
		ret = ual_err_set(err, UAL_EEXIST, "a host frame is already registered");
	else
		ret = ual_err_set(err, ret, "out of memory for allocator metadata");
fail_index:
	if (fresh)
		host_space_destroy(hs);
	return ret;
}

int host_find_uaddr(struct host_space *hs, u64 uaddr, struct host_reg **reg,
		    struct ual_err *err)
{
	struct ra_node *n = hs->ready ? ra_find(&hs->uaddrs, uaddr >> UAL_PAGE_SHIFT) : NULL;

	if (!n || (uaddr & (UAL_PAGE_SIZE - 1)))
		return ual_err_set(err, UAL_ENOENT,
				   "no buffer of this handle is registered at 0x%llx",
				   (unsigned long long)uaddr);
	*reg = n->data;
	return 0;
}

void host_unregister(struct host_aperture *ha, struct host_reg *reg)
{
	ual_list_del(&reg->link);
	drop_runs(ha, reg, reg->nr_runs);
	ra_free(&reg->space->uaddrs, reg->uaddr >> UAL_PAGE_SHIFT);
	ha->nr_regs--;
	ual_free(reg);
}

struct host_reg *host_lookup(const struct host_aperture *ha, u64 frame, u64 *page_index)
{
	struct ra_node *n = ra_lookup(&ha->frames, frame);
	struct host_run *run;

	if (!n)
		return NULL;
	run = n->data;
	*page_index = run->page_index + (frame - run->frame);
	return run->reg;
}

void host_account(struct host_aperture *ha, u64 frame, u64 n, enum host_use use, bool add)
{
	u64 end = frame + n, k, *cnt;

	while (frame < end) {
		struct ra_node *node = ra_lookup(&ha->frames, frame);
		struct host_run *run;

		if (!node) {
			frame++;
			continue;
		}
		run = node->data;
		k = UAL_MIN(node->start + node->len, end) - frame;
		cnt = use == HOST_LINKED ? &run->reg->linked : &run->reg->granted;
		*cnt = add ? *cnt + k : *cnt - k;
		frame += k;
	}
}
