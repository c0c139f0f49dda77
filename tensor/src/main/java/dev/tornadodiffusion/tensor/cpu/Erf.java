package dev.tornadodiffusion.tensor.cpu;

/** erf(x) to double precision (W. J. Cody's rational approximations, as in most libm): the scalar GELU and its derivative in double. */
public final class Erf {
    private Erf() {}

    public static double erf(double x) {
        double ax = Math.abs(x);
        if (ax < 0.5) {
            double t = x * x;
            double top = (((0.1857777061846032 * t + 3.161123743870566) * t + 113.86415415105016) * t + 377.485237685302) * t + 3209.3775891384694;
            double bot = (((t + 23.601290952344122) * t + 244.02463793444417) * t + 1282.6165260773723) * t + 2844.2368334391704;
            return x * top / bot;
        }
        double r = erfc(ax);
        return x < 0 ? r - 1 : 1 - r;
    }

    /** erfc for x >= 0.5. */
    private static double erfc(double x) {
        double r;
        if (x < 4) {
            double top = (((((((2.1531153547440383e-8 * x + 0.5641884969886701) * x + 8.883149794388377) * x + 66.11919063714163) * x
                    + 298.6351381974001) * x + 881.952221241769) * x + 1712.0476126340707) * x + 2051.0783778260716) * x + 1230.3393547979972;
            double bot = (((((((x + 15.744926110709835) * x + 117.6939508913125) * x + 537.1811018620099) * x + 1621.3895745666903) * x
                    + 3290.799235733460) * x + 4362.619090143247) * x + 3439.3676741437216) * x + 1230.3393548037495;
            r = top / bot;
        } else {
            double z = 1 / (x * x);
            double top = ((((0.016315387137302097 * z + 0.30532663496123236) * z + 0.36034489994980445) * z + 0.12578172611122926) * z
                    + 0.016083785148742275) * z + 6.587491615298378e-4;
            double bot = ((((z + 2.568520192289822) * z + 1.8729528499234604) * z + 0.5279051029514285) * z + 0.06051834131244132) * z
                    + 0.0023352049762686918;
            r = (1 / Math.sqrt(Math.PI) - z * top / bot) / x;
        }
        double xs = Math.floor(x * 16) / 16;
        return Math.exp(-xs * xs) * Math.exp(-(x - xs) * (x + xs)) * r;
    }
}
