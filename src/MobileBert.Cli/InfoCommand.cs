using System.CommandLine;
using MobileBert.Kernels;

namespace MobileBert.Cli;

/// <summary>`mobilebert info`: version, runtime and the SIMD paths the kernels take on this machine.</summary>
public static class InfoCommand
{
    public static Command Create()
    {
        var cmd = new Command("info", "Print the version, the runtime and the SIMD paths the kernels take on this machine (ISA level).");
        cmd.SetAction(_ =>
        {
            Console.WriteLine($"mobilebert {typeof(InfoCommand).Assembly.GetName().Version}, " +
                $".NET {Environment.Version}, {Environment.ProcessorCount} logical cores");
            Console.WriteLine($"simd: {SimdSupport.Describe()}");
            return 0;
        });
        return cmd;
    }
}
