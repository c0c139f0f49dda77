"""The GPU's measured ceilings, to set kernel rates against: matrix products through PyTorch (float32 with TF32 off,
TF32, float16) and a device-to-device copy (bytes read plus written). CUDA only; medians of timed repeats after
warm-ups, CUDA events. Prints one line per ceiling, `peak NAME VALUE UNIT`, and the card.

    python3 bench/torch_peak.py [--size 8192]
"""
import argparse
import statistics

import torch


def timed(fn, repeat=10, warmup=3):
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    ms = []
    for _ in range(repeat):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        end.synchronize()
        ms.append(start.elapsed_time(end))
    return statistics.median(ms) / 1e3


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--size", type=int, default=8192)
    a = ap.parse_args()
    if not torch.cuda.is_available():
        raise SystemExit("torch_peak.py: no CUDA device")
    p = torch.cuda.get_device_properties(0)
    print(f"card {p.name}, {p.multi_processor_count} SMs, {p.total_memory / 2 ** 30:.1f} GiB, torch {torch.__version__}")
    n = a.size
    for name, dt, tf32 in (("fp32", torch.float32, False), ("tf32", torch.float32, True), ("fp16", torch.float16, False)):
        torch.backends.cuda.matmul.allow_tf32 = tf32
        x, y = torch.randn(n, n, device="cuda", dtype=dt), torch.randn(n, n, device="cuda", dtype=dt)
        s = timed(lambda: x @ y)
        print(f"peak matmul_{name} {2 * n ** 3 / s / 1e9:.0f} GFLOP/s")
    torch.backends.cuda.matmul.allow_tf32 = False
    src = torch.empty(1 << 30, dtype=torch.uint8, device="cuda").random_(0, 255)
    dst = torch.empty_like(src)
    s = timed(lambda: dst.copy_(src))
    print(f"peak copy {2 * src.numel() / s / 1e9:.0f} GB/s")


if __name__ == "__main__":
    main()
