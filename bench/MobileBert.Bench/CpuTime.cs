using System.Runtime.InteropServices;

namespace MobileBert.Bench;

/// <summary>CPU time consumed by this process (all threads), ns resolution on Linux (clock_gettime); elsewhere
/// Process.TotalProcessorTime. On a shared machine CPU time is a steadier measure of work than wall time.</summary>
static partial class CpuTime
{
    [StructLayout(LayoutKind.Sequential)]
    struct Timespec { public long Sec, Nsec; }

    [LibraryImport("libc", EntryPoint = "clock_gettime")]
    private static partial int ClockGetTime(int clock, out Timespec ts);

    /// <summary>CPU time of the calling thread in ns (Linux; 0 elsewhere).</summary>
    public static long ThreadNanoseconds() =>
        OperatingSystem.IsLinux() && ClockGetTime(3 /* CLOCK_THREAD_CPUTIME_ID */, out var ts) == 0 ? ts.Sec * 1_000_000_000 + ts.Nsec : 0;

    public static double ProcessSeconds()
    {
        if (OperatingSystem.IsLinux() && ClockGetTime(2 /* CLOCK_PROCESS_CPUTIME_ID */, out var ts) == 0) return ts.Sec + ts.Nsec * 1e-9;
        return System.Diagnostics.Process.GetCurrentProcess().TotalProcessorTime.TotalSeconds;
    }
}
