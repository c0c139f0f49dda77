"""What the PyTorch comparison scripts share: timing, memory, the built-in model configs of `./diffuse bench`."""
import json
import os
import resource
import statistics
import time

CONFIGS = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir,
                       "cli/src/main/resources/dev/tornadodiffusion/cli/bench/configs")


def config(name):
    """The same config.json that `./diffuse bench ... --random NAME` builds its model from."""
    with open(os.path.join(CONFIGS, name + ".json")) as f:
        return json.load(f)


def run_model(name, fn, runs, warmup):
    """Warm-up runs, then timed runs printed one by one; best and median seconds per run."""
    for i in range(warmup):
        t0 = time.perf_counter()
        fn()
        print(f"warm-up {i + 1}: {time.perf_counter() - t0:.3f} s", flush=True)
    seconds = []
    for i in range(runs):
        t0 = time.perf_counter()
        fn()
        seconds.append(time.perf_counter() - t0)
        print(f"run {i + 1}: {seconds[-1]:.3f} s", flush=True)
    print(f"{name}: best {min(seconds):.3f} s/it, median {statistics.median(seconds):.3f} s/it of {runs} runs")


def describe_weights(model):
    params = sum(p.numel() for p in model.parameters())
    size = sum(p.numel() * p.element_size() for p in model.parameters())
    return f"parameters {params:,}; weights {size:,} bytes ({size / 2 ** 30:.2f} GiB)"


def print_memory():
    """Peak resident set of the process (ru_maxrss, kB on Linux): weights, activations, libraries."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(f"memory: process peak resident set (ru_maxrss, whole process) {peak / 2 ** 30:.2f} GiB")


def setup_torch(torch, threads):
    """Sets the thread count and prints the torch version, threads and the BLAS in use."""
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    # pip wheels of torch 2.x link MKL statically (no library to find in the process maps; numpy's OpenBLAS may be there).
    blas = "MKL (linked into torch)" if torch.backends.mkl.is_available() else loaded_blas()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, BLAS {blas}")


def loaded_blas():
    """The BLAS library this process mapped (torch's matmuls go through it; convolutions through oneDNN)."""
    libs = set()
    with open("/proc/self/maps") as f:
        for line in f:
            path = line.split()[-1]
            base = os.path.basename(path)
            if "blas" in base or "mkl_core" in base:
                libs.add(os.path.realpath(path))
    return ", ".join(sorted(libs)) or "none found"
