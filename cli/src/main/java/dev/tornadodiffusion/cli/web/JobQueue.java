package dev.tornadodiffusion.cli.web;

import dev.tornadodiffusion.diffusion.image.Png;
import dev.tornadodiffusion.diffusion.pipelines.GenerationRequest;
import dev.tornadodiffusion.diffusion.pipelines.GenerationResult;
import dev.tornadodiffusion.diffusion.pipelines.Pipeline;
import dev.tornadodiffusion.diffusion.pipelines.Progress;
import dev.tornadodiffusion.cli.MovingEta;
import dev.tornadodiffusion.tensor.Tensor;

import java.util.ArrayDeque;
import java.util.Deque;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CancellationException;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The server's jobs: one worker runs them in order (a generation already uses every core) behind a queue of at most
 * {@code capacity} waiting jobs; a full queue refuses new ones. A job stops at its next step when it is cancelled
 * (by its client, or because the client went away) or when it has run longer than {@code timeLimitSeconds}.
 * The last {@value #KEEP} finished jobs stay for their images.
 */
public final class JobQueue implements AutoCloseable {
    static final int KEEP = 64;

    /** Thrown by {@link #submit} when {@code capacity} jobs already wait. */
    public static final class QueueFullException extends Exception {
        QueueFullException(int capacity) { super("the queue is full (" + capacity + " jobs waiting); try again later"); }
    }

    private final Pipeline pipeline;
    private final LatentPreview preview;
    private final int capacity;
    private final double timeLimitSeconds;
    private final Deque<Job> waiting = new ArrayDeque<>();
    private final Map<Long, Job> jobs = new LinkedHashMap<>();
    private final AtomicLong ids = new AtomicLong();
    private final Thread worker;
    private Job running;
    private boolean closed;

    public JobQueue(Pipeline pipeline, LatentPreview preview, int capacity, double timeLimitSeconds) {
        this.pipeline = pipeline;
        this.preview = preview;
        this.capacity = capacity;
        this.timeLimitSeconds = timeLimitSeconds;
        this.worker = Thread.ofPlatform().name("generate").daemon().start(this::work);
    }

    public int capacity() { return capacity; }

    public double timeLimitSeconds() { return timeLimitSeconds; }

    public synchronized Job submit(List<GenerationRequest> requests) throws QueueFullException {
        if (waiting.size() >= capacity) throw new QueueFullException(capacity);
        Job job = new Job(ids.incrementAndGet(), requests);
        waiting.addLast(job);
        jobs.put(job.id, job);
        while (jobs.size() > KEEP + capacity + 1) jobs.remove(jobs.keySet().iterator().next());
        notifyAll();
        return job;
    }

    public synchronized Job find(long id) { return jobs.get(id); }

    /** The running job, else the last one that ran (A1111's progress reports the last job once idle); null before any. */
    public synchronized Job current() { return running; }

    /** 0 while running, 1 for the next to run, ...; -1 once finished. */
    public synchronized int position(Job job) {
        if (job == running && !job.snapshot().finished()) return 0;
        int i = 1;
        for (Job j : waiting) {
            if (j == job) return i;
            i++;
        }
        return -1;
    }

    /** Stops a job: a waiting one is dropped at once, a running one at its next step. */
    public void cancel(Job job, String reason) {
        job.requestCancel(reason);
        boolean dropped;
        synchronized (this) { dropped = waiting.remove(job); }
        if (dropped) job.cancelled();
    }

    /** Counts a client that watches the job; when the last one goes away before the job finished, the job is cancelled. */
    public synchronized void watch(Job job) { job.watchers++; }

    public void unwatch(Job job, String reason) {
        boolean last;
        synchronized (this) { last = --job.watchers == 0; }
        if (last && !job.snapshot().finished()) cancel(job, reason);
    }

    private void work() {
        while (true) {
            Job job;
            synchronized (this) {
                while (waiting.isEmpty() && !closed) {
                    try { wait(); } catch (InterruptedException e) { return; }
                }
                if (closed) return;
                job = waiting.removeFirst();
                running = job;
            }
            run(job);
        }
    }

    private void run(Job job) {
        job.startedNanos = System.nanoTime();
        job.running();
        try {
            int n = job.requests.size();
            for (int i = 0; i < n; i++) {
                GenerationRequest r = job.requests.get(i);
                GenerationResult result = pipeline.generate(r, new JobProgress(job, i, n));
                String parameters = result.parameters().get("parameters");
                for (int b = 0; b < result.images().dim(0); b++)
                    job.addImage(new Job.Image(Png.encode(result.image(b), result.parameters()), parameters, r.seed()));
            }
            job.done();
        } catch (CancellationException e) {
            if (job.cancelReason() != null) job.cancelled();
            else job.failed(503, String.format("the job ran past the server's time limit of %.0f s (serve --time-limit)", timeLimitSeconds));
        } catch (IllegalArgumentException e) {
            job.failed(400, e.getMessage());
        } catch (OutOfMemoryError e) {
            job.failed(507, "the server ran out of memory for this request; try a smaller size or batch");
        } catch (Exception | Error e) {
            // the worker lives on whatever one job hit
            job.failed(500, "generation failed: " + e);
        }
    }

    @Override
    public void close() {
        synchronized (this) {
            closed = true;
            for (Job j : waiting) { j.requestCancel("the server is shutting down"); j.cancelled(); }
            waiting.clear();
            if (running != null) running.requestCancel("the server is shutting down");
            notifyAll();
        }
    }

    /** Feeds steps, ETA and previews into the job; stops it (Progress.cancelled) when cancelled or over its time. */
    private final class JobProgress implements Progress {
        private final Job job;
        private final int iteration, iterations;
        private final MovingEta eta = new MovingEta();

        JobProgress(Job job, int iteration, int iterations) {
            this.job = job;
            this.iteration = iteration;
            this.iterations = iterations;
        }

        /** Asked by the denoise loop before every step: cancelled by a client, or over the time limit. */
        @Override
        public boolean cancelled() {
            return job.cancelReason() != null || (timeLimitSeconds > 0 && (System.nanoTime() - job.startedNanos) / 1e9 > timeLimitSeconds);
        }

        /** Stages outside the loop (text encoder, VAE) stop the same way. */
        @Override
        public void stage(String name) {
            if (cancelled()) throw new CancellationException("cancelled before " + name);
        }

        @Override
        public void step(int step, int total, double secondsPerStep, Tensor latents) {
            int done = iteration * total + step, all = iterations * total;
            job.progress(done, all, eta.next(secondsPerStep, all - done), preview.png(latents));
        }
    }
}
