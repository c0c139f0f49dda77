package dev.tornadodiffusion.cli.web;

import dev.tornadodiffusion.diffusion.pipelines.GenerationRequest;

import java.util.ArrayList;
import java.util.List;

/**
 * One queued generation: {@code requests} run one after another (A1111's n_iter; each is one batch), its state,
 * progress and preview change as it runs. Every change bumps {@link #version} and wakes {@link #awaitChange} waiters,
 * so a progress stream sends each step without polling.
 */
public final class Job {
    public enum State { QUEUED, RUNNING, DONE, FAILED, CANCELLED }

    /** One finished image: its PNG (with the parameters text chunk), that text, and the seed of its batch. */
    public record Image(byte[] png, String parameters, long seed) {}

    final long id;
    final List<GenerationRequest> requests;
    final long submittedNanos = System.nanoTime();
    private final List<Image> images = new ArrayList<>();
    private State state = State.QUEUED;
    private int step, totalSteps;
    private double etaSeconds = Double.NaN;
    private byte[] preview;
    private String error;
    private int errorStatus;
    private long version;
    private volatile String cancelReason;
    long startedNanos;
    int watchers;

    Job(long id, List<GenerationRequest> requests) {
        this.id = id;
        this.requests = List.copyOf(requests);
    }

    public long id() { return id; }

    public List<GenerationRequest> requests() { return requests; }

    /** A consistent copy of what the job shows now. */
    public synchronized Snapshot snapshot() {
        return new Snapshot(state, step, totalSteps, etaSeconds, preview, List.copyOf(images), error, errorStatus, version);
    }

    public record Snapshot(State state, int step, int totalSteps, double etaSeconds, byte[] preview, List<Image> images,
                           String error, int errorStatus, long version) {
        public boolean finished() { return state == State.DONE || state == State.FAILED || state == State.CANCELLED; }

        /** Fraction done in [0, 1]. */
        public double fraction() { return state == State.DONE ? 1 : totalSteps == 0 ? 0 : (double) step / totalSteps; }
    }

    /** Waits until the job changes after {@code seen} (or {@code millis} pass); returns the current snapshot. */
    public synchronized Snapshot awaitChange(long seen, long millis) throws InterruptedException {
        long end = System.currentTimeMillis() + millis;
        while (version == seen && state != State.DONE && state != State.FAILED && state != State.CANCELLED) {
            long left = end - System.currentTimeMillis();
            if (left <= 0) break;
            wait(left);
        }
        return snapshot();
    }

    /** Asks the job to stop: a queued job never starts, a running one stops at its next step. */
    void requestCancel(String reason) {
        if (cancelReason == null) cancelReason = reason;
    }

    String cancelReason() { return cancelReason; }

    synchronized void running() { state = State.RUNNING; changed(); }

    synchronized void progress(int step, int totalSteps, double etaSeconds, byte[] preview) {
        this.step = step;
        this.totalSteps = totalSteps;
        this.etaSeconds = etaSeconds;
        if (preview != null) this.preview = preview;
        changed();
    }

    synchronized void addImage(Image image) { images.add(image); changed(); }

    synchronized void done() { state = State.DONE; step = totalSteps; etaSeconds = 0; changed(); }

    synchronized void cancelled() { state = State.CANCELLED; error = cancelReason; errorStatus = 499; changed(); }

    synchronized void failed(int status, String message) { state = State.FAILED; error = message; errorStatus = status; changed(); }

    private void changed() {
        version++;
        notifyAll();
    }
}
