"""PyTorch CPU timings of the kernel shapes of `./diffuse bench gemm|conv|attention`, counted the same way.

    /usr/bin/python3 bench/torch_kernels.py [--threads 2] [--runs 5] [--warmup 2]

gemm: square float32 matmuls 1024 and 2048 (2*N^3 flops). conv: 3x3, padding 1, [2, 320, 64, 64] -> 320 channels with
bias (the first UNet level of SD 1.x at 512x512, batch 2 for guidance). attention: 4096 queries and keys, 8 heads of 40
(SD 1.x self-attention at 512x512), batch 1, counted as 4*N^2*H*D flops (QK^T and PV). Attention uses
F.scaled_dot_product_attention where torch has it (2.x), else torch 1.13's private math version, and also the
baddbmm/softmax/bmm sequence of diffusers' AttnProcessor (what diffusers 0.27 runs on torch 1.x).
Each workload: warm-up runs, then timed runs; best and median in ms and the best rate in GFLOP/s.
"""
import argparse
import statistics
import time

import torch
import torch.nn.functional as F

import common


def timed(fn, runs, warmup):
    for _ in range(warmup):
        fn()
    ms = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        ms.append((time.perf_counter() - t0) * 1e3)
    return min(ms), statistics.median(ms)


def report(name, shape, flops, best, median, runs):
    print(f"{name} {shape}: best {best:.2f} ms, median {median:.2f} ms of {runs} runs, {flops / (best * 1e6):.1f} GFLOP/s")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=2)
    a = ap.parse_args()
    common.setup_torch(torch, a.threads)

    with torch.inference_mode():
        for n in (1024, 2048):
            x, y = torch.rand(n, n) - 0.5, torch.rand(n, n) - 0.5
            best, med = timed(lambda: x @ y, a.runs, a.warmup)
            report("gemm", f"{n}x{n}x{n} (MxNxK)", 2.0 * n ** 3, best, med, a.runs)

        b, c, hw, k = 2, 320, 64, 3
        x, w, bias = torch.rand(b, c, hw, hw) - 0.5, torch.rand(c, c, k, k) - 0.5, torch.rand(c) - 0.5
        best, med = timed(lambda: F.conv2d(x, w, bias, 1, 1), a.runs, a.warmup)
        report("conv", f"3x3 1x1/1 in [{b}, {c}, {hw}, {hw}] -> {c} ch, groups 1", 2.0 * b * c * hw * hw * c * k * k, best, med, a.runs)

        n, h, d = 4096, 8, 40
        q, kk, v = (torch.rand(1, n, h * d) - 0.5 for _ in range(3))
        heads = lambda t: t.reshape(1, n, h, d).transpose(1, 2).reshape(h, n, d)   # [B*H, N, D]
        qh, kh, vh = heads(q), heads(kk), heads(v)
        flops = 4.0 * h * n * n * d
        shape = f"batch 1, {n} queries x {n} keys, {h} heads x {d} dim"
        if hasattr(F, "scaled_dot_product_attention"):
            best, med = timed(lambda: F.scaled_dot_product_attention(qh, kh, vh), a.runs, a.warmup)
            report("attention (F.scaled_dot_product_attention)", shape, flops, best, med, a.runs)
        elif hasattr(F, "_scaled_dot_product_attention"):
            best, med = timed(lambda: F._scaled_dot_product_attention(qh, kh, vh), a.runs, a.warmup)
            report("attention (torch 1.13 F._scaled_dot_product_attention, math)", shape, flops, best, med, a.runs)

        def attn_processor():
            # diffusers AttnProcessor: scores = baddbmm(empty, q, k^T, beta=0, alpha=scale); softmax; bmm with v
            scores = torch.baddbmm(torch.empty(h, n, n), qh, kh.transpose(-1, -2), beta=0, alpha=d ** -0.5)
            return torch.bmm(scores.softmax(dim=-1), vh)
        best, med = timed(attn_processor, a.runs, a.warmup)
        report("attention (diffusers AttnProcessor: baddbmm, softmax, bmm)", shape, flops, best, med, a.runs)


if __name__ == "__main__":
    main()
