package dev.tornadodiffusion.diffusion.schedulers;

import dev.tornadodiffusion.diffusion.TorchGenerator;
import dev.tornadodiffusion.tensor.DType;
import dev.tornadodiffusion.tensor.Tensor;
import org.junit.jupiter.api.Test;

import static dev.tornadodiffusion.diffusion.schedulers.ReferenceRun.*;
import static org.junit.jupiter.api.Assertions.*;

/**
 * PNDMScheduler against diffusers 0.27.2: every run follows the {@link ReferenceRun} recipe and must reproduce
 * diffusers' timesteps exactly and its samples bit for bit (the PLMS of Stable Diffusion configs, the Runge-Kutta
 * warm-up, v-prediction, set_alpha_to_one, the three timestep spacings).
 */
class PNDMSchedulerTest {
    /** runwayml/stable-diffusion-v1-5 scheduler/scheduler_config.json, verbatim. */
    static final String SD15 = """
            {
              "_class_name": "PNDMScheduler",
              "_diffusers_version": "0.6.0",
              "beta_end": 0.012,
              "beta_schedule": "scaled_linear",
              "beta_start": 0.00085,
              "num_train_timesteps": 1000,
              "set_alpha_to_one": false,
              "skip_prk_steps": true,
              "steps_offset": 1,
              "trained_betas": null,
              "clip_sample": false
            }""";

    private static Scheduler pndm(String base, String overrides) {
        return Scheduler.fromConfig("PNDMScheduler", config(base, overrides));
    }

    @Test
    void plmsWithTheStableDiffusionConfig() {
        check(pndm(SD15, "{}"), 4,
                ints(751, 501, 501, 251, 1),
                new float[]{-2.1493611f, -3.247066f, -1.392851f, 0.584145f,
                1.5838081f, 2.7004693f, -1.0405446f, -10.494217f,
                0.6512569f, -6.753943f, 5.438208f, 4.202442f,
                -2.4637394f, 5.869239f, 8.730951f, -0.09486486f},
                new double[]{5.058897793292999, 2.9954988956451416, -1.8536954522132874,
                2.0513316690921783, 2.1239327639341354});
        check(pndm(SD15, "{}"), 20,
                ints(951, 901, 901, 851, 801, 751, 701, 651, 601, 551, 501, 451, 401, 351, 301, 251, 201, 151, 101, 51,
                1),
                new float[]{-14.895364f, -10.048178f, -4.8606277f, -2.9097335f,
                7.3779635f, 8.303467f, -6.250064f, -24.577099f,
                1.220973f, -15.225764f, 9.749719f, 5.3790855f,
                -3.5138123f, 17.782991f, 13.159874f, -0.5093069f},
                new double[]{-0.2813009172677994, -0.7739654928445816, -3.460062801837921,
                -2.6322795897722244, -1.8310782611370087, -4.04923290014267,
                -3.564502775669098, -7.662959039211273, -5.104178488254547,
                -10.467443645000458, -8.397461175918579, -13.40931248664856,
                -10.649564862251282, -17.32559633255005, -14.563285052776337,
                -17.26277446746826, -17.84743994474411, -18.14020812511444,
                -18.966848492622375, -19.831552863121033, -19.815876007080078});
        check(pndm(SD15, "{}"), 50,
                ints(981, 961, 961, 941, 921, 901, 881, 861, 841, 821, 801, 781, 761, 741, 721, 701, 681, 661, 641, 621,
                601, 581, 561, 541, 521, 501, 481, 461, 441, 421, 401, 381, 361, 341, 321, 301, 281, 261, 241, 221,
                201, 181, 161, 141, 121, 101, 81, 61, 41, 21, 1),
                new float[]{-17.510584f, -13.351113f, -6.978581f, -4.7504506f,
                9.863326f, 10.882772f, -7.271661f, -27.878954f,
                1.2637163f, -18.303469f, 7.9408455f, 3.776351f,
                -0.07118736f, 17.149343f, 15.560758f, -2.252539f},
                null);
    }

    @Test
    void plmsVPrediction() {
        check(pndm(SD15, "{\"prediction_type\": \"v_prediction\"}"), 4,
                ints(751, 501, 501, 251, 1),
                new float[]{0.8147761f, -1.1122178f, -0.17455055f, 0.24712388f,
                -0.1809927f, 0.15106069f, -1.1691195f, -3.4886007f,
                0.08778464f, -1.8379085f, 0.8415765f, 1.1054991f,
                -0.9480918f, 1.378089f, 4.512079f, 0.40671256f},
                null);
        check(pndm(SD15, "{\"prediction_type\": \"v_prediction\"}"), 20,
                ints(951, 901, 901, 851, 801, 751, 701, 651, 601, 551, 501, 451, 401, 351, 301, 251, 201, 151, 101, 51,
                1),
                new float[]{-1.5317018f, -1.0607766f, -0.80530006f, -1.3129616f,
                0.5457505f, 0.18967852f, -0.8109559f, -2.0657835f,
                0.07622883f, -1.3339735f, 0.74799013f, 0.32922563f,
                -0.34079248f, 2.0918205f, 1.1761016f, 0.17082816f},
                null);
    }

    @Test
    void rungeKuttaWarmUp() {
        check(pndm("{}", "{\"skip_prk_steps\": false}"), 4,
                ints(750, 625, 625, 500, 500, 375, 375, 250, 250, 125, 125, 0, 0),
                new float[]{-19.818623f, -13.793427f, -7.7504873f, -0.41804224f,
                8.579724f, 12.753254f, -4.376321f, -39.556076f,
                -0.020924836f, -25.50002f, 20.269773f, 13.227973f,
                -9.388146f, 27.159487f, 23.822714f, -1.2097511f},
                null);
        check(pndm("{}", "{\"skip_prk_steps\": false}"), 9,
                ints(888, 832, 832, 777, 777, 721, 721, 666, 666, 610, 610, 555, 555, 444, 333, 222, 111, 0),
                new float[]{-61.530262f, -56.715633f, -25.855053f, -1.9074092f,
                26.634678f, 37.204697f, -13.632971f, -125.99538f,
                -2.1445353f, -90.12235f, 59.932594f, 37.354717f,
                -0.88704133f, 87.87087f, 75.87363f, -13.629472f},
                new double[]{1.286316692829132, -0.6235576570034027, -10.07519382238388,
                -2.8460794389247894, -1.4643751382827759, -3.2667163610458374,
                -4.9716861844062805, -5.475229382514954, -7.321666896343231,
                -10.71962583065033, -9.848248481750488, -13.766601473093033,
                -14.769279479980469, -45.825429916381836, -46.984575629234314,
                -63.953200340270996, -67.54892063140869, -67.54892063140869});
        check(pndm("{}", "{\"skip_prk_steps\": false}"), 20,
                ints(950, 925, 925, 900, 900, 875, 875, 850, 850, 825, 825, 800, 800, 750, 700, 650, 600, 550, 500, 450,
                400, 350, 300, 250, 200, 150, 100, 50, 0),
                new float[]{-111.808754f, -123.36223f, -51.14782f, -6.158933f,
                54.497948f, 57.48352f, -31.063473f, -228.86098f,
                -5.471468f, -175.45284f, 89.20546f, 60.028206f,
                38.63462f, 165.11081f, 133.37863f, -47.07265f},
                null);
        check(pndm("{}", "{\"skip_prk_steps\": false}"), 50,
                ints(980, 970, 970, 960, 960, 950, 950, 940, 940, 930, 930, 920, 920, 900, 880, 860, 840, 820, 800, 780,
                760, 740, 720, 700, 680, 660, 640, 620, 600, 580, 560, 540, 520, 500, 480, 460, 440, 420, 400, 380,
                360, 340, 320, 300, 280, 260, 240, 220, 200, 180, 160, 140, 120, 100, 80, 60, 40, 20, 0),
                new float[]{-150.50119f, -173.8694f, -70.82118f, -19.435856f,
                78.466576f, 63.802975f, -52.34664f, -292.8685f,
                4.7024994f, -235.00702f, 92.44638f, 66.116425f,
                64.69895f, 209.7234f, 178.28056f, -59.29452f},
                null);
    }

    @Test
    void rungeKuttaWithVPredictionAndAlphaToOne() {
        check(pndm(SD15, "{\"skip_prk_steps\": false, \"prediction_type\": \"v_prediction\","
                        + " \"set_alpha_to_one\": true}"), 20,
                ints(951, 926, 926, 901, 901, 876, 876, 851, 851, 826, 826, 801, 801, 751, 701, 651, 601, 551, 501, 451,
                401, 351, 301, 251, 201, 151, 101, 51, 1),
                new float[]{-1.4519116f, -1.2058625f, -0.87239045f, -0.0434556f,
                1.2341119f, 0.09173197f, -0.97003627f, -1.7779162f,
                -0.24715948f, -2.1219144f, 0.59568256f, 0.40522105f,
                0.92560434f, 1.6428158f, 1.161957f, 0.9922894f},
                null);
    }

    @Test
    void rungeKuttaWithLinspaceSpacing() {
        check(pndm("{}", "{\"skip_prk_steps\": false, \"timestep_spacing\": \"linspace\"}"), 10,
                ints(999, 938, 938, 888, 888, 827, 827, 777, 777, 716, 716, 666, 666, 555, 444, 333, 222, 111, 0),
                new float[]{-147.59064f, -126.08722f, -62.155018f, -2.8508744f,
                68.44443f, 93.21666f, -33.08092f, -302.38373f,
                -7.5938663f, -203.83586f, 145.2466f, 90.91608f,
                -17.029915f, 209.66043f, 179.30917f, -29.546076f},
                null);
    }

    @Test
    void trailingSpacingVPrediction() {
        check(pndm(SD15, "{\"timestep_spacing\": \"trailing\", \"prediction_type\": \"v_prediction\"}"), 1,
                ints(999),
                new float[]{1.4087849f, 0.6345196f, 0.62648916f, 1.5596185f,
                0.18229103f, 0.67364407f, 0.9443655f, 1.3955975f,
                0.74012876f, -0.42523384f, 0.8076854f, 0.28025007f,
                0.23287868f, -1.5586529f, -0.118652344f, -0.48948145f},
                null);
        check(pndm(SD15, "{\"timestep_spacing\": \"trailing\", \"prediction_type\": \"v_prediction\"}"), 7,
                ints(999, 856, 856, 713, 570, 428, 285, 142),
                new float[]{-1.4479644f, 0.053955078f, -0.6767605f, -1.5365372f,
                1.669008f, 0.17972904f, -1.4806432f, -1.0113146f,
                -1.4944756f, -0.44882655f, 0.9833156f, -1.5608292f,
                1.0442669f, -0.15781093f, 0.07880318f, -1.6063224f},
                null);
    }

    /**
     * StableDiffusionImg2ImgPipeline with strength 0.45 of 10 steps: PNDM has no begin index, so the run starts its
     * history at the tail {@code timesteps[5:]}; latents = add_noise(randn(2,4,2,2) seed 1, randn seed 2, first
     * timestep), then each step's model output is randn(2,4,2,2) from one generator seeded 3.
     */
    @Test
    void img2imgRunsTheTailWithAFreshHistory() {
        Scheduler s = Scheduler.fromConfig(config(SD15, "{}"));
        s.setTimesteps(10);
        Tensor ts = s.img2imgTimesteps(10, 0.45);
        assertArrayEquals(new long[]{401, 301, 201, 101, 1}, ts.toLongArray());
        Tensor start = Tensor.ofLongs(new long[]{ts.getLongFlat(0), ts.getLongFlat(0)}, 2);
        Tensor original = new TorchGenerator(1).randn(2, 4, 2, 2), noise = new TorchGenerator(2).randn(2, 4, 2, 2);
        Tensor latents = s.addNoise(original, noise, start);
        assertArrayEquals(new float[]{-1.782764f, 0.20845821f, -1.416051f, -1.8896413f,
                -0.9910234f, 0.49084902f, -1.4404224f, -1.1366647f,
                -1.1527736f, 0.45976794f, -0.9395151f, -0.34212798f,
                0.6209198f, 0.52516687f, -0.022384793f, -0.024604142f,
                -1.5981885f, -1.1031963f, -0.18930426f, 0.52951396f,
                0.5856807f, 0.12107308f, 0.37803513f, 1.1980944f,
                1.0689225f, -0.49321276f, -1.3623754f, 1.1584339f,
                0.14648649f, 0.4484477f, -0.2795033f, 1.2459613f}, latents.toFloatArray());
        TorchGenerator g = new TorchGenerator(3);
        for (int i = 0; i < ts.numel(); i++)
            latents = s.step(g.randn(2, 4, 2, 2), ts.getLongFlat(i), latents, null).prevSample();
        assertArrayEquals(new float[]{-2.0675123f, 0.57588893f, -1.5375837f, -2.4484246f,
                -1.7935121f, 0.30449814f, -2.1631494f, -1.1261109f,
                -1.286231f, -0.2145023f, -1.8762317f, -0.9544257f,
                1.5109555f, -0.067481935f, 0.43240356f, 0.21719849f,
                -1.9051853f, -2.288322f, -0.4852955f, 0.971991f,
                -0.64811105f, 0.6914484f, 0.6886632f, 3.1409893f,
                1.5126985f, -0.83282053f, -1.9610727f, 1.3707016f,
                0.24024425f, -0.6822433f, -0.53731024f, 1.322873f}, latents.toFloatArray());
    }

    @Test
    void noInputScalingAndInt64Timesteps() {
        Scheduler s = Scheduler.fromConfig(config(SD15, "{}"));
        assertInstanceOf(PNDMScheduler.class, s);
        assertEquals(1, s.order());
        s.setTimesteps(3);
        assertEquals(DType.I64, s.timesteps().dtype());
        assertArrayEquals(new long[]{667, 334, 334, 1}, s.timesteps().toLongArray());
        assertEquals(1f, s.initNoiseSigma());
        Tensor x = new TorchGenerator(0).randn(1, 4, 2, 2);
        assertSame(x, s.scaleModelInput(x, 667));
        assertNull(s.step(x, 667, x, null).predOriginalSample());
    }

    @Test
    void badSettingsAreOneLineErrors() {
        Scheduler prk = Scheduler.fromConfig(config(SD15, "{\"skip_prk_steps\": false}"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> prk.setTimesteps(3));
        assertTrue(e.getMessage().contains("skip_prk_steps") && e.getMessage().contains("at least 4"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> pndm(SD15, "{\"prediction_type\": \"sample\"}"));
        assertTrue(e.getMessage().contains("'prediction_type' must be one of epsilon, v_prediction"), e.getMessage());
        Scheduler s = Scheduler.fromConfig(config(SD15, "{}"));
        Tensor x = Tensor.zeros(1, 4, 2, 2);
        assertThrows(IllegalStateException.class, () -> s.step(x, 1, x, null));
        s.setTimesteps(4);
        assertThrows(IllegalArgumentException.class, () -> s.step(x, 750.5, x, null));
    }
}
