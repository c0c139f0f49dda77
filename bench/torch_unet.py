"""PyTorch timing of one diffusers UNet2DConditionModel forward with random weights, for `./diffuse bench unet`.

    PYTHONPATH= /usr/bin/python3 bench/torch_unet.py [--model sd15|sd21|sdxl] [--latent 32] [--batch 2] [--runs 3] [--threads 2]
        [--device cpu|cuda] [--dtype fp32|fp16] [--config FILE]

The model is built from the same config.json as `./diffuse bench unet --random NAME` (diffusers' default weight
initialisation), with the same input shapes: sample [B, 4, N, N], timestep 500, text [B, 77, cross_attention_dim],
and for SDXL text_embeds [B, 1280] and time_ids [B, 6]. Needs torch and the diffusers v0.27.2 source (bench/README.md).
"""
import argparse

import common
import diffusers_src


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="sd15", choices=["sd15", "sd21", "sdxl"])
    ap.add_argument("--config", help="a UNet config.json (e.g. a diffusers folder's) instead of --model")
    ap.add_argument("--latent", type=int, default=32)
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    common.add_device_args(ap)
    a = ap.parse_args()

    diffusers_src.setup()
    import torch
    from diffusers.models.unets.unet_2d_condition import UNet2DConditionModel

    sync = common.setup_torch(torch, a.threads, a.device)
    dt = common.torch_dtype(torch, a.dtype)
    config = common.read_json(a.config) if a.config else common.config("unet-" + a.model)
    unet = UNet2DConditionModel.from_config(config).eval().to(a.device, dt)
    print(f"unet {a.config or a.model} (random {a.dtype} weights on {a.device}), attention processor {type(unet.attn_processors[next(iter(unet.attn_processors))]).__name__}")
    print(common.describe_weights(unet))

    b, n = a.batch, a.latent
    sample = torch.randn(b, config["in_channels"], n, n, device=a.device, dtype=dt)
    context = torch.randn(b, 77, config["cross_attention_dim"], device=a.device, dtype=dt)
    kwargs = {}
    if config.get("addition_embed_type") == "text_time":
        pooled = config["projection_class_embeddings_input_dim"] - 6 * config["addition_time_embed_dim"]
        kwargs["added_cond_kwargs"] = {"text_embeds": torch.randn(b, pooled, device=a.device, dtype=dt),
                                       "time_ids": torch.tensor([[8.0 * n, 8.0 * n, 0, 0, 8.0 * n, 8.0 * n]] * b, device=a.device, dtype=dt)}
    print(f"sample {list(sample.shape)}, text {list(context.shape)}")
    with torch.inference_mode():
        common.run_model("unet", lambda: unet(sample, 500, context, **kwargs), a.runs, a.warmup, sync)
    common.print_memory()


if __name__ == "__main__":
    main()
