package dev.tornadodiffusion.cli.web;

import dev.tornadodiffusion.diffusion.pipelines.GenerationRequest;
import dev.tornadodiffusion.diffusion.pipelines.LoadOptions;
import dev.tornadodiffusion.diffusion.pipelines.Pipeline;
import dev.tornadodiffusion.tensor.Backends;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The job queue on its own: the time limit, n_iter seeds and progress, a closed queue. */
class JobQueueTest {
    static Pipeline pipeline;

    @BeforeAll
    static void load() throws Exception { pipeline = Pipeline.load(TinyServer.TINY, Backends.cpu(), LoadOptions.DEFAULT); }

    @AfterAll
    static void close() { pipeline.close(); }

    static GenerationRequest request(int steps, long seed) {
        return GenerationRequest.builder("x").steps(steps).width(16).height(16).seed(seed).build();
    }

    @Test
    void aJobOverItsTimeLimitStopsWithAReason() throws Exception {
        try (JobQueue q = new JobQueue(pipeline, LatentPreview.forModel(TinyServer.TINY), 1, 0.5)) {
            Job job = q.submit(List.of(request(900, 1)));
            Job.Snapshot s = WebServer.await(job);
            assertEquals(Job.State.FAILED, s.state());
            assertEquals(503, s.errorStatus());
            assertTrue(s.error().contains("time limit of 0.5 s") || s.error().contains("time limit of 1 s"), s.error());
            assertTrue(s.step() < 900);
        }
    }

    @Test
    void iterationsRunInOrderAndCountStepsAcrossThem() throws Exception {
        try (JobQueue q = new JobQueue(pipeline, LatentPreview.forModel(TinyServer.TINY), 1, 0)) {
            Job job = q.submit(List.of(request(3, 10), request(3, 11)));
            Job.Snapshot s = WebServer.await(job);
            assertEquals(Job.State.DONE, s.state(), s.error());
            assertEquals(6, s.totalSteps());
            assertEquals(6, s.step());
            assertEquals(List.of(10L, 11L), s.images().stream().map(Job.Image::seed).toList());
            assertTrue(s.images().get(1).parameters().contains("Seed: 11"));
            assertEquals(-1, q.position(job));
        }
    }

    @Test
    void theWorkerSurvivesAJobThatHitsAnError() throws Exception {
        Pipeline failingFirst = new Pipeline() {
            int calls;

            @Override
            public dev.tornadodiffusion.diffusion.pipelines.GenerationResult generate(GenerationRequest r, dev.tornadodiffusion.diffusion.pipelines.Progress p) {
                if (calls++ == 0) throw new StackOverflowError();
                return new dev.tornadodiffusion.diffusion.pipelines.GenerationResult(dev.tornadodiffusion.tensor.Tensor.zeros(1, 8, 8, 3),
                        dev.tornadodiffusion.tensor.Tensor.zeros(1, 4, 1, 1), java.util.Map.of("parameters", "x\nSteps: 1"));
            }

            @Override public String description() { return "fake"; }
            @Override public int defaultWidth() { return 8; }
            @Override public int defaultHeight() { return 8; }
            @Override public void close() {}
        };
        try (JobQueue q = new JobQueue(failingFirst, LatentPreview.forModel(TinyServer.TINY), 2, 0)) {
            Job.Snapshot first = WebServer.await(q.submit(List.of(request(1, 1))));
            assertEquals(500, first.errorStatus());
            assertTrue(first.error().contains("StackOverflowError"), first.error());
            assertEquals(Job.State.DONE, WebServer.await(q.submit(List.of(request(1, 2)))).state());
        }
    }

    @Test
    void aClosedQueueCancelsWhatWaits() throws Exception {
        JobQueue q = new JobQueue(pipeline, LatentPreview.forModel(TinyServer.TINY), 2, 0);
        Job running = q.submit(List.of(request(900, 1)));
        Job waiting = q.submit(List.of(request(2, 1)));
        assertThrows(JobQueue.QueueFullException.class, () -> { q.submit(List.of(request(2, 1))); q.submit(List.of(request(2, 1))); });
        q.close();
        assertEquals(Job.State.CANCELLED, WebServer.await(waiting).state());
        assertEquals(Job.State.CANCELLED, WebServer.await(running).state());
    }
}
