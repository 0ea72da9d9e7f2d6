namespace MobileBert.Cli;

public static class CliApp
{
    public static int Run(string[] args)
    {
        Console.Error.WriteLine("mobilebert: commands are being built (encode, tokenize, bench).");
        return 2;
    }
}
