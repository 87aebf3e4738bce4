package dev.backprop4j.spark;

import org.apache.spark.sql.SparkSession;

/** A local Spark session for tests and benchmarks: on the loopback interface, no UI, two shuffle partitions. */
public final class LocalSpark {
    private LocalSpark() {
    }

    /** A session of {@code master} ("local[2]", "local[2,4]": 4 task attempts) named {@code app}. */
    public static SparkSession start(String master, String app) {
        SparkSession spark = SparkSession.builder().master(master).appName(app)
                .config("spark.ui.enabled", "false").config("spark.driver.host", "127.0.0.1")
                .config("spark.driver.bindAddress", "127.0.0.1").config("spark.sql.shuffle.partitions", "2")
                .getOrCreate();
        spark.sparkContext().setLogLevel("WARN");
        return spark;
    }
}
