"""Ours (`./diffuse bench`) and PyTorch 2.x interleaved in one run, round by round, with ratios and the load average.

    python3 bench/side_by_side.py [--what kernels,unet,vae] [--rounds 3] [--old 'CMD'] [--quick]

On a shared machine absolute times drift with the load, so every workload is measured as pairs taken back to back:
ours (a `./diffuse bench ...` process: warm-up, then best of its runs), then torch in this process (same warm-up, best
of the same number of runs), then, with --old, the same `bench` arguments through another launcher (an older build)
in the same round. Each round prints both times, the ratio ours/torch and the 1-minute load average before it; the
summary gives the medians of both times and of the per-round ratios. Rates count 2 flops per multiply-add on both
sides. torch runs with 2 threads (MKL sgemm, oneDNN convolutions, F.scaled_dot_product_attention); the models are
diffusers v0.27.2 (source, see README.md) built from the same config.json files as `./diffuse bench --random`.
"""
import argparse
import gc
import os
import re
import statistics
import subprocess
import time

import common

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir)


class Workload:
    """One comparison: its `./diffuse bench` arguments, the torch function and its flops (0: report seconds only).
    `make`: builds the torch function for one round (models are built per round and dropped after it, so that the
    JVM and the torch model of an 860M-parameter UNet are never in memory at the same time)."""

    def __init__(self, name, args, torch_fn, flops, runs, warmup, make=None):
        self.name, self.args, self.torch_fn, self.flops, self.runs, self.warmup = name, args, torch_fn, flops, runs, warmup
        self.make = make or (lambda: torch_fn)


def kernels(torch, F, quick):
    """GEMM (square and the SD 1.5 UNet's linear shapes), convolutions and attention at SD shapes."""
    out = []

    def gemm(m, n, k):
        a, b = torch.rand(m, k) - 0.5, torch.rand(k, n) - 0.5
        out.append(Workload(f"gemm {m}x{n}x{k}", ["gemm", str(m), str(n), str(k)], lambda: a @ b, 2.0 * m * n * k, 5, 2))

    for n in ((1024, 2048) if quick else (1024, 2048, 4096)):
        gemm(n, n, n)
    # UNet linears at latent 32, batch 2 (tokens x out x in): attention projections, GEGLU in, FF out, level 3.
    for m, n, k in ((2048, 320, 320), (2048, 2560, 320), (2048, 320, 1280), (512, 5120, 640), (128, 10240, 1280)):
        gemm(m, n, k)

    def conv(b, c, oc, hw, k=3):
        x, w, bias = torch.rand(b, c, hw, hw) - 0.5, torch.rand(oc, c, k, k) - 0.5, torch.rand(oc) - 0.5
        args = ["conv", "--batch", str(b), "--channels", str(c), "--out", str(oc), "--size", str(hw), "--kernel", str(k)]
        out.append(Workload(f"conv {k}x{k} [{b},{c},{hw},{hw}]->{oc}", args, lambda: F.conv2d(x, w, bias, 1, k // 2),
                            2.0 * b * oc * hw * hw * c * k * k, 5, 2))

    # UNet levels at latent 32 (batch 2), the 4x4 map with 2560 input channels, the VAE decoder's 128-channel level.
    for b, c, oc, hw in ((2, 320, 320, 64), (2, 320, 320, 32), (2, 640, 640, 16), (2, 1280, 1280, 8), (2, 2560, 1280, 4)):
        conv(b, c, oc, hw)
    conv(1, 128, 128, 256)
    if not quick:
        conv(1, 128, 128, 512)

    def attention(nq, nk, heads, dim, batch=1):
        q = torch.rand(batch, heads, nq, dim) - 0.5
        k, v = torch.rand(batch, heads, nk, dim) - 0.5, torch.rand(batch, heads, nk, dim) - 0.5
        args = ["attention", "--tokens", str(nq), "--keys", str(nk), "--heads", str(heads), "--dim", str(dim), "--batch", str(batch)]
        out.append(Workload(f"attention {nq}x{nk} {heads}x{dim} b{batch}", args, lambda: F.scaled_dot_product_attention(q, k, v),
                            4.0 * batch * heads * nq * nk * dim, 5, 2))

    # SD 1.5 at 512 px (4096 / 1024 tokens), its cross-attention (77 keys), and the latent-32 UNet's levels.
    for nq, nk, heads, dim in ((4096, 4096, 8, 40), (4096, 77, 8, 40), (1024, 1024, 8, 80), (256, 256, 8, 160)):
        attention(nq, nk, heads, dim)
    attention(1024, 1024, 8, 40, batch=2)
    return out


def models(torch, what):
    """UNet (SD 1.5, latent 32, batch 1 and 2) and VAE decode (SD, 512 px; 1024 px too unless quick)."""
    import diffusers_src
    diffusers_src.setup()
    out = []
    if "unet" in what:
        from diffusers.models.unets.unet_2d_condition import UNet2DConditionModel
        config = common.config("unet-sd15")

        def unet_fn(batch):
            unet = UNet2DConditionModel.from_config(config).eval()
            sample, context = torch.randn(batch, 4, 32, 32), torch.randn(batch, 77, config["cross_attention_dim"])
            return lambda: unet(sample, 500, context)
        for batch in (2, 1):
            out.append(Workload(f"unet sd15 latent 32 batch {batch}", ["unet", "--random", "sd15", "--latent", "32", "--batch", str(batch)],
                                None, 0, 3, 1, make=lambda b=batch: unet_fn(b)))
    if "vae" in what:
        from diffusers.models.autoencoders.autoencoder_kl import AutoencoderKL

        def vae_fn(size):
            vae = AutoencoderKL.from_config(common.config("vae-sd")).eval()
            z = torch.randn(1, 4, size // 8, size // 8)
            return lambda: vae.decode(z).sample
        for size in what["vae"]:
            out.append(Workload(f"vae sd decode {size}", ["vae", "--random", "sd", "--size", str(size)], None, 0, 2, 1,
                                make=lambda s=size: vae_fn(s)))
    return out


def ours(launcher, w):
    """Best time of one `bench` process (seconds), from its summary line; None (and why) when it gave none."""
    cmd = launcher + w.args + ["--runs", str(w.runs), "--warmup", str(w.warmup)]
    p = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    m = re.search(r"best ([0-9.]+) (ms|s/it)", p.stdout)
    if not m:
        print(f"no timing from {' '.join(cmd)} (exit {p.returncode}; killed for memory when -9): {p.stderr.strip()[-300:]}", flush=True)
        return None
    return float(m.group(1)) / (1e3 if m.group(2) == "ms" else 1)


def theirs(w):
    fn = w.make()
    for _ in range(w.warmup):
        fn()
    best = float("inf")
    for _ in range(w.runs):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    del fn
    gc.collect()
    return best


def load():
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])


def rate(w, seconds):
    return f"{w.flops / seconds / 1e9:7.1f} GFLOP/s" if w.flops else f"{seconds:8.3f} s"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--what", default="kernels,unet,vae", help="comma-separated: kernels, unet, vae")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--ours", help="launcher of the build to measure (default: ./diffuse of this checkout)")
    ap.add_argument("--old", help="launcher of another build (e.g. 'path/to/diffuse'), measured in the same rounds")
    ap.add_argument("--only", help="regular expression: only workloads whose name matches")
    ap.add_argument("--quick", action="store_true", help="skip gemm 4096, the 512-px VAE conv and the 1024-px VAE decode")
    ap.add_argument("--runs", type=int, help="timed runs per side and round (default: 5 for kernels, 3 for the UNet, 2 for the VAE)")
    ap.add_argument("--warmup", type=int, help="warm-up runs per side and round (default: 2 for kernels, 1 for models)")
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    what = set(a.what.split(","))

    import torch
    import torch.nn.functional as F
    common.setup_torch(torch, a.threads)
    with open("/proc/cpuinfo") as f:
        cpu = f.read()
    model = re.search(r"model name\s*:\s*(.*)", cpu).group(1)
    flags = [f for f in ("avx2", "fma", "avx512f", "avx512_bf16", "f16c") if re.search(rf"\b{f}\b", cpu)]
    print(f"machine: {model}, {os.cpu_count()} cores, flags {' '.join(flags)}; {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")

    print(f"torch MKL {torch.backends.mkl.is_available()}, oneDNN {torch.backends.mkldnn.is_available()}, "
          f"CPU capability {torch.backends.cpu.get_cpu_capability()}")
    launcher = (a.ours.split() if a.ours else [os.path.join(ROOT, "diffuse")]) + ["bench"]
    old = a.old.split() + ["bench"] if a.old else None
    if not a.ours:
        subprocess.run([os.path.join(ROOT, "diffuse"), "help"], cwd=ROOT, capture_output=True)   # build outside the timings
    work = []
    with torch.inference_mode():
        if "kernels" in what:
            work += kernels(torch, F, a.quick)
        sizes = {"vae": (512,) if a.quick else (512, 1024)} if "vae" in what else {}
        work += models(torch, ({"unet": 1} if "unet" in what else {}) | sizes)
        if a.only:
            work = [w for w in work if re.search(a.only, w.name)]
        for w in work:
            w.runs, w.warmup = a.runs or w.runs, a.warmup if a.warmup is not None else w.warmup
        summary = []
        for w in work:
            rows = []
            for r in range(a.rounds):
                l0 = load()
                t_ours = ours(launcher, w)
                t_torch = theirs(w)
                t_old = ours(old, w) if old else None
                if t_ours is None:
                    continue
                rows.append((t_ours, t_torch, t_old, l0))
                extra = f", old {rate(w, t_old)} (new/old time {t_ours / t_old:.2f})" if t_old else ""
                print(f"{w.name} round {r + 1}: ours {rate(w, t_ours)}, torch {rate(w, t_torch)}, ours/torch time {t_ours / t_torch:.2f}{extra}; load {l0:.1f}", flush=True)
            if not rows:
                continue
            med = lambda i: statistics.median(row[i] for row in rows)
            ratio = statistics.median(row[0] / row[1] for row in rows)
            olds = [row[0] / row[2] for row in rows if row[2]]
            old_ratio = f" | new/old {statistics.median(olds):.2f}" if olds else ""
            summary.append(f"{w.name:38s} ours {rate(w, med(0))} | torch {rate(w, med(1))} | ours/torch time {ratio:.2f}{old_ratio} | load {med(3):.1f} | {len(rows)} rounds")
    print(f"\nmedians of {a.rounds} rounds (ours/torch time < 1: ours faster; load = 1-minute load average before each pair)")
    for line in summary:
        print(line)


if __name__ == "__main__":
    main()
