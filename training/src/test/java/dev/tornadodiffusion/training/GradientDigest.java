package dev.tornadodiffusion.training;

import java.io.IOException;
import java.util.Arrays;

/** Prints a digest of every gradient of one tiny-sd training loss ({@link TinySdTrainingTest#loss}): run in JVMs with other thread counts. */
public final class GradientDigest {
    private GradientDigest() {}

    public static void main(String[] args) throws IOException {
        System.out.println(digest());
    }

    static String digest() throws IOException {
        var m = TinySdTrainingTest.load();
        m.tape().backward(TinySdTrainingTest.loss(m));
        int h = 1;
        for (Parameters p : m.params())
            for (var e : p.tensors().entrySet()) {
                float[] g = m.tape().grad(e.getValue()).array();
                int[] bits = new int[g.length];
                for (int i = 0; i < g.length; i++) bits[i] = Float.floatToRawIntBits(g[i]);
                h = 31 * h + Arrays.hashCode(bits);
            }
        return Integer.toHexString(h);
    }
}
