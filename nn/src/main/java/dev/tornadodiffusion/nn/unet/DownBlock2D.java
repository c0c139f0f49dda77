package dev.tornadodiffusion.nn.unet;

import dev.tornadodiffusion.nn.Downsample2D;
import dev.tornadodiffusion.nn.Params;
import dev.tornadodiffusion.nn.ResnetBlock2D;
import dev.tornadodiffusion.tensor.Tensor;

import java.util.ArrayList;
import java.util.List;

/** diffusers' {@code DownBlock2D} (unets/unet_2d_blocks.py): resnets, then an optional stride-2 downsampler. */
public final class DownBlock2D implements DownBlock {
    public final List<ResnetBlock2D> resnets = new ArrayList<>();
    public final Downsample2D downsampler;

    public DownBlock2D(Params p, UNetBlockConfig c) {
        int out = c.out_channels();
        for (int i = 0; i < c.num_layers(); i++)
            resnets.add(new ResnetBlock2D(p.child("resnets").child(i), i == 0 ? c.in_channels() : out, out,
                    c.temb_channels(), c.resnet_groups(), c.resnet_eps(), 1f));
        this.downsampler = c.add_downsample() ? new Downsample2D(p.child("downsamplers").child(0), out, out, c.downsample_padding()) : null;
    }

    @Override
    public Tensor forward(Tensor hidden, Tensor temb, Tensor encoderHiddenStates, List<Tensor> outputStates) {
        for (ResnetBlock2D resnet : resnets) {
            hidden = resnet.forward(hidden, temb);
            outputStates.add(hidden);
        }
        if (downsampler != null) {
            hidden = downsampler.forward(hidden);
            outputStates.add(hidden);
        }
        return hidden;
    }
}
