package dev.tornadodiffusion.diffusion.schedulers;

import dev.tornadodiffusion.diffusion.TorchGenerator;
import dev.tornadodiffusion.tensor.Tensor;
import org.junit.jupiter.api.Test;

import static dev.tornadodiffusion.diffusion.schedulers.ReferenceRun.*;
import static org.junit.jupiter.api.Assertions.*;

/**
 * Pipeline-level behaviour outside the trajectory fixtures (add_noise, img2img starts, SDXL denoising_start/end,
 * LCM strength, DDIM eta), against values diffusers 0.27.2 on torch 1.13 produced for the same inputs:
 * x = randn(2,4,2,2) seed 1, noise seed 2, model output seed 3.
 */
class SchedulerBehaviourTest {
    private static final String SD = """
            {"num_train_timesteps": 1000, "beta_start": 0.00085, "beta_end": 0.012, "beta_schedule": "scaled_linear",
             "steps_offset": 1, "set_alpha_to_one": false, "clip_sample": false}""";

    private static Scheduler scheduler(String className) {
        return Scheduler.fromConfig(className, SchedulerConfig.parse(SD, "test config"));
    }

    private static Tensor randn(long seed) {
        return new TorchGenerator(seed).randn(2, 4, 2, 2);
    }

    private static void assertValues(float[] expected, Tensor actual) {
        assertArrayEquals(expected, actual.toFloatArray());
    }

    @Test
    void ddpmAddNoiseUsesEachBatchElementsTimestep() {
        Tensor noisy = scheduler("DDPMScheduler").addNoise(randn(1), randn(2), Tensor.ofLongs(new long[]{999, 10}, 2));
        assertValues(new float[]{-1.1425179243087769f, 0.8632514476776123f, -1.3457920551300049f, -1.2169610261917114f,
                -1.2227728366851807f, 1.123282551765442f, -1.121809482574463f, -0.22840693593025208f,
                -0.9543365836143494f, 0.36515045166015625f, -0.623064398765564f, -0.25172603130340576f,
                0.9900814890861511f, -0.6359545588493347f, -0.20888091623783112f, -0.399753600358963f,
                -0.8410581946372986f, -1.200050950050354f, 0.6132363080978394f, 0.2496391385793686f,
                0.8644670844078064f, 0.23835663497447968f, -0.5555465221405029f, 0.8901083469390869f,
                1.1417872905731201f, -0.22386835515499115f, -2.2221829891204834f, -1.169238567352295f,
                0.0746033564209938f, -0.5053117275238037f, -0.7634065747261047f, 0.04046408832073212f}, noisy);
    }

    @Test
    void eulerAddNoiseLooksUpTheSigmaOfTheTimestep() {
        Scheduler s = scheduler("EulerDiscreteScheduler");
        s.setTimesteps(10);
        Tensor t = s.timesteps().narrow(0, 3, 1);
        Tensor noisy = s.addNoise(randn(1), randn(2), Tensor.of(new float[]{t.getFlat(0), t.getFlat(0)}, 2));
        assertValues(new float[]{-4.562974452972412f, 1.9247016906738281f, -4.460010528564453f, -4.8478684425354f,
                -3.656937599182129f, 2.798205852508545f, -4.065568447113037f, -1.9559061527252197f,
                -3.3615012168884277f, 1.3111869096755981f, -2.4446425437927246f, -0.9375755786895752f,
                2.7182321548461914f, -0.5100268125534058f, -0.4281918704509735f, -0.7950756549835205f,
                -5.095282554626465f, -2.498983383178711f, -1.775184988975525f, 1.7358754873275757f,
                0.9529970288276672f, 0.09896114468574524f, 2.4453141689300537f, 3.393036365509033f,
                2.45582914352417f, -1.6310992240905762f, -1.869493842124939f, 6.617022514343262f,
                0.47110891342163086f, 2.6481387615203857f, 0.12187302112579346f, 4.983519077301025f}, noisy);
    }

    @Test
    void dpmAddNoiseScalesByAlphaAndSigma() {
        Scheduler s = scheduler("DPMSolverMultistepScheduler");
        s.setTimesteps(10);
        Tensor noisy = s.addNoise(randn(1), randn(2), s.timesteps().narrow(0, 2, 1));
        assertValues(new float[]{-1.3154878616333008f, 0.7547063827514648f, -1.4058326482772827f, -1.3992507457733154f,
                -1.2152153253555298f, 1.028184175491333f, -1.2264997959136963f, -0.42693859338760376f,
                -1.0281405448913574f, 0.39731693267822266f, -0.7105206251144409f, -0.27919071912765503f,
                0.9458216428756714f, -0.41337040066719055f, -0.17672105133533478f, -0.33437472581863403f,
                -1.6132673025131226f, -0.6738163232803345f, -0.6971667408943176f, 0.555112898349762f,
                0.19631195068359375f, -0.0017666593194007874f, 0.9172333478927612f, 1.0250998735427856f,
                0.6677771210670471f, -0.5232023000717163f, -0.30663377046585083f, 2.432229995727539f,
                0.14963360130786896f, 0.9789536595344543f, 0.15539774298667908f, 1.6944854259490967f}, noisy);
    }

    @Test
    void eulerImg2imgStartsAtTheBeginIndex() {
        Scheduler s = scheduler("EulerDiscreteScheduler");
        s.setTimesteps(10);
        Tensor ts = s.img2imgTimesteps(10, 0.45);
        assertValues(new float[]{333.0f, 222.0f, 111.0f, 0.0f}, ts);
        Tensor latents = s.addNoise(randn(1), randn(2), Tensor.of(new float[]{ts.getFlat(0), ts.getFlat(0)}, 2));
        TorchGenerator g = new TorchGenerator(4);
        for (int i = 0; i < 2; i++) {
            double t = Scheduler.exactValue(ts, i);
            s.scaleModelInput(latents, t);
            latents = s.step(randn(3), t, latents, g).prevSample();
        }
        assertValues(new float[]{-2.4527909755706787f, -0.09849341958761215f, -1.4291309118270874f, -2.684422731399536f,
                -1.61127507686615f, 0.6410835981369019f, -2.8791446685791016f, -0.8198331594467163f,
                -1.5294440984725952f, 0.7980712652206421f, -1.450082540512085f, -0.3452035188674927f,
                0.20243503153324127f, 0.8699710369110107f, -0.30490976572036743f, -0.1704687774181366f,
                -2.2495784759521484f, -2.1131792068481445f, 0.19890406727790833f, 1.621109127998352f,
                0.30394208431243896f, -0.09641970694065094f, 0.4241531789302826f, 1.6035170555114746f,
                1.2165189981460571f, -1.9128611087799072f, -3.179112195968628f, 1.8034636974334717f,
                -0.37039902806282043f, 0.166819229722023f, -1.877557635307312f, 1.58534836769104f}, latents);
    }

    @Test
    void heunImg2imgStartsMidPairAtTheBeginIndex() {
        Scheduler s = scheduler("HeunDiscreteScheduler");
        s.setTimesteps(10);
        Tensor ts = s.img2imgTimesteps(10, 0.45);
        assertValues(new float[]{333.0f, 222.0f, 222.0f, 111.0f, 111.0f, 0.0f, 0.0f}, ts);
        Tensor latents = s.addNoise(randn(1), randn(2), Tensor.of(new float[]{ts.getFlat(0), ts.getFlat(0)}, 2));
        for (int i = 0; i < 3; i++) {
            double t = Scheduler.exactValue(ts, i);
            s.scaleModelInput(latents, t);
            latents = s.step(randn(3), t, latents, null).prevSample();
        }
        assertValues(new float[]{-2.4527909755706787f, -0.09849341958761215f, -1.429131031036377f, -2.684422731399536f,
                -1.61127507686615f, 0.6410835385322571f, -2.8791446685791016f, -0.8198331594467163f,
                -1.5294440984725952f, 0.7980712652206421f, -1.4500826597213745f, -0.3452035188674927f,
                0.20243503153324127f, 0.8699710369110107f, -0.30490976572036743f, -0.1704687774181366f,
                -2.2495784759521484f, -2.1131792068481445f, 0.19890406727790833f, 1.6211090087890625f,
                0.30394208431243896f, -0.09641970694065094f, 0.4241531789302826f, 1.603516936302185f,
                1.2165189981460571f, -1.9128609895706177f, -3.179111957550049f, 1.8034636974334717f,
                -0.37039902806282043f, 0.166819229722023f, -1.877557635307312f, 1.58534836769104f}, latents);
    }

    @Test
    void sdxlDenoisingStartAndEndCuts() {
        Scheduler heun = scheduler("HeunDiscreteScheduler");
        heun.setTimesteps(10);
        assertValues(new float[]{444.0f, 333.0f, 333.0f, 222.0f, 222.0f, 111.0f, 111.0f, 0.0f, 0.0f}, heun.img2imgTimestepsXL(10, 0.3, 0.6));
        assertValues(new float[]{222.0f, 111.0f, 111.0f, 0.0f, 0.0f}, heun.img2imgTimestepsXL(10, 0.3, Double.NaN));
        assertValues(new float[]{999.0f, 888.0f, 888.0f, 777.0f, 777.0f, 666.0f, 666.0f, 555.0f, 555.0f, 444.0f, 444.0f, 333.0f,
                333.0f, 222.0f, 222.0f}, heun.denoisingEndTimesteps(heun.timesteps(), 0.8));
        Scheduler euler = scheduler("EulerDiscreteScheduler");
        euler.setTimesteps(10);
        assertValues(new float[]{333.0f, 222.0f, 111.0f, 0.0f}, euler.img2imgTimestepsXL(10, 0.3, 0.6));
        assertValues(new float[]{222.0f, 111.0f, 0.0f}, euler.img2imgTimestepsXL(10, 0.3, Double.NaN));
        assertValues(new float[]{999.0f, 888.0f, 777.0f, 666.0f, 555.0f, 444.0f, 333.0f, 222.0f}, euler.denoisingEndTimesteps(euler.timesteps(), 0.8));
    }

    @Test
    void lcmStrengthShortensTheDistillationSchedule() {
        LCMScheduler s = (LCMScheduler) scheduler("LCMScheduler");
        s.setTimesteps(4, 0.5);
        assertArrayEquals(new long[]{499, 379, 259, 139}, s.timesteps().toLongArray());
    }

    @Test
    void ddimEtaDrawsNoise() {
        DDIMScheduler s = (DDIMScheduler) scheduler("DDIMScheduler");
        s.setTimesteps(5);
        s.setEta(1.0);
        TorchGenerator g = new TorchGenerator(5);
        Tensor latents = randn(1);
        for (int i = 0; i < 2; i++) latents = s.step(randn(3), s.timestep(i), latents, g).prevSample();
        assertValues(new float[]{-2.6132142543792725f, -3.6977877616882324f, -0.4447968006134033f, -8.131952285766602f,
                1.0993404388427734f, -1.1591887474060059f, -9.015682220458984f, -2.931295394897461f,
                -1.8026007413864136f, 2.749678611755371f, -5.02903938293457f, -2.061189651489258f,
                -4.07371711730957f, 4.272525787353516f, -2.515047073364258f, -2.1352624893188477f,
                0.8840055465698242f, -5.567266464233398f, 4.015203475952148f, 6.3404693603515625f,
                -1.0659606456756592f, -1.8347398042678833f, -2.1748902797698975f, 1.809401512145996f,
                -0.1372460126876831f, -7.508537769317627f, -13.361944198608398f, -3.2360527515411377f,
                -0.9351927638053894f, -2.6911509037017822f, -10.754254341125488f, 3.3021183013916016f}, latents);
    }

    private static Scheduler euler(String overrides) {
        return Scheduler.fromConfig("EulerDiscreteScheduler", config(PNDMSchedulerTest.SD15, overrides));
    }

    /**
     * EulerDiscreteScheduler's interpolation_type "log_linear" (sigmas log-spaced, one more than the timesteps), run
     * as {@link ReferenceRun}.
     */
    @Test
    void eulerLogLinearSigmas() {
        check(euler("{\"interpolation_type\": \"log_linear\"}"), 10,
                floats(999.0f, 888.0f, 777.0f, 666.0f, 555.0f, 444.0f,
                333.0f, 222.0f, 111.0f, 0.0f),
                new float[]{-6.3098264f, -7.4687576f, -1.9225236f, 6.1421614f,
                9.059733f, 13.14963f, 1.9664204f, -24.167295f,
                5.539691f, -21.170612f, 19.897726f, 12.236815f,
                -2.2408679f, 12.176474f, 17.951616f, -4.161547f},
                null);
    }

    /**
     * EulerDiscreteScheduler's timestep_type "continuous" with v-prediction (timesteps 0.25 * log(sigma)), also with
     * Karras sigmas and log-linear sigmas, run as {@link ReferenceRun}.
     */
    @Test
    void eulerContinuousTimesteps() {
        check(euler("{\"prediction_type\": \"v_prediction\", \"timestep_type\": \"continuous\"}"), 10,
                floats(0.670506f, 0.51480603f, 0.38201225f, 0.267751f, 0.16697815f, 0.07408517f,
                -0.017509518f, -0.11750999f, -0.24947113f, -0.88367474f),
                new float[]{-1.3000866f, -0.30270475f, -0.614231f, -0.5418332f,
                0.6188025f, 1.2896738f, -0.7684908f, -1.7961456f,
                0.054049075f, -0.59881884f, 0.7074927f, -0.10747309f,
                -0.111330196f, 0.8960781f, 0.88319653f, 0.3816061f},
                null);
        check(euler("{\"prediction_type\": \"v_prediction\", \"timestep_type\": \"continuous\","
                        + " \"use_karras_sigmas\": true, \"timestep_spacing\": \"trailing\"}"), 8,
                floats(0.670506f, 0.5668957f, 0.4567629f, 0.33923084f, 0.21323322f, 0.07745519f,
                -0.06975034f, -0.2304852f),
                new float[]{-1.224429f, -0.84364104f, -0.6318532f, -0.27150577f,
                0.53766274f, 0.7320467f, -0.6983855f, -2.01677f,
                -0.9782978f, -1.0734901f, 0.9406804f, -0.2656132f,
                1.338731f, 0.9009766f, 1.4188037f, -0.2314963f},
                null);
        check(euler("{\"prediction_type\": \"v_prediction\", \"timestep_type\": \"continuous\","
                        + " \"interpolation_type\": \"log_linear\"}"), 6,
                floats(0.670506f, 0.41147587f, 0.15244573f, -0.10658434f, -0.36561447f, -0.62464464f,
                -0.88367474f),
                new float[]{-1.0521411f, -0.575064f, -0.29865506f, 0.39162916f,
                0.16909884f, 0.41192627f, -0.67402333f, -2.176514f,
                0.095630765f, -1.3704224f, 1.2328207f, 0.9360361f,
                -1.2782819f, 1.8220036f, 1.4434661f, 0.39890411f},
                null);
    }
}
