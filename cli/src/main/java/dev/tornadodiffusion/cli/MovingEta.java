package dev.tornadodiffusion.cli;

/** Time left from the mean of the last {@value #WINDOW} step times: steady, yet it follows a change of speed within a few steps. */
public final class MovingEta {
    static final int WINDOW = 5;
    private final double[] recent = new double[WINDOW];
    private int seen;

    /** Records one step's seconds; returns the seconds the {@code remaining} steps should take. */
    public double next(double secondsPerStep, int remaining) {
        recent[seen++ % WINDOW] = secondsPerStep;
        int n = Math.min(seen, WINDOW);
        double mean = 0;
        for (int i = 0; i < n; i++) mean += recent[i];
        return remaining * mean / n;
    }
}
