package dev.tornadodiffusion.tensor.tornado;

/**
 * Work-group geometry of the kernels on one device, from tornado.properties ({@link TornadoSettings}).
 *
 * @param tile        GEMM and convolution block edge (output rows and columns per work-group)
 * @param micro       results per thread along each block edge (work-group = (tile/micro)^2 threads)
 * @param ktile       depth of the A and B tiles staged in local memory
 * @param elementwise work-group size of element-wise kernels
 * @param reduce      work-group size of the norm and softmax reductions (a power of two)
 * @param reduceGroups GroupNorm work-groups to aim for at least (each normalised group is split to get there)
 * @param queries     attention queries per work-group
 * @param keys        attention keys per local-memory tile
 */
record Launch(int tile, int micro, int ktile, int elementwise, int reduce, int reduceGroups, int queries, int keys) {
    Launch {
        if (tile % micro != 0) throw new IllegalArgumentException("tornado.properties: gemm.tile " + tile + " is not a multiple of gemm.micro " + micro);
        if (Integer.bitCount(reduce) != 1 || reduce < 2) throw new IllegalArgumentException("tornado.properties: reduce.local " + reduce + " is not a power of two of at least 2");
        for (int v : new int[]{tile, micro, ktile, elementwise, reduceGroups, queries, keys})
            if (v <= 0) throw new IllegalArgumentException("tornado.properties: launch sizes must be positive: " + this);
    }
}
