"""PyTorch timing of TLD's Denoiser forward (tld/denoiser.py) with random weights, for `./diffuse bench tld`.

    PYTHONPATH= python3 bench/torch_tld.py [--model tld-100m | --config FILE] [--batch 72] [--runs 15] [--warmup 1]
        [--device cpu|cuda] [--dtype fp32|fp16] [--threads 2]

The model is built from the same config as `./diffuse bench tld --random NAME` (or a folder's config.json), with the
same inputs: x [B, C, S, S], noise level 0.5 [B, 1], label [B, text_emb_size]. 36 images sampled with
classifier-free guidance are one call at batch 72 per step. Needs torch, einops and TLD's source (the folder holding
the `tld` package, commit 84a75ef) in $TLD_SRC.
"""
import argparse
import os
import sys

import common


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="tld-100m")
    ap.add_argument("--config", help="a TLD config.json (Denoiser constructor arguments) instead of --model")
    ap.add_argument("--batch", type=int, default=72)
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    common.add_device_args(ap)
    a = ap.parse_args()

    src = os.environ.get("TLD_SRC", "/tmp/td-tld")
    if not os.path.isfile(os.path.join(src, "tld", "denoiser.py")):
        sys.exit(f"TLD source not found at {src}: set TLD_SRC to the folder that holds tld/denoiser.py")
    sys.path.insert(0, src)
    import torch
    from tld.denoiser import Denoiser

    sync = common.setup_torch(torch, a.threads, a.device)
    dt = common.torch_dtype(torch, a.dtype)
    config = common.read_json(a.config) if a.config else common.config(a.model)
    args = {k: config[k] for k in ("image_size", "noise_embed_dims", "patch_size", "embed_dim", "dropout", "n_layers",
                                   "text_emb_size", "mlp_multiplier", "n_channels") if k in config}
    model = Denoiser(**args).eval().to(a.device, dt)
    print(f"tld {a.config or a.model} (random {a.dtype} weights on {a.device})")
    print(common.describe_weights(model))
    b, s = a.batch, args["image_size"]
    x = torch.randn(b, args.get("n_channels", 4), s, s, device=a.device, dtype=dt)
    noise = torch.full((b, 1), 0.5, device=a.device, dtype=dt)
    label = torch.randn(b, args.get("text_emb_size", 768), device=a.device, dtype=dt)
    print(f"x {list(x.shape)}, label {list(label.shape)}")
    with torch.inference_mode():
        common.run_model("tld", lambda: model(x, noise, label), a.runs, a.warmup, sync)
    common.print_memory()


if __name__ == "__main__":
    main()
