"""PyTorch CPU timing of one diffusers AutoencoderKL decode with random weights, for `./diffuse bench vae`.

    /usr/bin/python3 bench/torch_vae.py [--model sd|sdxl] [--size 256] [--batch 1] [--runs 3] [--threads 2]

Built from the same config.json as `./diffuse bench vae --random NAME`; decodes a latent [B, 4, size/8, size/8]
(post_quant_conv and decoder, as AutoencoderKL.decode). Needs torch and the diffusers v0.27.2 source (bench/README.md).
"""
import argparse

import common
import diffusers_src


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="sd", choices=["sd", "sdxl"])
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()

    diffusers_src.setup()
    import torch
    from diffusers.models.autoencoders.autoencoder_kl import AutoencoderKL

    common.setup_torch(torch, a.threads)
    config = common.config("vae-" + a.model)
    vae = AutoencoderKL.from_config(config).eval()
    print(f"vae {a.model} (random float32 weights)")
    print(common.describe_weights(vae))
    down = 2 ** (len(config["block_out_channels"]) - 1)
    z = torch.randn(a.batch, config["latent_channels"], a.size // down, a.size // down)
    print(f"decode latent {list(z.shape)} -> {a.size}x{a.size}")
    with torch.inference_mode():
        common.run_model("vae", lambda: vae.decode(z).sample, a.runs, a.warmup)
    common.print_memory()


if __name__ == "__main__":
    main()
