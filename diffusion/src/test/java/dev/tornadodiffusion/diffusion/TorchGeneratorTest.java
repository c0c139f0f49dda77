package dev.tornadodiffusion.diffusion;

import dev.tornadodiffusion.tensor.DType;
import dev.tornadodiffusion.tensor.Tensor;
import dev.tornadodiffusion.weights.Safetensors;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.*;

class TorchGeneratorTest {

    /**
     * One generator, one call after another (values from torch 1.13): small randn, float64 rand, float64 randn of 16,
     * a 16-element float randn, a 100-element one (tail redraw), then randn(3) leaves a cached normal that the next
     * float64 randn(1) takes and the float randn(1) after it does not.
     */
    @Test
    void continuesTheStreamAcrossCallsDtypesAndSeeds() {
        check(new TorchGenerator(7L),
                new float[]{-0.1467950940132141f, 0.7861412763595581f, 0.9468216300010681f, -1.1143440008163452f, 1.6907901763916016f},
                new double[]{0.2947121080128837, 0.5607215973721555},
                new double[]{1.69114719244747, 1.6048022609047172, 0.27810708408248047},
                new float[]{-0.1781926155090332f, -0.25949886441230774f, -0.014487940818071365f, -0.3838909864425659f, -2.966169834136963f, -1.0605549812316895f, -0.3089962899684906f, 0.9342882037162781f, 1.6243164539337158f, 0.0015672707231715322f, -0.4375407099723816f, -2.1085333824157715f, 1.1450074911117554f, -0.38218432664871216f, -0.3552660346031189f, 0.7541925311088562f},
                new float[]{0.1947002112865448f, -1.5952866077423096f, 0.5859240293502808f},
                new float[]{-0.8948279023170471f, -0.6197077035903931f, 0.5739993453025818f},
                -0.07980325835704047, 0.9674044251441956f);
        check(new TorchGenerator((1L << 40) + 3),
                new float[]{0.8032760620117188f, 0.17483338713645935f, 0.08897809684276581f, -0.6137180328369141f, 0.04618244990706444f},
                new double[]{0.198727150264138, 0.4334155311051854},
                new double[]{0.76461273966993, -1.69883994478675, 0.609783218266872},
                new float[]{-0.4554239511489868f, 2.2124183177948f, -0.3769857585430145f, -0.14368392527103424f, 0.6480206847190857f, -2.3256072998046875f, 1.2683467864990234f, -0.2483270913362503f, 0.9577804207801819f, -1.2890100479125977f, -1.6483159065246582f, 0.829036295413971f, -0.8372728824615479f, -0.5296069979667664f, 1.3544285297393799f, 1.3777583837509155f},
                new float[]{-0.7259136438369751f, -1.0208581686019897f, 1.321792483329773f},
                new float[]{-1.3682591915130615f, -1.2311726808547974f, -0.018045790493488312f},
                -0.5318273521094856, -0.547624945640564f);
        check(new TorchGenerator(-1L),
                new float[]{1.2197630405426025f, -0.3929794728755951f, 1.0230751037597656f, -0.3734211325645447f, -0.07551019638776779f},
                new double[]{0.8231137731070367, 0.24793038336181294},
                new double[]{-0.5375138352527069, -0.0734013508253838, -0.6748202928089884},
                new float[]{-0.11028473824262619f, 1.6035761833190918f, -1.5167535543441772f, -0.5187578797340393f, -2.76936936378479f, 1.123388409614563f, -0.7222241163253784f, -0.17079287767410278f, 0.06878139823675156f, 1.9868593215942383f, 0.6261418461799622f, 0.01583375222980976f, 0.18649131059646606f, -1.7198305130004883f, 2.6164677143096924f, -0.11887799948453903f},
                new float[]{-0.37813833355903625f, -1.4013844728469849f, 1.2697967290878296f},
                new float[]{-1.2582277059555054f, -0.6673398613929749f, -1.140264630317688f},
                0.13705564571415998, 0.5018309354782104f);
    }

    private static void check(TorchGenerator g, float[] randn5, double[] rand2, double[] randn16F64First3, float[] randn4x4,
                              float[] randn100Last3, float[] randn3, double randn1F64, float randn1) {
        assertArrayEquals(randn5, g.randn(5).toFloatArray());
        assertArrayEquals(rand2, g.rand(DType.F64, 2).toDoubleArray());
        assertArrayEquals(randn16F64First3, Arrays.copyOf(g.randn(DType.F64, 16).toDoubleArray(), 3));
        assertArrayEquals(randn4x4, g.randn(4, 4).toFloatArray());
        float[] hundred = g.randn(100).toFloatArray();
        assertArrayEquals(randn100Last3, Arrays.copyOfRange(hundred, 97, 100));
        assertArrayEquals(randn3, g.randn(3).toFloatArray());
        assertEquals(randn1F64, g.randn(DType.F64, 1).toDoubleArray()[0]);
        assertEquals(randn1, g.randn(1).item());
    }

    @Test
    void seedsUseTheirLow32BitsAndManualSeedDropsTheCachedNormal() {
        assertArrayEquals(new TorchGenerator(5).randn(3, 7).toFloatArray(), new TorchGenerator((1L << 32) + 5).randn(3, 7).toFloatArray());
        TorchGenerator g = new TorchGenerator(11);
        float[] first = g.randn(1).toFloatArray();  // caches the sine half
        g.manualSeed(11);
        assertArrayEquals(first, g.randn(1).toFloatArray());
        assertEquals(11, g.initialSeed());
    }

    @Test
    void random64IsTwo32BitDrawsHighFirst() {
        TorchGenerator a = new TorchGenerator(3), b = new TorchGenerator(3);
        long hi = a.random(), lo = a.random();
        assertEquals((hi << 32) | lo, b.random64());
        assertTrue(hi >= 0 && hi <= 0xffffffffL);
    }

    @Test
    void mt19937MatchesTheReferenceSequence() {
        // std::mt19937 seeded 5489: the 10000th output is 4123659995 (C++ standard, [rand.predef])
        TorchGenerator g = new TorchGenerator(5489);
        long v = 0;
        for (int i = 0; i < 10000; i++) v = g.random();
        assertEquals(4123659995L, v);
    }

    @Test
    void rejectsUnsupportedDtypes() {
        assertThrows(IllegalArgumentException.class, () -> new TorchGenerator(0).randn(DType.F16, 4));
    }

    @Test
    void shapesAreKept() {
        Tensor t = new TorchGenerator(0).randn(2, 3, 4);
        assertArrayEquals(new int[]{2, 3, 4}, t.shape());
        assertEquals(DType.F32, t.dtype());
    }
}
