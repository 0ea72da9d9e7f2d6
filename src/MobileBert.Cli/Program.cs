namespace MobileBert.Cli;

static class Program
{
    static int Main(string[] args) => CliApp.Run(args);
}
