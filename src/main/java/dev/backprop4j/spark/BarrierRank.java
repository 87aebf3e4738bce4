package dev.backprop4j.spark;

import dev.backprop4j.backend.cuda.Cuda;
import dev.backprop4j.core.Device;
import dev.backprop4j.distributed.RingCollective;
import org.apache.spark.BarrierTaskContext;
import org.apache.spark.SparkEnv;
import org.apache.spark.resource.ResourceInformation;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * What every task of a training barrier stage does before it trains: meets the other tasks through the barrier's
 * {@code allGather} (each task's ring address), connects the {@link RingCollective} between them, and takes its
 * device ({@link #device}). The task's partition id is its rank.
 */
final class BarrierRank {
    private BarrierRank() {
    }

    /** The training a rank runs once it has its ring and device. */
    @FunctionalInterface
    interface Body<T> {
        T run(RingCollective ring, Device device, int stageAttempt) throws IOException;
    }

    /** Runs {@code body} as this barrier task's rank; an I/O failure is rethrown naming the rank. */
    static <T> T run(SparkTrainOptions.Job job, Body<T> body) {
        BarrierTaskContext ctx = BarrierTaskContext.get();
        int rank = ctx.partitionId();
        try {
            ResourceInformation gpu = ctx.resourcesJMap().get("gpu");
            Device device = device(job.device(), gpu == null ? null : gpu.addresses(),
                    SparkEnv.get().conf().get("spark.master", "").startsWith("local"), rank);
            String host = ctx.getTaskInfos()[rank].address().replaceFirst(":\\d+$", "");
            ServerSocketChannel listener = RingCollective.listen(InetAddress.getByName(host));
            List<InetSocketAddress> addresses = new ArrayList<>();
            try {
                int port = ((InetSocketAddress) listener.getLocalAddress()).getPort();
                for (String a : ctx.allGather(host + ":" + port)) {
                    int colon = a.lastIndexOf(':');
                    addresses.add(new InetSocketAddress(a.substring(0, colon),
                            Integer.parseInt(a.substring(colon + 1))));
                }
            } catch (RuntimeException | IOException e) {
                listener.close(); // the ring never took it over
                throw e;
            }
            try (RingCollective ring = RingCollective.connect(rank, addresses, listener,
                    Duration.ofSeconds(job.timeoutSeconds()))) {
                return body.run(ring, device, ctx.stageAttemptNumber());
            }
        } catch (IOException e) {
            throw new UncheckedIOException("rank " + rank + ": " + e.getMessage(), e);
        }
    }

    /** {@link #device(String, String[], boolean, int, int, boolean, String)} with this process's CUDA. */
    static Device device(String asked, String[] gpus, boolean local, int partition) {
        boolean cpu = asked.equals("cpu");
        return device(asked, gpus, local, partition, cpu ? 0 : Cuda.deviceCount(), !cpu && Cuda.isEmulated(),
                cpu ? null : Cuda.unavailableReason());
    }

    /**
     * The device of a task that asked for {@code asked} (cpu, cuda or auto): with Spark's GPU scheduling on, the
     * first of the {@code gpus} addresses Spark gave the task; without it, on one machine ({@code local}: local or
     * local-cluster mode, where the tasks share the machine's GPUs), GPU {@code partition} modulo the {@code devices}
     * CUDA finds; else the CPU. auto takes a GPU only when one is real (never the CUDA emulator, a test fixture) and
     * else the CPU; cuda fails, naming why, where it finds none.
     *
     * @param unavailable why CUDA cannot be used, or null
     */
    static Device device(String asked, String[] gpus, boolean local, int partition, int devices, boolean emulated,
                         String unavailable) {
        if (asked.equals("cpu")) {
            return Device.CPU;
        }
        boolean usable = unavailable == null && devices > 0 && (asked.equals("cuda") || !emulated);
        boolean given = gpus != null && gpus.length > 0;
        if (usable && given) {
            return Device.cuda(Integer.parseInt(gpus[0].trim()));
        }
        if (usable && local) {
            return Device.cuda(partition % devices);
        }
        if (asked.equals("cuda")) {
            throw new IllegalStateException("device cuda: " + (unavailable != null ? "CUDA unavailable: " + unavailable
                    : "Spark gave this task no GPU (set spark.task.resource.gpu.amount and "
                    + "spark.executor.resource.gpu.amount, with a discovery script)"));
        }
        return Device.CPU;
    }
}
