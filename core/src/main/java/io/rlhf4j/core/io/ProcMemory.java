package io.rlhf4j.core.io;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Memory figures Linux keeps under {@code /proc}, in bytes; 0 where they cannot be read. */
public final class ProcMemory {

    private ProcMemory() {}

    /** {@code MemAvailable} of {@code /proc/meminfo}: what the machine can still give without swapping. */
    public static long availableBytes() {
        return kibField(Path.of("/proc/meminfo"), "MemAvailable:") * 1024;
    }

    /** {@code VmRSS} of a process: its resident set. */
    public static long residentBytes(long pid) {
        return kibField(Path.of("/proc", Long.toString(pid), "status"), "VmRSS:") * 1024;
    }

    /** {@code VmHWM} of this process: its peak resident set since it started. */
    public static long peakResidentBytes() {
        return kibField(Path.of("/proc/self/status"), "VmHWM:") * 1024;
    }

    private static long kibField(Path file, String field) {
        try {
            for (String line : Files.readAllLines(file)) {
                if (line.startsWith(field)) {
                    return Long.parseLong(line.replaceAll("[^0-9]", ""));
                }
            }
        } catch (IOException | NumberFormatException e) {
            return 0;
        }
        return 0;
    }
}
