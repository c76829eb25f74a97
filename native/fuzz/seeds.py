#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Write hand-made seed inputs of fuzz_abi.c into native/fuzz/corpus/.

Each seed is a scenario in the harness's byte encoding (see the op_*
functions: opcode byte, then the bytes each picker reads), so the fuzzer
starts from deep states: linked 2 MiB leaves, grants, copies, faults.
"""
import os

def cfg(mode=0, bits=3, pool=0, tlb=0, faults=1):
    return [mode | bits << 2 | pool << 5, tlb | faults << 4]

MEM_2M_H0 = [0, 0, 2, 0, 1, 9]          # mem_alloc h0 2 MiB aligned 2 MiB
MEM_16_H1 = [0, 1, 4, 15, 1, 0]         # mem_alloc h1 16 pages
IOVA_4M_H1 = [7, 1, 1, 1, 2, 1]         # iova_alloc h1 4 MiB PREALLOC
IOVA_4M_H1_NP = [7, 1, 1, 0, 2, 1]      # iova_alloc h1 4 MiB
LINK_512 = [8, 1, 1, 0, 2, 0, 2, 3, 0, 0, 0xff, 0x01, 1, 2, 0, 0, 0]   # 2 MiB leaf
LINK_16 = [8, 1, 1, 0, 2, 1, 2, 3, 0, 0, 0x0f, 0x00, 1, 2, 0, 0, 0]    # 16 x 4K (64K)
LINK_5 = [8, 1, 1, 0, 2, 5, 2, 3, 0x20, 0, 0x04, 0x00, 1, 2, 0, 3, 0]  # 5 scattered
XL_IOVA_R = [13, 1, 1, 1, 0, 0, 1, 1, 2, 0, 0, 0, 0]
XL_IOVA_W = [13, 1, 1, 1, 1, 0, 1, 1, 2, 1, 0, 0, 0]
XL_PHYS = [13, 1, 1, 1, 0, 0, 3, 0, 2, 0, 5, 0, 0, 0]
XL_PHYS2 = [13, 1, 2, 1, 1, 0, 3, 0, 2, 0, 5, 0, 0, 0]
GRANT = [4, 0, 1, 1, 2, 0, 0, 0, 1, 47, 2]
GRANT_R2 = [4, 0, 1, 2, 2, 0, 0, 0, 1, 20, 0]
REVOKE = [5, 0, 1, 1, 2, 0, 4, 0, 1, 7, 2]
SYNC = [10, 1, 2, 3, 0, 0, 0xff, 0x01]
UNLINK = [11, 1, 2, 3, 0, 0, 0xff, 0x03]
UNLINK16 = [11, 1, 2, 3, 0, 0, 0x0f, 0x00]
FREE = [12, 1, 2]
COPY = [14, 1, 1, 1, 3, 1, 1, 2, 0, 0, 0, 3, 1, 2, 1, 0, 0, 0, 1, 0]
COPY_PHYS = [14, 1, 2, 1, 7, 3, 0, 2, 0, 2, 0, 0, 3, 2, 2, 0, 0, 0, 0, 1, 0]
FR = lambda h: [15, h, 1, 0]
REG = [3, 0, 0, 3, 1, 1]
REG_H3 = [3, 3, 0, 3, 1, 1]
GRANT_HOST = [4, 0, 1, 1, 6, 0, 0, 1, 2]
XL_HOST = [13, 1, 1, 1, 0, 0, 3, 0, 6, 0, 1, 0, 0]
MAP = [6, 0, 0, 2, 4, 2, 0, 0, 0, 6, 0, 0, 2, 0, 1, 0, 6, 0, 2, 2, 0, 2, 0, 0]
CLOSE = lambda h: [16, 0, h]

SEEDS = {
    "virtual-grant-copy": cfg() + MEM_2M_H0 + MEM_16_H1 + IOVA_4M_H1 + LINK_512 + XL_IOVA_R
        + GRANT + XL_IOVA_R + XL_IOVA_W + SYNC + COPY + REVOKE + XL_IOVA_R + FR(1) + FR(0)
        + UNLINK + FREE + FR(1) + CLOSE(1),
    "stale-tlb": cfg(faults=2) + MEM_2M_H0 + IOVA_4M_H1_NP + XL_IOVA_R + XL_IOVA_R + LINK_16
        + XL_IOVA_R + GRANT + XL_IOVA_R + SYNC + XL_IOVA_R + FR(1) + UNLINK16 + XL_IOVA_R
        + FR(1) + FREE,
    "physical": cfg(mode=3) + MEM_2M_H0 + MEM_16_H1 + XL_PHYS + GRANT + XL_PHYS + XL_PHYS2
        + GRANT_R2 + XL_PHYS2 + COPY_PHYS + REVOKE + XL_PHYS + MAP + FR(1) + FR(0) + FR(2),
    "host-pages": cfg(pool=1, tlb=1) + REG + REG_H3 + GRANT_HOST + XL_HOST + MAP
        + MEM_16_H1 + IOVA_4M_H1 + LINK_5 + FR(0) + FR(1) + CLOSE(0) + XL_HOST + FR(1),
    "small-pool": cfg(pool=1, bits=1, faults=0) + MEM_2M_H0 + IOVA_4M_H1_NP + LINK_16
        + LINK_5 + LINK_512 + UNLINK16 + FREE + IOVA_4M_H1 + LINK_512 + UNLINK + FREE,
}

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")
os.makedirs(out, exist_ok=True)
for name, data in SEEDS.items():
    with open(os.path.join(out, "seed-" + name), "wb") as f:
        f.write(bytes(data))
