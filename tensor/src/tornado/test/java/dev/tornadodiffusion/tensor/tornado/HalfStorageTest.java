package dev.tornadodiffusion.tensor.tornado;

import dev.tornadodiffusion.tensor.Backends;
import dev.tornadodiffusion.tensor.DType;
import dev.tornadodiffusion.tensor.Tensor;
import org.junit.jupiter.api.Test;
import uk.ac.manchester.tornado.api.TornadoExecutionPlan;
import uk.ac.manchester.tornado.api.enums.TornadoVMBackendType;
import uk.ac.manchester.tornado.api.types.arrays.FloatArray;
import uk.ac.manchester.tornado.api.types.arrays.HalfFloatArray;
import uk.ac.manchester.tornado.api.types.arrays.ShortArray;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * fp16 weight storage, host side: which devices get it, and how weights are packed into HalfFloatArrays. The fp16
 * kernels themselves (Gemm.gemmHalf, Conv2d.convHalf) need a device with fp16 and run only there.
 */
class HalfStorageTest {
    @Test
    void fp16IsEveryPtxDeviceAndOpenClDevicesThatListTheExtension() {
        assertTrue(TornadoDevices.fp16(TornadoVMBackendType.PTX, ""));
        assertTrue(TornadoDevices.fp16(TornadoVMBackendType.OPENCL, "cl_khr_byte_addressable_store cl_khr_fp16 cl_khr_fp64"));
        assertFalse(TornadoDevices.fp16(TornadoVMBackendType.OPENCL, "cl_khr_byte_addressable_store cl_khr_fp64"));
        assertFalse(TornadoDevices.fp16(TornadoVMBackendType.OPENCL, ""));
        assertFalse(TornadoDevices.fp16(TornadoVMBackendType.SPIRV, "cl_khr_fp16"));
    }

    @Test
    void theBackendReadsItsOpenClDevicesExtensions() {
        // the backend first: it sets tornado.properties' TornadoVM options, which TornadoVM reads once, when it starts
        TornadoBackend backend = (TornadoBackend) Backends.get("tornado");
        var device = TornadoExecutionPlan.DEFAULT_DEVICE;
        if (device.getTornadoVMBackend() == TornadoVMBackendType.OPENCL) {
            String ext = TornadoDevices.openclExtensions(device);
            assertTrue(ext.contains("cl_khr_"), "the driver's extension list was not read: '" + ext + "'");
            assertEquals(ext.contains("cl_khr_fp16"), backend.fp16);
        }
        if (!backend.fp16) assertFalse(backend.halfF32, "weights.fp16 without device fp16 must leave F32 weights F32");
    }

    @Test
    void f32WeightsRoundToTheNearestHalfTiesToEven() {
        float e = (float) Math.scalb(1.0, -11);   // half an fp16 ulp at 1
        float[] v = {1f, -2.5f, 65504f, 1f + e, 1f + 3 * e, (float) Math.scalb(1.0, -24), 1e5f, 0.1f};
        short[] expected = {0x3c00, (short) 0xc100, 0x7bff, 0x3c00, 0x3c02, 0x0001, 0x7c00, 0x2e66};
        Tensor w = Tensor.of(v, 2, 4);
        Leaf leaf = new Leaf(Ref.Storage.of(w), true);
        leaf.allocate(w, true);
        HalfFloatArray h = assertInstanceOf(HalfFloatArray.class, leaf.buffer);
        assertArrayEquals(expected, h.toShortArray());
        assertEquals(0.0999755859375f, h.get(7).getFloat32(), "0.1 as fp16");
        assertTrue(leaf.holds(w));
        w.segment().setAtIndex(java.lang.foreign.ValueLayout.JAVA_FLOAT_UNALIGNED, 7, 0.2f);
        assertFalse(leaf.holds(w), "a changed weight no longer matches its fp16 copy");
    }

    @Test
    void f16WeightsAreStoredBitForBitAsHalvesOrAsRawWords() {
        Tensor w = Tensor.zeros(DType.F16, 3, 2);
        float[] v = {0.5f, -0.333f, 1024.5f, 6.1e-5f, -0f, 3.14159f};
        for (int i = 0; i < v.length; i++) DType.F16.write(w.segment(), i, v[i]);
        short[] bits = new short[v.length];
        for (int i = 0; i < v.length; i++) bits[i] = w.segment().getAtIndex(java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED, i);
        Leaf half = new Leaf(Ref.Storage.of(w), true), raw = new Leaf(Ref.Storage.of(w), true);
        half.allocate(w, true);
        raw.allocate(w, false);
        assertArrayEquals(bits, ((HalfFloatArray) half.buffer).toShortArray());
        ShortArray r = assertInstanceOf(ShortArray.class, raw.buffer);
        for (int i = 0; i < v.length; i++) assertEquals(bits[i], r.get(i));
    }

    @Test
    void onlySixteenBitWeightsTakeHalfStorage() {
        Tensor f32 = Tensor.of(new float[]{1, 2, 3, 4}, 2, 2), f16 = Tensor.zeros(DType.F16, 2, 2), bf16 = Tensor.zeros(DType.BF16, 2, 2);
        assertFalse(Ref.weight(f32, false).raw16, "F32 stays F32 unless weights.fp16 is on");
        assertTrue(Ref.weight(f32, true).raw16);
        assertTrue(Ref.weight(f16, false).raw16);
        assertTrue(Ref.weight(bf16, true).raw16);
        Leaf data = new Leaf(Ref.Storage.of(f32), false);
        assertThrows(IllegalStateException.class, () -> data.allocate(f32, true));
        Leaf perCall = new Leaf(Ref.Storage.of(f32), true);
        perCall.allocate(f32, false);
        assertInstanceOf(FloatArray.class, perCall.buffer, "an F32 weight that is not stored as fp16 stays F32");
    }
}
